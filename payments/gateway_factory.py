"""Builds the adapter for a payment's shop. The only place that reads decrypted credentials."""

from __future__ import annotations

from django.conf import settings

from gateways.gmo.card import CardRef, GmoCardGateway
from gateways.gmo.protocol import GmoClient


def card_gateway_for(shop) -> GmoCardGateway:
    client = GmoClient(
        base_url=shop.gmo_base_url or settings.GMO_PG_BASE_URL,
        shop_id=shop.gmo_shop_id,
        shop_pass=shop.gmo_shop_pass,
        timeout=settings.GATEWAY_TIMEOUT_SECONDS,
    )
    return GmoCardGateway(client)


def card_ref(payment) -> CardRef:
    return CardRef(payment.gateway_order_id, payment.access_id, payment.access_pass)
