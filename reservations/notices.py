"""Mails to the reservation's customer: the konbini numbers with the reservation, and a payment request link."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from notices.services import queue_notice
from payments.konbini_display import store_rows


def numbers_notice(reservation, payment) -> None:
    queue_notice(key=f"konbini_numbers:{payment.pk}", shop=reservation.shop, kind="konbini_numbers",
                 recipients=[payment.payer_email or reservation.customer_email],
                 subject=_("[%(shop)s] Your reservation and konbini payment numbers") % {"shop": reservation.shop.name},
                 template="notices/konbini_numbers.txt",
                 context={"reservation": reservation, "payment": payment, "stores": store_rows(payment)})


def payment_request_notice(reservation, payment, link: str) -> None:
    queue_notice(key=f"payment_request:{payment.pk}", shop=reservation.shop, kind="payment_request",
                 recipients=[payment.payer_email or reservation.customer_email],
                 subject=_("[%(shop)s] Payment request for your reservation") % {"shop": reservation.shop.name},
                 template="notices/payment_request.txt",
                 context={"reservation": reservation, "payment": payment, "link": link})
