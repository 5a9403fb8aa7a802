"""Before a linked cancel: does GMO still hold the card transaction as we recorded it? (SPEC 4.3, seed 000)

Seed 000 warns "if you already changed the transaction at GMO, do not choose (GMO連携)": an operator may
have voided or changed it in GMO's own screen. Instead of trusting memory we ask SearchTrade first; when
GMO's state or amount differs from ours nothing is sent, and the operator is shown what GMO says and
offered a status check (which takes GMO's word) before deciding again.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gateways.base import TransactionNotFound
from payments.actors import Actor
from payments.errors import InvalidTransition
from payments.formatting import yen
from payments.gateway_factory import card_gateway_for
from payments.ledger import lock_payment
from payments.models import GMO_CARD_STATUS, Payment, PaymentOperation, Status, status_label
from payments.sync import SyncResult, close_check, failing_check, open_check


class GatewayChangedElsewhere(InvalidTransition):
    code = "gateway_changed"

    def __init__(self, message, *, gateway_status: str, gateway_amount: int | None):
        self.gateway_status = gateway_status
        self.gateway_amount = gateway_amount
        super().__init__(message)


def _agrees(payment: Payment, word: str, amount: int | None) -> bool:
    theirs = GMO_CARD_STATUS.get(word)
    if theirs is None:
        return False
    if (payment.status, theirs) == (Status.AUTH_EXPIRED, Status.AUTHORIZED):
        return amount == payment.amount  # GMO has no "expired" word: it still says AUTH
    return theirs == payment.status and amount == payment.amount


def ensure_gateway_unchanged(payment: Payment, *, by: Actor) -> None:
    """Raise GatewayChangedElsewhere (nothing sent, nothing changed here) unless GMO agrees with our record.

    The question is recorded as a status check in the payment's ledger; its answer is not applied: applying
    is the operator's decision (the offered status check), made after reading what GMO says.
    """
    with transaction.atomic():
        locked = lock_payment(payment.pk)
        check = open_check(locked, by, "SearchTrade")
    with failing_check(check):
        try:
            trade = card_gateway_for(locked.shop).search(locked.gateway_order_id)
        except TransactionNotFound:
            trade = None
    word, amount = (trade.status, trade.amount) if trade else ("NOT_FOUND", None)
    agrees = trade is not None and _agrees(locked, word, amount)
    with transaction.atomic():
        check = PaymentOperation.objects.select_for_update().get(pk=check.pk)
        check.resolution = ("compared before a linked cancel: GMO agrees" if agrees else
                            "compared before a linked cancel: GMO differs; nothing was sent")
        close_check(check, locked, SyncResult(payment=locked, gateway_status=word), timezone.now(),
                    trade.raw if trade else {})
    if agrees:
        return
    theirs = GMO_CARD_STATUS.get(word)
    raise GatewayChangedElsewhere(
        _("GMO already shows this transaction as %(word)s%(amount)s, but we hold it as “%(ours)s” %(our_amount)s: "
          "it was changed directly at GMO. Nothing was sent to GMO and nothing changed here. Run a status check "
          "to take GMO's state, then decide again.") % {
            "word": f"{status_label(payment.method, theirs)} ({word})" if theirs else word,
            "amount": f" {yen(amount)}" if amount is not None else "",
            "ours": payment.get_status_display(), "our_amount": yen(payment.amount)},
        gateway_status=word, gateway_amount=amount)
