"""Demo data paid through the running GMO sandbox: shops, logins, orders in several card states.

Acts as the customer's browser when it asks the sandbox for card tokens: our own code paths only
ever see tokens.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone

from gateways.sandbox.control import SandboxControl
from orders.editing import LineChange, edit_order
from orders.services import LineInput, place_card_order, place_wallet_order
from payments import services
from payments.actors import Actor
from payments.errors import OutcomeUnknown, PaymentError
from payments.models import Payment
from shops.api_scopes import ALL_SCOPES
from shops.models import CaptureMode, Shop, ShopApiToken, ShopMembership

LOGINS = [("admin", "admin", None), ("operator", "operator", "operator"), ("staff", "staff", "staff")]
CUSTOMERS = ["山田 太郎", "佐藤 花子", "鈴木 一郎", "高橋 美咲", "田中 健", "伊藤 さくら", "渡辺 翔", "小林 愛"]
PRODUCTS = [("有田焼 マグカップ", 2200), ("今治タオル", 1650), ("抹茶 100g", 3240), ("南部鉄器 急須", 8800)]


class Command(BaseCommand):
    help = "Seed demo shops, logins and card orders through the gateway sandbox (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--sandbox-url", default="http://127.0.0.1:8765")

    def handle(self, sandbox_url, **options):
        if Shop.objects.filter(code="zakka").exists():
            self.stdout.write("demo data already present; nothing seeded")
            return
        self.sandbox = SandboxControl(sandbox_url)
        self.actor = Actor.system("demo seed")
        zakka, events = self.create_shops()
        self.create_logins(zakka, events)
        self.seed_orders(zakka, events)
        call_command("seed_demo_reservations", sandbox_url=sandbox_url, shop=events.code, stdout=self.stdout)
        call_command("seed_demo_registrations", sandbox_url=sandbox_url, shop=events.code, stdout=self.stdout)
        _, raw = ShopApiToken.issue(zakka, "demo", scopes=ALL_SCOPES)
        self.stdout.write(f"API token for shop 'zakka': {raw}")
        counts = {}
        for status in Payment.objects.values_list("status", flat=True):
            counts[status] = counts.get(status, 0) + 1
        self.stdout.write(f"seeded payments by status: {counts}")

    def create_shops(self):
        zakka = Shop(name="デモ雑貨店", code="zakka", gmo_shop_id="tshop00000001", wallet_auth_extension_enabled=True,
                     receipt_registration_number="T9876543210987")
        zakka.set_gmo_shop_pass("zakkapass1")
        zakka.save()
        events = Shop(name="デモイベント事務局", code="events", gmo_shop_id="tshop00000002",
                      capture_mode=CaptureMode.CAPTURE)
        events.set_gmo_shop_pass("eventpass1")
        events.save()
        return zakka, events

    def create_logins(self, zakka, events):
        User = get_user_model()
        for username, password, role in LOGINS:
            user = User.objects.create_user(username, password=password, is_staff=True,
                                            is_superuser=role is None)
            if role:
                for shop in (zakka, events):
                    ShopMembership.objects.create(user=user, shop=shop, role=role)

    def order(self, shop, n, card="4111111111111111", days_ago=0):
        name, price = PRODUCTS[n % len(PRODUCTS)]
        quantity = 1 + n % 3
        try:
            order = place_card_order(
                shop, lines=[LineInput(name, quantity, price)], total=quantity * price,
                customer_name=CUSTOMERS[n % len(CUSTOMERS)], customer_email=f"customer{n}@example.jp",
                token=self.sandbox.create_token(card), by=self.actor)
        except PaymentError as exc:
            self.stdout.write(f"  order {n}: {exc.message}")
            return None
        if days_ago:
            # Demo history only: spread the authorizations over the past weeks.
            at = timezone.now() - timedelta(days=days_ago)
            Payment.objects.filter(pk=order.payment_id).update(
                authorized_at=at, created_at=at,
                authorization_expires_at=at + timedelta(days=shop.authorization_validity_days))
        return Payment.objects.get(pk=order.payment_id)

    def seed_orders(self, zakka, events):
        a = self.actor
        for n, days in enumerate([0, 1, 3, 10, 40, 86]):
            self.order(zakka, n, days_ago=days)  # 仮売上, one close to the 90-day limit
        for n in range(6, 9):
            services.capture_payment(self.order(zakka, n, days_ago=n - 4), by=a)  # 実売上
        services.cancel_payment(self.order(zakka, 9), by=a)  # 取消 (same day: VOID)
        services.cancel_payment(self.order(zakka, 10, days_ago=2), by=a)  # 返品 (RETURN)
        changed = self.order(zakka, 11)
        services.change_amount(changed, new_amount=changed.amount - 500, job="AUTH", by=a)
        self.order(zakka, 12, card="4000000000000002")  # declined: オーソリ失敗
        expired = self.order(zakka, 13, days_ago=95)
        services.expire_authorization(expired, by=a)  # checked at the sandbox first
        for n in range(14, 18):
            self.order(events, n)  # 即時売上
        # A capture whose answer is lost on the way back: 結果不明 until the status sync batch (every
        # 5 minutes, via beat) asks the sandbox and settles it as captured.
        lost = self.order(zakka, 18)
        self.sandbox.set_faults(rules=[{"api": "AlterTran", "action": "drop_response", "times": 1}])
        try:
            services.capture_payment(lost, by=a)
        except OutcomeUnknown:
            self.stdout.write(f"  {lost.reference}: capture answer lost on purpose; the sync batch resolves it")
        finally:
            self.sandbox.clear_faults()
        self.seed_wallet_orders(zakka)

    def wallet_order(self, shop, n, decision="approve", points=0):
        """A Recruit easy pay order; the seed plays the buyer on the sandbox's wallet page."""
        name, price = PRODUCTS[n % len(PRODUCTS)]
        order = place_wallet_order(
            shop, lines=[LineInput(name, 1, price)], total=price + 600, shipping_fee=600,
            customer_name=CUSTOMERS[n % len(CUSTOMERS)], customer_email=f"customer{n}@example.jp",
            shipping_addresses=("東京都渋谷区神南1-2-3",), by=self.actor)
        payment = order.payment
        services.start_wallet_checkout(payment, ret_url=f"{settings.PUBLIC_BASE_URL}/checkout/demo/", by=self.actor)
        payment.refresh_from_db()
        {"approve": lambda: self.sandbox.wallet_approve(payment.access_id, points=points),
         "abandon": lambda: (self.sandbox.wallet_start(payment.access_id),
                             self.sandbox.wallet_abandon(payment.access_id)),
         "fail": lambda: self.sandbox.wallet_fail(payment.access_id)}[decision]()
        services.sync_payment(payment, actor=self.actor, buyer_returned=True)
        payment.refresh_from_db()
        return order, payment

    def seed_wallet_orders(self, zakka):
        a = self.actor
        for n in range(20, 23):
            self.wallet_order(zakka, n)  # 仮売上
        _, captured = self.wallet_order(zakka, 23)
        services.capture_payment(captured, by=a)  # 決済完了
        order, edited = self.wallet_order(zakka, 24)
        line = order.lines.get()
        edit_order(order, lines=[LineChange(line.pk, 1, line.unit_price - 300)], shipping_fee=order.shipping_fee,
                   fees=order.fees, by=a)  # edited, change not yet sent: capture is blocked until it is
        self.wallet_order(zakka, 25, decision="abandon")  # 要確認
        self.wallet_order(zakka, 26, decision="fail")  # 決済失敗
        self.wallet_order(zakka, 27, points=1000)  # 仮売上, partly paid with points
        # Later checkouts: the sandbox posts its result notifications to our endpoint.
        self.sandbox.set_wallet_notify_url(zakka.gmo_shop_id, f"{settings.PUBLIC_BASE_URL}/gateways/gmo/notify/")
