"""Registrations for the seed 000 tests: an event with a base menu and options, paid by each method."""

from __future__ import annotations

from payments import services as payment_services
from payments.actors import Actor
from payments.models import Method, Payment
from registrations import services
from registrations.models import Event, Menu, MenuKind, Registration
from shops.models import CaptureMode
from tests.factories import VISA_OK

SYSTEM = Actor.system("test")


def event(shop, *, base: int | None = 5000, options=((3000, "懇親会"), (2000, "お弁当"), (0, "資料のみ"))) -> Event:
    ev = Event.objects.create(shop=shop, title="秋の学術大会")
    if base is not None:
        Menu.objects.create(event=ev, kind=MenuKind.BASE, name="参加費", price=base)
    for n, (price, name) in enumerate(options):
        Menu.objects.create(event=ev, kind=MenuKind.OPTION, name=name, price=price, tax_rate=8 if "弁当" in name
                            else 10, position=n)
    return ev


def menus(ev: Event, *names: str) -> list[int]:
    by_name = {m.name: m.pk for m in ev.menus.all()}
    return [by_name[n] for n in names]


def register(ev: Event, names, *, method=Method.CARD, sandbox=None, paid=True) -> Registration:
    """Register and pay: card captured at once (即時売上), konbini paid at the store, bank transfer received."""
    registration = services.register(ev, menu_ids=menus(ev, *names), participant_name="山田 花子",
                                     participant_kana="ヤマダ ハナコ", participant_email="hanako@example.com",
                                     method=method, by=SYSTEM)
    payment = registration.payment
    if payment is None or not paid:
        return registration
    if method == Method.CARD:
        ev.shop.capture_mode = CaptureMode.CAPTURE
        ev.shop.save(update_fields=["capture_mode"])
        payment_services.authorize_payment(payment, token=sandbox.create_token(VISA_OK), by=SYSTEM)
    elif method == Method.KONBINI:
        payment_services.issue_konbini_numbers(payment, by=SYSTEM)
        payment.refresh_from_db()
        sandbox.stripe_pay(payment.external_id)
        payment_services.sync_payment(payment, actor=SYSTEM)
    else:
        from payments.bank_transfer import mark_transfer_received

        mark_transfer_received(payment, by=SYSTEM)
    return Registration.objects.get(pk=registration.pk)


def payment_of(registration) -> Payment:
    return Payment.objects.get(pk=registration.payment_id)


def line(registration, name: str):
    return registration.lines.get(name=name)
