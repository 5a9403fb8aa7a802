"""What the customer's order page shows and offers (SPEC 4.4 "customer-reason cancel").

In 入金待ち / 新規注文 / 配送遅延 the customer cancels alone and the refund follows at once; in 配送準備 the
customer can only send a cancel request that the shop approves or answers by asking for its withdrawal.
Everything the customer reads is their own side of a claim: state, reason, the seller memo and the refund,
never the internal memo.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from claims import services
from claims.customer_links import token_for
from claims.models import OPEN_STATES, Claim, ClaimKind, ClaimState, Party, Reason
from orders.models import Delivery, Fulfilment, Order
from payments.errors import PaymentError
from payments.formatting import yen

# The customer cancels alone in these delivery states; in PREPARING it is a request to the shop.
CANCEL_NOW = (Delivery.AWAITING_PAYMENT, Delivery.NEW, Delivery.DELAYED)
CANCEL_REQUEST = (Delivery.PREPARING,)
GONE = (Fulfilment.CANCELLED, Fulfilment.NOT_PLACED)


class CancelOption:
    NOW = "now"
    REQUEST = "request"


def open_claim(order: Order) -> Claim | None:
    return order.claims.filter(state__in=OPEN_STATES).first()


def cancel_option(order: Order, current: Claim | None) -> str | None:
    """What "cancel this order" would do now, or None when the page does not offer it."""
    if current is not None or order.fulfilment_status in GONE:
        return None
    # A completed cancel may reach the order's own status only after commit: the claim already says it.
    if order.claims.filter(kind=ClaimKind.CANCEL, state=ClaimState.DONE).exists():
        return None
    if order.delivery_status in CANCEL_NOW:
        return CancelOption.NOW
    if order.delivery_status in CANCEL_REQUEST:
        return CancelOption.REQUEST
    return None


def cancel_explanation(order: Order, option: str | None) -> str:
    """The customer's sentence for the cancel button: refunded now, or a request the shop answers."""
    if option == CancelOption.REQUEST:
        return _("The shop is already preparing your shipment, so this sends a cancel request to the shop. "
                 "The shop either approves it (your order is then cancelled and refunded) or asks you to "
                 "withdraw it.")
    if option != CancelOption.NOW:
        return ""
    try:
        effect = services.cancel_effect(order, reason=Reason.CUSTOMER_REQUEST, requested_by=Party.CUSTOMER)
    except PaymentError:
        return _("Your order is cancelled at once and any payment is refunded.")
    if not effect.amount:
        return _("Your order is cancelled at once. Nothing has been paid yet, so there is nothing to refund.")
    if effect.linked:
        text = _("Your order is cancelled at once and %(amount)s is refunded through your payment method.")
    else:
        text = _("Your order is cancelled at once and the shop refunds %(amount)s to you.")
    text = text % {"amount": yen(effect.amount)}
    payment = order.payment
    if order.fees and payment is not None and (payment.is_konbini or payment.is_bank_transfer):
        # A cancel for the customer's own reasons keeps the transfer fee back (seed 003 §1 注意事項).
        text += " " + _("The transfer fee of %(fee)s is not refunded.") % {"fee": yen(order.fees)}
    return text


def claim_rows(order: Order) -> list[dict]:
    """The order's claims, newest first, as the customer may read them."""
    now = timezone.now()
    rows = []
    for claim in order.claims.all():
        rows.append({
            "id": claim.pk,
            "kind": claim.get_kind_display(),
            "state": claim.state,
            "state_label": claim.get_state_display(),
            "reason": claim.get_reason_display(),
            "seller_memo": claim.seller_memo,
            "refund_state": claim.refund_state,
            "refund_label": claim.get_refund_state_display(),
            "refund_amount": claim.refund_amount,
            "fee_refund_amount": claim.fee_refund_amount,
            "withdrawal_deadline": claim.withdrawal_deadline,
            "deadline_passed": bool(claim.withdrawal_deadline and claim.withdrawal_deadline < now),
            "can_withdraw": claim.state == ClaimState.WITHDRAWAL_REQUESTED,
            "created_at": claim.created_at,
        })
    return rows


def order_context(order: Order, *, error: str = "") -> dict:
    current = open_claim(order)
    option = cancel_option(order, current)
    return {
        "order": order, "shop": order.shop, "token": token_for(order), "lines": list(order.lines.all()),
        "delivery_label": order.get_delivery_status_display(),
        "cancelled": order.fulfilment_status in GONE
        or order.claims.filter(kind=ClaimKind.CANCEL, state=ClaimState.DONE).exists(),
        "claims": claim_rows(order), "open_claim": current,
        "cancel_option": option, "cancel_explanation": cancel_explanation(order, option),
        "error": error,
    }
