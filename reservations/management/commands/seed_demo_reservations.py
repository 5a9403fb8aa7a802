"""Demo reservations with konbini payments through the running sandbox (called by seed_demo).

Plays the customer at the store through the sandbox's controls (pay / let expire); our code learns of it
the way it does in production, by asking Stripe.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from gateways.sandbox.control import SandboxControl
from payments import services
from payments.actors import Actor
from reservations import payment_flow
from reservations.models import AcceptanceMode, ReservableEvent, Slot, WaitlistPromotion
from shops.models import Shop

STRIPE_KEY = "sk_test_sandbox_shop2"  # one of the sandbox's built-in accounts
WEBHOOK_SECRET = "whsec_demo_events_shop"
GUESTS = [("山田 太郎", 2), ("佐藤 花子", 1), ("鈴木 一郎", 3), ("高橋 美咲", 1), ("田中 健", 2), ("伊藤 さくら", 1)]


class Command(BaseCommand):
    help = "Seed demo events and konbini reservations through the gateway sandbox (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--sandbox-url", default="http://127.0.0.1:8765")
        parser.add_argument("--shop", default="events")

    def handle(self, sandbox_url, shop, **options):
        shop = Shop.objects.get(code=shop)
        if ReservableEvent.objects.filter(shop=shop).exists():
            self.stdout.write("demo reservations already present; nothing seeded")
            return
        sandbox = SandboxControl(sandbox_url)
        shop.set_stripe_secret_key(STRIPE_KEY)
        shop.set_stripe_webhook_secret(WEBHOOK_SECRET)
        shop.save()
        actor = Actor.system("demo seed")
        soon = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=14)

        workshop = ReservableEvent.objects.create(
            shop=shop, title="藍染めワークショップ", acceptance_mode=AcceptanceMode.FIRST_COME, price=3500,
            waitlist_enabled=True, waitlist_promotion=WaitlistPromotion.TO_CONFIRMED)
        slot = Slot.objects.create(event=workshop, starts_at=soon, capacity=8)
        booked = [payment_flow.book(slot, name=name, email=f"guest{i}@example.jp", seats=seats, by=actor,
                                    payment_method="konbini") for i, (name, seats) in enumerate(GUESTS[:4])]
        if not all(r.payment.external_id for r in booked):
            raise CommandError("konbini numbers were not issued: is the sandbox's Stripe API at STRIPE_API_BASE "
                               f"({settings.STRIPE_API_BASE})?")
        sandbox.stripe_pay(booked[0].payment.external_id, store="lawson")  # 決済完了
        sandbox.stripe_expire(booked[1].payment.external_id)  # 決済エラー: needs a decision
        for reservation in booked[:2]:
            services.sync_payment(reservation.payment, actor=actor)  # as the webhook task would
        payment_flow.book(slot, name=GUESTS[4][0], email="guest4@example.jp", seats=4, by=actor,
                          payment_method="konbini")  # full: キャンセル待ち, no numbers

        seminar = ReservableEvent.objects.create(
            shop=shop, title="着付け教室 (承認制)", acceptance_mode=AcceptanceMode.APPROVAL, price=5000,
            waitlist_enabled=True, waitlist_promotion=WaitlistPromotion.TO_PENDING)
        seminar_slot = Slot.objects.create(event=seminar, starts_at=soon + timedelta(days=1), capacity=10)
        payment_flow.book(seminar_slot, name=GUESTS[5][0], email="guest5@example.jp", seats=1, by=actor,
                          payment_method="konbini")  # 承認待ち: numbers after approval

        free = ReservableEvent.objects.create(shop=shop, title="無料見学会", price=0)
        free_slot = Slot.objects.create(event=free, starts_at=soon + timedelta(days=2), capacity=20)
        payment_flow.book(free_slot, name="小林 愛", email="guest6@example.jp", seats=2, by=actor)

        # From now on the sandbox posts signed events to our endpoint (the web server starts after the seed).
        sandbox.stripe_set_webhook(f"{settings.PUBLIC_BASE_URL.rstrip('/')}/gateways/stripe/webhook/{shop.code}/",
                                   WEBHOOK_SECRET, api_key=STRIPE_KEY)
        self.stdout.write(f"seeded konbini reservations for shop '{shop.code}'")
