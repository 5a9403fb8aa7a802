"""決済方法の変更 (SPEC 3.2): keep the order, cancel the live wallet transaction ourselves, start a new payment.

The old payment is cancelled through the ledger like any cancel (at the PG when it still holds or may
still take money), then the order's payment is replaced and the buyer gets a checkout link again.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.cancellation import CANCEL_ORDER
from orders.models import Fulfilment, Order, OrderEvent
from payments import services as payment_services
from payments import wallet_rules
from payments.actors import Actor
from payments.errors import ChangedMeanwhile, InvalidTransition, PaymentBusy
from payments.ledger import lock_payment
from payments.models import Method, OperationKind, OperationState, Payment, Status
from payments.wallet_facts import facts_for
from payments.wallet_operations import PG_LIVE
from payments.wallet_rules import WalletOperation
from shops.roles import Perm

NEW_METHODS = (Method.CARD, Method.RECRUIT)


def change_payment_method(order: Order, *, method: str, by: Actor) -> Payment:
    by.require(order.shop_id, Perm.CANCEL)
    if method not in NEW_METHODS:
        raise InvalidTransition(_("Unknown payment method."))
    payment = order.payment
    refused_card = payment is not None and payment.method == Method.CARD and payment.status == Status.FAILED
    if payment is None or not (payment.is_wallet or refused_card):
        raise InvalidTransition(_("The payment method can be changed here only for a Recruit easy pay order."))
    if refused_card:
        # The authorization was refused: GMO holds nothing, so there is nothing to cancel first.
        return _replace(order, payment, method, by)
    payment_services.ask_pg_before(WalletOperation.CHANGE_PAYMENT_METHOD, payment, by=by, changed_message=_(
        "The PG shows this payment as %(word)s; it is now “%(status)s”. Look at it again before changing the "
        "payment method."))
    if payment.operations.unresolved().exists():
        raise PaymentBusy()
    if payment.status == Status.CANCELLED and payment.gateway_status in PG_LIVE:
        # e.g. cancelled with a manual refund after the PG's period: the PG still holds the capture.
        raise InvalidTransition(_("The PG still shows this payment as %(word)s. The payment method can be changed "
                                  "only when nothing is live at the PG.") % {"word": payment.gateway_status})
    verdict = wallet_rules.availability(WalletOperation.CHANGE_PAYMENT_METHOD, facts_for(payment, timezone.now()))
    if not verdict.allowed:
        raise InvalidTransition(verdict.reason)
    if method == Method.RECRUIT and not payment.shop.wallet_checkout_enabled:
        raise InvalidTransition(_("This shop no longer accepts new payments with Recruit easy pay."))
    if payment.status != Status.CANCELLED:
        payment_services.cancel_payment(payment, by=by, reason=_("payment method change"))
    return _replace(order, payment, method, by)


def _replace(order: Order, payment: Payment, method: str, by: Actor) -> Payment:
    with transaction.atomic():
        old = lock_payment(payment.pk)
        if old.replaced_by_id:
            raise InvalidTransition(_("The payment method of this order was already changed."))
        if old.status not in (Status.CANCELLED, Status.FAILED):
            raise ChangedMeanwhile()
        # An order cancelled alone from a cart (its part refunded by an amount decrease) stays with the old
        # payment and is not charged again; the orders the payment's own cancel closed are kept (SPEC 3.2).
        alone = {pk for pk in old.operations.filter(kind=OperationKind.CHANGE_AMOUNT, state=OperationState.SUCCEEDED)
                 .values_list(f"context__{CANCEL_ORDER}", flat=True) if pk}
        # (A refused card left its orders "not placed": they are exactly the ones to pay again.)
        orders = list(Order.objects.select_for_update().filter(payment_id=old.pk).exclude(pk__in=alone)
                      .order_by("pk"))
        if not orders:
            raise InvalidTransition(_("Every order of this payment is cancelled; there is nothing to pay."))
        amount = sum(o.amount_to_pay for o in orders)
        create = (payment_services.create_card_payment if method == Method.CARD
                  else payment_services.create_wallet_payment)
        new = create(old.shop, amount=amount, reference=old.reference, payer_name=old.payer_name,
                     payer_email=old.payer_email, actor=by)
        old.replaced_by = new
        old.save(update_fields=["replaced_by", "updated_at"])
        for o in orders:
            o.payment = new
            o.fulfilment_status = Fulfilment.PENDING_PAYMENT
            o.save(update_fields=["payment", "fulfilment_status"])
            OrderEvent.objects.create(order=o, actor_id=by.user_id, actor_label=by.label, message=(
                f"決済方法の変更: {old.get_method_display()} → {new.get_method_display()} "
                f"(¥{amount:,}, 新しい決済 {new.gateway_order_id}); お客様のお支払い待ち"))
    return new
