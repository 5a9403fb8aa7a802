"""What a receipt shows for a registration or an order, or why none can be issued (SPEC 4.3 "Receipts").

A receipt acknowledges money received: only a paid, not cancelled registration or order gets one, and it
shows what remains paid (a registration's active lines; an order as the customer paid it).
"""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders.cancellation import GONE
from orders.models import Fulfilment, Order
from payments.errors import PaymentError
from payments.models import CANCELLED, LIVE_CAPTURED, Method, Payment, Status
from receipts.pdf import REGISTRATION_RE, ReceiptData, ReceiptError, ReceiptLine
from registrations.models import LineStatus, Registration, RegistrationStatus
from shops.models import Shop

# The statuses in which the money has arrived, per method. Anything else (仮売上 authorized, awaiting
# payment, …) is not paid yet.
PAID_STATUSES = {
    Method.CARD: LIVE_CAPTURED,
    Method.RECRUIT: (Status.CAPTURED,),  # 決済完了
    Method.KONBINI: (Status.PAID,),
    Method.BANK_TRANSFER: (Status.PAID,),
}
CANCELLED_STATUSES = (*CANCELLED, Status.CANCELLED)


class ReceiptRefused(PaymentError):
    code = "receipt_refused"
    http_status = 409
    default_message = gettext_lazy("No receipt can be issued.")


def is_paid(payment: Payment | None) -> bool:
    return payment is not None and payment.status in PAID_STATUSES.get(payment.method, ())


def check_paid(payment: Payment | None) -> None:
    if payment is not None and payment.status in CANCELLED_STATUSES:
        raise ReceiptRefused(_("The payment is cancelled (%(status)s): no receipt can be issued.")
                             % {"status": payment.get_status_display()})
    if not is_paid(payment):
        status = payment.get_status_display() if payment is not None else _("no payment")
        raise ReceiptRefused(_("Not paid yet (%(status)s): a receipt can be issued once the payment is "
                               "received.") % {"status": status})


def check_issuer(shop: Shop) -> None:
    if not REGISTRATION_RE.fullmatch(shop.receipt_registration_number or ""):
        raise ReceiptRefused(_("Set the qualified invoice registration number (適格請求書発行事業者登録番号) in the "
                               "shop settings before issuing receipts."))


def transaction_date(payment: Payment, placed_at) -> date:
    """取引年月日: when the money was received, else when the registration / order was placed."""
    return timezone.localdate(payment.captured_at or placed_at)


def _data(shop: Shop, **fields) -> ReceiptData:
    data = ReceiptData(issued_on=timezone.localdate(), issuer_name=shop.receipt_issuer,
                       registration_number=shop.receipt_registration_number, **fields)
    try:
        data.validate()
    except ReceiptError as exc:  # e.g. a tax rate the invoice rules do not know
        raise ReceiptRefused(_("The receipt cannot be drawn up: %(reason)s.") % {"reason": exc}) from exc
    return data


# --- registrations --------------------------------------------------------------------------------------------

def registration_receipt(registration: Registration) -> ReceiptData:
    """The receipt of a registration: its active lines, i.e. what remains paid after partial cancels."""
    check_issuer(registration.shop)
    if registration.status == RegistrationStatus.CANCELLED:
        raise ReceiptRefused(_("This registration is cancelled: no receipt can be issued."))
    payment = registration.payment
    check_paid(payment)
    lines = [ReceiptLine(line.name, line.price, line.tax_rate)
             for line in registration.lines.filter(status=LineStatus.ACTIVE).order_by("kind", "id")]
    if sum(line.amount for line in lines) == 0:
        raise ReceiptRefused(_("Nothing paid remains on this registration (every paid line is cancelled): no "
                               "receipt can be issued."))
    return _data(registration.shop, number=registration.number, recipient=registration.participant_name,
                 lines=lines, transaction_on=transaction_date(payment, registration.created_at),
                 proviso=f"{registration.event.title} 参加費として")


# --- orders ---------------------------------------------------------------------------------------------------

def order_is_paid(order: Order) -> bool:
    """For the order page's button; issue_receipt checks everything else when clicked."""
    return order.fulfilment_status not in GONE and is_paid(order.payment)


def order_receipt(order: Order) -> ReceiptData:
    """The receipt of an order: its lines, shipping and fees (10%), less the points used; the amount is what
    the customer paid (order.amount_to_pay)."""
    check_issuer(order.shop)
    if order.fulfilment_status == Fulfilment.CANCELLED:
        raise ReceiptRefused(_("This order is cancelled: no receipt can be issued."))
    if order.fulfilment_status == Fulfilment.NOT_PLACED:
        raise ReceiptRefused(_("This order was not placed (the payment failed): no receipt can be issued."))
    payment = order.payment
    check_paid(payment)
    if payment.pending_amount is not None:
        raise ReceiptRefused(_("This order has an amount change not yet sent to the payment gateway: send it "
                               "first, then issue the receipt."))
    lines = [ReceiptLine(_order_line_name(line), line.subtotal, line.tax_rate)
             for line in order.lines.order_by("id")]
    if order.shipping_fee:
        lines.append(ReceiptLine("送料", order.shipping_fee, 10))
    if order.fees:
        lines.append(ReceiptLine("手数料", order.fees, 10))
    computed = sum(line.amount for line in lines)
    if computed != order.total:
        raise ReceiptRefused(_("The order's lines, shipping and fees (¥%(computed)s) do not add up to its total "
                               "(¥%(total)s): correct the order before issuing a receipt.")
                             % {"computed": f"{computed:,}", "total": f"{order.total:,}"})
    _check_received(order, payment)
    if order.amount_to_pay <= 0:
        raise ReceiptRefused(_("Nothing was paid in money for this order: no receipt can be issued."))
    return _data(order.shop, number=order.number, recipient=order.customer_name, lines=lines,
                 points_used=order.points_used, transaction_on=transaction_date(payment, order.created_at),
                 proviso="お品代として")


def _order_line_name(line) -> str:
    options = f"（{line.options}）" if line.options else ""
    return f"{line.product_name}{options} × {line.quantity}"


def _check_received(order: Order, payment: Payment) -> None:
    """The payment must hold what its live orders say: an amount changed on the payment alone (a partial
    refund) or an answer still unresolved would otherwise print an amount that was not received."""
    received = payment.captured_amount or payment.amount
    live = payment.orders.exclude(fulfilment_status__in=GONE)
    expected = sum(o.amount_to_pay for o in live.only("total", "points_used"))
    if received != expected:
        raise ReceiptRefused(_("The payment holds ¥%(received)s but its orders come to ¥%(expected)s: settle the "
                               "difference (status check, amount change) before issuing a receipt.")
                             % {"received": f"{received:,}", "expected": f"{expected:,}"})


def receipt_data_for(source) -> ReceiptData:
    if isinstance(source, Registration):
        return registration_receipt(source)
    if isinstance(source, Order):
        return order_receipt(source)
    raise TypeError(f"no receipt for {type(source).__name__}")
