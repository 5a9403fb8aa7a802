"""The facts the wallet rules need about a payment, read from the payment and its business objects.

payments must not import orders (orders builds on payments), so the business app registers a
provider for its fulfilment facts (shipped, returned, several addresses) at startup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from payments.wallet_rules import WalletFacts


@dataclass(frozen=True)
class FulfilmentFacts:
    shipped: bool = False
    goods_returned: bool = False
    multi_address: bool = False


_providers: list[Callable[[object], FulfilmentFacts | None]] = []


def register_fulfilment_provider(provider: Callable[[object], FulfilmentFacts | None]) -> None:
    if provider not in _providers:
        _providers.append(provider)


def fulfilment_of(payment) -> FulfilmentFacts:
    for provider in _providers:
        facts = provider(payment)
        if facts is not None:
            return facts
    return FulfilmentFacts()


def facts_for(payment, now: datetime, *, new_amount: int | None = None, whole_order: bool = True) -> WalletFacts:
    fulfilment = fulfilment_of(payment)
    return WalletFacts(
        status=payment.status, now=now, shipped=fulfilment.shipped, goods_returned=fulfilment.goods_returned,
        multi_address=fulfilment.multi_address, whole_order=whole_order,
        points_only=payment.wallet_points_used > 0 and payment.wallet_points_used >= payment.amount,
        captured_at=payment.captured_at, current_amount=payment.amount,
        new_amount=payment.pending_amount if new_amount is None else new_amount,
        unsent_change=payment.pending_amount is not None,
        extension_enabled=payment.shop.wallet_auth_extension_enabled,
    )
