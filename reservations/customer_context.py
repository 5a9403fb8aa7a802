"""What the customer's completion and payment-request pages show, and the customer's words for refusals.

Driven by OUR reservation and payment status only (Stripe's word reaches them through the webhook and the
poll); the pages never ask Stripe themselves.
"""

from __future__ import annotations

from enum import StrEnum

from payments.errors import (
    ChangedMeanwhile,
    GatewayDeclined,
    GatewayUnavailable,
    InvalidAmount,
    InvalidTransition,
    OutcomeUnknown,
    PaymentBusy,
    PaymentError,
)
from payments.konbini_display import store_rows
from payments.models import Payment, Status
from reservations.customer_links import sign
from reservations.errors import SlotFull, UnknownReservation
from reservations.models import Reservation
from reservations.models import Status as ReservationStatus
from reservations.selectors import seats_left

# The customer's words for the reservation's status (seed 001).
RESERVATION_LABELS = {
    ReservationStatus.CONFIRMED: "確定",
    ReservationStatus.PENDING_APPROVAL: "承認待ち",
    ReservationStatus.WAITLISTED: "キャンセル待ち",
    ReservationStatus.CANCELLED: "キャンセル",
}


class PaymentStage(StrEnum):
    NONE = "none"  # no online payment (free, or handled by the shop)
    NOT_ISSUED = "not_issued"  # numbers come with the confirmation (or were not issued yet: mailed later)
    REQUEST = "request"  # 単発決済 waiting for the customer to ask for the numbers
    PROCESSING = "processing"  # the numbers are being issued right now (or the answer is being checked)
    NUMBERS = "numbers"  # issued, deadline running
    PAID = "paid"
    EXPIRED = "expired"
    REPLACED = "replaced"  # a newer payment request took over
    CANCELLED = "cancelled"
    OTHER = "other"


def payment_stage(payment: Payment | None) -> PaymentStage:
    if payment is None or not payment.is_konbini:
        return PaymentStage.NONE
    if payment.replaced_by_id:
        return PaymentStage.REPLACED
    status = payment.status
    if status in (Status.AWAITING_APPROVAL, Status.UNPROCESSED) and payment.operations.unresolved().exists():
        return PaymentStage.PROCESSING
    return {
        Status.AWAITING_APPROVAL: PaymentStage.NOT_ISSUED,
        Status.UNPROCESSED: PaymentStage.REQUEST,
        Status.AWAITING_PAYMENT: PaymentStage.NUMBERS,
        Status.PAID: PaymentStage.PAID,
        Status.EXPIRED: PaymentStage.EXPIRED,
        Status.CANCELLED: PaymentStage.CANCELLED,
    }.get(status, PaymentStage.OTHER)


def numbers_context(payment: Payment | None) -> dict:
    """What the customer takes to the store; empty unless numbers were issued."""
    if payment is None or not payment.konbini_numbers:
        return {"stores": [], "voucher_url": ""}
    return {"stores": store_rows(payment), "voucher_url": payment.konbini_numbers.get("hosted_voucher_url") or ""}


def reservation_context(reservation: Reservation, payment: Payment | None, stage: PaymentStage) -> dict:
    return {
        "reservation": reservation,
        "event": reservation.slot.event,
        "slot": reservation.slot,
        "shop": reservation.shop,
        "payment": payment,
        "total": payment.amount if payment is not None else reservation.slot.event.price * reservation.seats,
        "reservation_label": RESERVATION_LABELS.get(reservation.status, reservation.get_status_display()),
        "pay_stage": stage.value,
        "pay_token": sign("pay", payment.pk) if payment is not None and payment.is_konbini else "",
        **numbers_context(payment if stage in (PaymentStage.NUMBERS, PaymentStage.PAID) else None),
    }


def done_context(reservation: Reservation) -> dict:
    payment = reservation.payment  # always the current one: a payment request replaces it on the reservation
    return reservation_context(reservation, payment, payment_stage(payment))


def pay_stage(reservation: Reservation, payment: Payment) -> PaymentStage:
    stage = payment_stage(payment)
    if stage == PaymentStage.REQUEST and reservation.status != ReservationStatus.CONFIRMED:
        return PaymentStage.CANCELLED  # a reservation no longer confirmed is not paid for
    return stage


def pay_context(reservation: Reservation, payment: Payment, *, error: str = "") -> dict:
    return {**reservation_context(reservation, payment, pay_stage(reservation, payment)), "error": error}


# --- the customer's words -------------------------------------------------------------------------------

NOT_NOW = "このお支払いは現在この操作を受け付けていません。ページの内容をご確認ください。"


def booking_message(exc: PaymentError, slot, seats: int) -> str:
    """Why a booking was refused. The konbini amount limits keep the service's own sentence."""
    if isinstance(exc, SlotFull):
        if seats > slot.capacity:
            return f"この日時の定員は{slot.capacity}名のため、{seats}名ではご予約いただけません。"
        return (f"選択された日時の残りは{seats_left(slot)}席です。{seats}名分の空きがないため、ご予約いただけません。"
                "別の日時または人数でお選びください。")
    if isinstance(exc, UnknownReservation):
        return "選択された日時は見つかりませんでした。ページを再読み込みして選び直してください。"
    if isinstance(exc, InvalidAmount):
        return exc.message
    return f"ご予約を受け付けられませんでした: {exc.message}"


def payment_message(exc: PaymentError) -> str:
    """Why issuing the numbers of a payment request did not happen (nothing changed, except OutcomeUnknown)."""
    if isinstance(exc, GatewayUnavailable):
        return ("決済サービス（Stripe）に接続できませんでした。支払い番号は発行されていません。"
                "しばらくしてから再度お試しください。")
    if isinstance(exc, OutcomeUnknown):
        return ("決済サービスからの応答を確認できませんでした。発行の結果を確認しています。"
                "支払い番号が発行された場合はメールでお知らせします。しばらくしてからこのページを再読み込みしてください。")
    if isinstance(exc, GatewayDeclined):
        return ("決済サービスが支払い番号の発行を受け付けませんでした。"
                "時間をおいて再度お試しいただくか、ショップにお問い合わせください。")
    if isinstance(exc, PaymentBusy | ChangedMeanwhile):
        return "このお支払いは処理中です。しばらくしてからこのページを再読み込みしてください。"
    if isinstance(exc, InvalidAmount):
        return exc.message
    if isinstance(exc, InvalidTransition):
        return "現在、このお支払いの支払い番号を発行できません。お手数ですがショップにお問い合わせください。"
    return NOT_NOW
