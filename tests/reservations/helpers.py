"""Small builders for reservation tests (kept here, not in tests/factories.py, which others edit)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from payments.actors import Actor
from reservations import services
from reservations.models import AcceptanceMode, ReservableEvent, Slot, WaitlistPromotion

SYSTEM = Actor.system("test")


def make_slot(shop, *, mode=AcceptanceMode.FIRST_COME, waitlist=True, promotion=WaitlistPromotion.TO_CONFIRMED,
              capacity=5, price=0) -> Slot:
    event = ReservableEvent.objects.create(shop=shop, title="陶芸体験", acceptance_mode=mode, waitlist_enabled=waitlist,
                                           waitlist_promotion=promotion, price=price)
    return Slot.objects.create(event=event, starts_at=timezone.now() + timedelta(days=7), capacity=capacity)


def book(slot, seats=1, name="山田 花子"):
    return services.book(slot, name=name, email="hanako@example.com", seats=seats, by=SYSTEM)
