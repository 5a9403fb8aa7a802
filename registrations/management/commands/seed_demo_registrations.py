"""Demo event registrations with base and option menus (called by seed_demo): the four cases of seed 000,
paid by card through the GMO sandbox, by konbini through its Stripe API, and by bank transfer."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.management.base import BaseCommand

from gateways.sandbox.control import SandboxControl
from payments import services
from payments.actors import Actor
from payments.bank_transfer import mark_transfer_received
from payments.models import Method
from registrations import services as registrations
from registrations.models import Event, Menu, MenuKind
from shops.models import Shop

PEOPLE = [("山田 太郎", "ヤマダ タロウ"), ("佐藤 花子", "サトウ ハナコ"), ("鈴木 一郎", "スズキ イチロウ"),
          ("高橋 美咲", "タカハシ ミサキ"), ("田中 健", "タナカ ケン"), ("伊藤 さくら", "イトウ サクラ"),
          ("渡辺 翔", "ワタナベ ショウ")]


class Command(BaseCommand):
    help = "Seed a demo conference with base/option menus and registrations paid by each method (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--sandbox-url", default="http://127.0.0.1:8765")
        parser.add_argument("--shop", default="events")

    def handle(self, sandbox_url, shop, **options):
        shop = Shop.objects.get(code=shop)
        if Event.objects.filter(shop=shop).exists():
            self.stdout.write("demo registrations already present; nothing seeded")
            return
        if not shop.receipt_registration_number:
            shop.receipt_registration_number = "T1234567890123"
            shop.save(update_fields=["receipt_registration_number"])
        sandbox = SandboxControl(sandbox_url)
        actor = Actor.system("demo seed")
        conference = Event.objects.create(shop=shop, title="日本決済学会 秋季大会",
                                          held_on=date.today() + timedelta(days=30))
        for kind, name, price, rate in [(MenuKind.BASE, "参加費", 8000, 10), (MenuKind.OPTION, "懇親会", 5000, 10),
                                        (MenuKind.OPTION, "お弁当", 1080, 8), (MenuKind.OPTION, "予稿集（PDF）", 0, 10),
                                        (MenuKind.OPTION, "エクスカーション", 3000, 10)]:
            Menu.objects.create(event=conference, kind=kind, name=name, price=price, tax_rate=rate)
        menus = {m.name: m.pk for m in conference.menus.all()}
        plans = [  # (who, menus, method): one per case of seed 000 and method
            (PEOPLE[0], ["懇親会"], Method.CARD),
            (PEOPLE[1], ["懇親会"], Method.BANK_TRANSFER),
            (PEOPLE[2], ["懇親会", "お弁当", "エクスカーション"], Method.CARD),
            (PEOPLE[3], ["参加費", "懇親会", "お弁当", "予稿集（PDF）"], Method.CARD),
            (PEOPLE[4], ["参加費", "懇親会"], Method.BANK_TRANSFER),
            (PEOPLE[5], ["参加費", "エクスカーション"], Method.KONBINI),
            (PEOPLE[6], ["参加費", "お弁当"], Method.BANK_TRANSFER),  # left awaiting its transfer
        ]
        for n, ((name, kana), chosen, method) in enumerate(plans):
            registration = registrations.register(
                conference, menu_ids=[menus[m] for m in chosen], participant_name=name, participant_kana=kana,
                participant_email=f"member{n}@example.jp", method=method, by=actor, number=f"R-DEMO-{n + 1:03d}")
            payment = registration.payment
            if method == Method.CARD:
                token = sandbox.create_token("4111111111111111")
                services.authorize_payment(payment, token=token, by=actor)  # the shop captures at once
            elif method == Method.KONBINI:
                services.issue_konbini_numbers(payment, by=actor)
                payment.refresh_from_db()
                sandbox.stripe_pay(payment.external_id, store="lawson")
                services.sync_payment(payment, actor=actor)
            elif n != len(plans) - 1:
                mark_transfer_received(payment, by=actor)
        self.stdout.write(f"seeded {len(plans)} registrations for {conference.title}")
