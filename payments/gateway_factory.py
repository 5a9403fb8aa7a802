"""Builds the adapter for a payment's shop. The only place that reads decrypted credentials."""

from __future__ import annotations

from django.conf import settings

from gateways.gmo.card import CardRef, GmoCardGateway
from gateways.gmo.protocol import GmoClient
from gateways.gmo.wallet import GmoWalletGateway, WalletRef
from gateways.stripe.konbini import StripeKonbiniGateway


def _client(shop) -> GmoClient:
    return GmoClient(
        base_url=shop.gmo_base_url or settings.GMO_PG_BASE_URL,
        shop_id=shop.gmo_shop_id,
        shop_pass=shop.gmo_shop_pass,
        timeout=settings.GATEWAY_TIMEOUT_SECONDS,
    )


def card_gateway_for(shop) -> GmoCardGateway:
    return GmoCardGateway(_client(shop))


def wallet_gateway_for(shop, wallet: str = "recruit") -> GmoWalletGateway:
    return GmoWalletGateway(_client(shop), wallet)


def konbini_gateway_for(shop) -> StripeKonbiniGateway:
    return StripeKonbiniGateway(shop.stripe_secret_key, shop.stripe_base_url or settings.STRIPE_API_BASE,
                                timeout=settings.GATEWAY_TIMEOUT_SECONDS,
                                max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES)


def gateway_for(payment):
    """The adapter that holds this payment's transaction (its `search` tells the truth about it)."""
    if payment.is_konbini:
        return konbini_gateway_for(payment.shop)
    if payment.is_wallet:
        return wallet_gateway_for(payment.shop, payment.method)
    return card_gateway_for(payment.shop)


def card_ref(payment) -> CardRef:
    return CardRef(payment.gateway_order_id, payment.access_id, payment.access_pass)


def wallet_ref(payment) -> WalletRef:
    return WalletRef(payment.gateway_order_id, payment.access_id, payment.access_pass)
