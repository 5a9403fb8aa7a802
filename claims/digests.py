"""Staff digests of customers' cancel requests on 配送準備 orders (SPEC 4.4 Notifications).

A few times a day (settings.CLAIM_DIGEST_HOURS, JST; the beat schedule is installed by migration) each shop's
staff who may cancel get one mail listing the requests not yet in a digest; those are then marked
(`digested_at`), so the next window lists only newer ones. Requests on 新規注文 orders never reach a digest:
they complete by themselves (no REQUESTED claim is left behind).

Safe twice: the run holds a batch lock, and a shop's requests are marked in the same transaction as its mail
is sent, so a mail server refusal leaves them for the next window.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from batches.runs import recorded_run
from claims.models import Claim, ClaimKind, ClaimState, Party
from shops.models import Shop, ShopMembership
from shops.roles import ROLE_PERMS, Perm

BATCH_NAME = "claims.cancel_request_digest"
DEFAULT_HOURS = (9, 13, 17)


def digest_hours() -> tuple[int, ...]:
    return tuple(getattr(settings, "CLAIM_DIGEST_HOURS", DEFAULT_HOURS))


def waiting_requests():
    """Customers' cancel requests still waiting for the seller and not yet in a digest."""
    return Claim.objects.filter(kind=ClaimKind.CANCEL, requested_by=Party.CUSTOMER, state=ClaimState.REQUESTED,
                                digested_at__isnull=True)


def recipients(shop: Shop) -> list[str]:
    """Members who may act on a request (Perm.CANCEL) and have an e-mail address."""
    roles = [role for role, perms in ROLE_PERMS.items() if Perm.CANCEL in perms]
    emails = ShopMembership.objects.filter(shop=shop, role__in=roles, user__is_active=True).exclude(
        user__email="").values_list("user__email", flat=True)
    return sorted(set(emails))


def send_shop_digest(shop: Shop, now=None) -> int:
    """One mail for the shop's waiting requests; returns how many requests it listed (0: no mail)."""
    now = now or timezone.now()
    to = recipients(shop)
    if not to:
        return 0
    with transaction.atomic():
        # Locked, in id order: a request answered meanwhile is not listed as waiting.
        claims = list(waiting_requests().filter(shop=shop).select_for_update(of=("self",))
                      .select_related("order").order_by("id"))
        if not claims:
            return 0
        with translation.override(settings.LANGUAGE_CODE):
            subject = _("[%(shop)s] %(count)s cancel request(s) to answer") % {"shop": shop.name,
                                                                                "count": len(claims)}
            body = render_to_string("admin/claims/digest_email.txt", {
                "shop": shop, "claims": claims, "base_url": settings.ADMIN_BASE_URL.rstrip("/")})
        Claim.objects.filter(pk__in=[c.pk for c in claims]).update(digested_at=now)
        # Inside the transaction: if the mail server refuses, the requests stay for the next window.
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to)
    return len(claims)


def run_claim_digests(now=None):
    """The batch: every shop with waiting requests gets its mail. None when another run holds the lock."""
    with recorded_run(BATCH_NAME) as report:
        if report is None:
            return None
        shop_ids = waiting_requests().values_list("shop_id", flat=True).distinct()
        for shop in Shop.objects.filter(pk__in=shop_ids).order_by("pk"):
            try:
                listed = send_shop_digest(shop, now)
            except Exception as exc:  # one shop's mail failure must not stop the others
                report.failed += 1
                report.note(f"{shop}: {type(exc).__name__}: {exc}")
                continue
            if listed:
                report.processed += 1
                report.note(f"{shop}: {listed} request(s)")
        return report
