"""The per-store konbini numbers as pages and mails show them: fixed order, Japanese chain names."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from gateways.stripe.konbini import STORES

STORE_NAMES = {"familymart": _("FamilyMart"), "lawson": _("Lawson"), "ministop": _("Ministop"),
               "seicomart": _("Seicomart")}


def store_rows(payment) -> list[dict]:
    """[{"name", "payment_code", "confirmation_number"}] for each chain Stripe gave numbers for."""
    stores = (payment.konbini_numbers or {}).get("stores") or {}
    return [{"name": STORE_NAMES[s], **stores[s]} for s in STORES if stores.get(s)]
