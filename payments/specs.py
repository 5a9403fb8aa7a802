"""Which operation classes serve a payment: the card's, the wallet's, konbini's or the bank transfer's, by the
payment's method."""

from __future__ import annotations

from django.utils.translation import gettext as _

from payments.bank_transfer import BANK_SPECS
from payments.errors import InvalidTransition
from payments.konbini_operations import KONBINI_SPECS
from payments.operations import SPECS as CARD_SPECS
from payments.operations import CardOperation
from payments.wallet_operations import WALLET_SPECS


def spec_for(payment, kind: str) -> CardOperation:
    table = (KONBINI_SPECS if payment.is_konbini else WALLET_SPECS if payment.is_wallet
             else BANK_SPECS if payment.is_bank_transfer else CARD_SPECS)
    try:
        return table[kind]
    except KeyError:
        raise InvalidTransition(_("This operation does not exist for this payment method.")) from None
