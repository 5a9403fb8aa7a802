"""Queue a notice inside the caller's transaction; it is mailed once that transaction commits.

A mail server that refuses leaves the notice unsent with its error; the notifications batch retries
(`send_unsent`). Nothing here raises into the caller's money path.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from notices.models import Notice

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 10


def queue_notice(*, key: str, shop, kind: str, recipients: list[str], subject: str, template: str,
                 context: dict) -> Notice | None:
    """Queue once per key. Returns the new notice, or None when it was queued before or has nobody to go to."""
    recipients = sorted({r for r in recipients if r})
    if not recipients:
        return None
    if Notice.objects.filter(key=key).exists():
        return None
    with translation.override(settings.LANGUAGE_CODE):
        body = render_to_string(template, {**context, "shop": shop,
                                           "base_url": settings.ADMIN_BASE_URL.rstrip("/"),
                                           "public_url": settings.PUBLIC_BASE_URL.rstrip("/")})
        subject = str(subject)
    notice, created = Notice.objects.get_or_create(
        key=key, defaults={"shop": shop, "kind": kind, "recipients": recipients, "subject": subject, "body": body})
    if not created:
        return None
    transaction.on_commit(lambda: send_notice(notice.pk), robust=True)
    return notice


def send_notice(pk: int) -> bool:
    with transaction.atomic():
        notice = Notice.objects.select_for_update(skip_locked=True).filter(pk=pk, sent_at__isnull=True).first()
        if notice is None:
            return False  # sent already, or another worker is sending it right now
        notice.attempts += 1
        try:
            send_mail(notice.subject, notice.body, settings.DEFAULT_FROM_EMAIL, notice.recipients)
        except Exception as exc:  # noqa: BLE001 - any mail failure is recorded and retried, never raised
            notice.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            notice.save(update_fields=["attempts", "last_error"])
            logger.warning("notice %s not sent: %s", notice.key, notice.last_error)
            return False
        notice.sent_at = timezone.now()
        notice.last_error = ""
        notice.save(update_fields=["attempts", "last_error", "sent_at"])
    return True


def send_unsent(limit: int = 500) -> int:
    """Retry notices whose send failed or whose process died before sending."""
    ids = list(Notice.objects.filter(sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
               .order_by("created_at").values_list("pk", flat=True)[:limit])
    return sum(send_notice(pk) for pk in ids)
