"""GMO-PG result notification (結果通知プログラム, reference §5).

The PG POSTs a cp932 form when a transaction's result changes and retries until it gets the body ``0``.
The body is only a hint of WHICH payment to look at: its Status is never applied (anyone can POST here);
we ask the PG with SearchTradeMulti (sync_payment) and answer ``0`` only once that sync has committed,
so a lost or failed sync is redelivered by the PG rather than forgotten.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.actors import Actor
from payments.errors import GatewayDeclined, GatewayUnavailable
from payments.models import Payment
from payments.sync import sync_payment
from payments_admin.rate_limits import webhook_rate_limit

logger = logging.getLogger(__name__)
RECEIVED, RETRY = "0", "1"  # GMO's answers: received / receive failed (reference §5)
MAX_FIELDS = 100  # a real notification has ~25 keys


def _text(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


def parse_notification(body: bytes) -> dict[str, str]:
    """The form body, percent-decoded as cp932 (reference §1.3). ValueError when it is not a form."""
    text = body.decode("ascii")  # percent-encoded: anything else is not a GMO form
    pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, encoding="cp932", errors="strict",
                      max_num_fields=MAX_FIELDS)
    return dict(pairs)


def _payment(shop_id: str, order_id: str) -> Payment | None:
    # gmo_shop_id is not unique across our shops (two may share one GMO contract): take the one match only.
    found = list(Payment.objects.select_related("shop")
                 .filter(shop__gmo_shop_id=shop_id, gateway_order_id=order_id)[:2])
    return found[0] if len(found) == 1 else None


@csrf_exempt  # the PG cannot send a CSRF token; nothing it sends is trusted anyway
@webhook_rate_limit("gmo")
@require_POST
@transaction.non_atomic_requests  # "0" must mean committed, never "committed when the request ends"
def gmo_result_notification(request: HttpRequest) -> HttpResponse:
    try:
        fields = parse_notification(request.body)
    except ValueError:
        logger.warning("GMO notification: malformed body (%d bytes)", len(request.body))
        return _text("malformed notification", 400)
    order_id, shop_id = fields.get("OrderID", ""), fields.get("ShopID", "")
    if not order_id or not shop_id:
        logger.warning("GMO notification without OrderID/ShopID")
        return _text("OrderID and ShopID are required", 400)
    payment = _payment(shop_id, order_id)
    if payment is None:
        logger.warning("GMO notification for unknown OrderID=%s", order_id)
        return _text("unknown order", 404)
    try:
        result = sync_payment(payment, actor=Actor.system("GMO result notification"))
    except (GatewayUnavailable, GatewayDeclined) as exc:
        logger.warning("GMO notification OrderID=%s: PG not reachable (%s); the PG will resend", order_id,
                       exc.code)
        return _text(RETRY, 503)
    if result.in_flight:
        # An operation of ours is still waiting for its own answer: the status was not aligned yet.
        logger.info("GMO notification OrderID=%s: operation in flight; asking the PG to resend", order_id)
        return _text(RETRY, 503)
    logger.info("GMO notification OrderID=%s: PG %s, ours %s", order_id, result.gateway_status,
                result.payment.status)
    return _text(RECEIVED)
