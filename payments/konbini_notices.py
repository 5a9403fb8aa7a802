"""Staff mails for konbini payments (SPEC 3.3): "payment received" and "payment expired", once each.

Sent from the payment_changed signal, whatever moved the payment (webhook task, poll, status check); the
notice key makes a second attempt for the same payment a no-op.
"""

from __future__ import annotations

from django.dispatch import receiver
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from payments.models import Payment, Status
from payments.signals import payment_changed

STAFF_NOTICES = {
    Status.PAID: ("konbini_paid", _("[%(shop)s] Konbini payment received: %(reference)s"),
                  "notices/konbini_paid.txt"),
    Status.EXPIRED: ("konbini_expired", _("[%(shop)s] Konbini payment expired, decision needed: %(reference)s"),
                     "notices/konbini_expired.txt"),
}


@receiver(payment_changed, sender=Payment)
def konbini_staff_notice(sender, payment: Payment, operation, **kwargs) -> None:
    if not payment.is_konbini or payment.status not in STAFF_NOTICES:
        return
    from batches.notifications import staff_emails
    from notices.services import queue_notice

    kind, subject, template = STAFF_NOTICES[payment.status]
    reference = payment.reference or payment.gateway_order_id
    queue_notice(key=f"{kind}:{payment.pk}", shop=payment.shop, kind=kind, recipients=staff_emails(payment.shop),
                 subject=subject % {"shop": payment.shop.name, "reference": reference}, template=template,
                 context={"payment": payment, "reference": reference,
                          "admin_path": reverse("admin:payments_payment_change", args=[payment.pk])})
