"""Register a participant for an event: the chosen menus become the lines of one payment (SPEC 4.3)."""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from payments import services as payment_services
from payments.actors import Actor
from payments.errors import InvalidTransition
from payments.models import Method
from registrations.models import Event, Menu, MenuKind, Registration, RegistrationLine, RegistrationLog
from shops.roles import Perm

METHODS = (Method.CARD, Method.KONBINI, Method.BANK_TRANSFER)


def new_registration_number() -> str:
    return f"R{timezone.localdate():%y%m%d}-{secrets.token_hex(3).upper()}"


def _checked_menus(event: Event, menu_ids: list[int]) -> list[Menu]:
    if not menu_ids or len(set(menu_ids)) != len(menu_ids):
        raise InvalidTransition(_("Choose at least one menu, each at most once."))
    menus = list(Menu.objects.filter(event=event, pk__in=menu_ids))
    if len(menus) != len(menu_ids):
        raise InvalidTransition(_("A chosen menu does not belong to this event."))
    if sum(1 for m in menus if m.kind == MenuKind.BASE) > 1:
        raise InvalidTransition(_("A registration holds at most one base menu."))
    return sorted(menus, key=lambda m: (m.kind != MenuKind.BASE, m.position, m.pk))


def register(event: Event, *, menu_ids: list[int], participant_name: str, participant_kana: str = "",
             participant_email: str = "", method: str, by: Actor, number: str | None = None) -> Registration:
    """The registration, its lines and its payment (not yet paid: card needs authorize_payment with a token,
    konbini issue_konbini_numbers, bank transfer waits for the transfer). A ¥0 registration has no payment."""
    by.require(event.shop_id, Perm.VIEW)
    if method not in METHODS:
        raise InvalidTransition(_("Registrations are paid by card, konbini or bank transfer."))
    menus = _checked_menus(event, menu_ids)
    total = sum(m.price for m in menus)
    shop = event.shop
    number = number or new_registration_number()
    with transaction.atomic():
        payment = None
        if total:
            payer = {"payer_name": participant_name, "payer_email": participant_email, "actor": by}
            if method == Method.CARD:
                payment = payment_services.create_card_payment(shop, amount=total, reference=number, **payer)
            elif method == Method.KONBINI:
                payment = payment_services.create_konbini_payment(shop, amount=total, reference=number,
                                                                  requested=True, **payer)
            else:
                payment = payment_services.create_bank_transfer_payment(
                    shop, amount=total, reference=number, payer_kana=participant_kana, **payer)
        registration = Registration.objects.create(
            shop=shop, event=event, number=number, participant_name=participant_name,
            participant_kana=participant_kana, participant_email=participant_email, payment=payment)
        RegistrationLine.objects.bulk_create([
            RegistrationLine(registration=registration, menu=m, kind=m.kind, name=m.name, price=m.price,
                             tax_rate=m.tax_rate) for m in menus])
        RegistrationLog.objects.create(registration=registration, actor_label=by.label, message=(
            f"申込: {'、'.join(m.name for m in menus)} (合計 ¥{total:,})"))
    return registration
