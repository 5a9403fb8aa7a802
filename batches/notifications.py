"""Digest mails to shop staff: one mail per shop and day per kind, never one per event."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from batches.models import DigestSent
from shops.models import Shop, ShopMembership
from shops.roles import Role

STAFF_ROLES = (Role.STAFF, Role.OPERATOR, Role.ADMIN)


def staff_emails(shop: Shop) -> list[str]:
    emails = ShopMembership.objects.filter(shop=shop, role__in=STAFF_ROLES, user__is_active=True).exclude(
        user__email="").values_list("user__email", flat=True)
    return sorted(set(emails))


def send_digest(shop: Shop, kind: str, subject: str, template: str, context: dict, items: int) -> bool:
    """Send once per (shop, kind, Tokyo day). Returns False when already sent or nobody to tell."""
    recipients = staff_emails(shop)
    if not recipients:
        return False
    day = timezone.localdate()
    try:
        with transaction.atomic():
            DigestSent.objects.create(shop=shop, kind=kind, day=day, recipients=len(recipients), items=items)
            with translation.override(settings.LANGUAGE_CODE):
                body = render_to_string(template, {**context, "shop": shop,
                                                   "base_url": settings.ADMIN_BASE_URL.rstrip("/")})
            # Inside the transaction: if the mail server refuses, the digest is not marked sent.
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except IntegrityError:
        return False
    return True
