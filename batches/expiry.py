"""Authorization expiry batch (SPEC 5): warn before, expire after, always asking the gateway first."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from batches.notifications import send_digest
from batches.runs import RunReport, recorded_run
from batches.status_sync import chunked_ids, retry_reads
from payments import services
from payments.actors import Actor
from payments.errors import PaymentError
from payments.models import Payment, Status
from shops.models import Shop

NAME = "authorization_expiry"
ACTOR = Actor.system("authorization expiry batch")
DIGEST_LIMIT = 200  # rows listed in one mail; the rest are counted and linked


def expiring_soon(shop: Shop, now):
    return Payment.objects.filter(
        shop=shop, status=Status.AUTHORIZED, authorization_expires_at__gt=now,
        authorization_expires_at__lte=now + timedelta(days=shop.expiry_warning_days),
    ).order_by("authorization_expires_at")


def past_validity(now):
    return Payment.objects.filter(status=Status.AUTHORIZED, authorization_expires_at__lte=now)


def warn(shop: Shop, now, report: RunReport) -> None:
    qs = expiring_soon(shop, now)
    total = qs.count()
    if not total:
        return
    rows = list(qs.annotate(expires=F("authorization_expires_at"))[:DIGEST_LIMIT])
    sent = send_digest(
        shop, "authorization_expiring", f"[{shop.name}] 仮売上の有効期限が近い決済 {total}件",
        "batches/email/authorization_expiring.txt",
        {"payments": rows, "total": total, "more": total - len(rows), "days": shop.expiry_warning_days}, total)
    report.note(f"{shop.code}: {total} expiring within {shop.expiry_warning_days} days"
                + (" (digest sent)" if sent else " (digest already sent today or no recipients)"))


def expire(pk: int, report: RunReport) -> None:
    payment = Payment.objects.select_related("shop").get(pk=pk)
    try:
        # expire_authorization asks the gateway first: a capture or cancel made elsewhere is synced.
        op = retry_reads(lambda: services.expire_authorization(payment, by=ACTOR))
        payment.refresh_from_db()
        if op is not None or payment.status == Status.AUTH_EXPIRED:
            report.note(f"{payment.gateway_order_id}: marked 仮売上期限切れ"
                        + (f" (the PG says {payment.gateway_status})" if op is None else ""))
        else:
            report.note(f"{payment.gateway_order_id}: the gateway says {payment.gateway_status}; synced to "
                        f"{payment.status} instead of expiring")
        report.processed += 1
    except PaymentError as exc:
        report.failed += 1
        report.note(f"{payment.gateway_order_id}: {exc.message}")


def run_authorization_expiry(*, chunk_size: int = 500) -> RunReport | None:
    with recorded_run(NAME) as report:
        if report is None:
            return None
        now = timezone.now()
        for shop in Shop.objects.all():
            warn(shop, now, report)
        for ids in chunked_ids(past_validity(now), chunk_size):
            for pk in ids:
                expire(pk, report)
            report.heartbeat()
        return report
