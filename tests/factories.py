from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from payments import services
from payments.actors import Actor
from shops.models import Shop, ShopMembership

VISA_OK = "4111111111111111"
VISA_DECLINED = "4000000000000002"
VISA_SLOW = "4000000000000259"


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"テストショップ{n}")
    code = factory.Sequence(lambda n: f"shop{n}")
    gmo_shop_id = factory.Sequence(lambda n: f"tshop{n:08d}")

    @factory.post_generation
    def credentials(obj, create, extracted, **kwargs):
        obj.set_gmo_shop_pass(extracted or "pass1234")
        if create:
            obj.save()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    is_staff = True
    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or "pw")
        if create:
            obj.save()


def member(shop: Shop, role: str, user=None):
    user = user or UserFactory()
    ShopMembership.objects.create(user=user, shop=shop, role=role)
    return user


def card_payment(shop: Shop, sandbox, amount: int = 3000, card: str = VISA_OK, authorize: bool = True,
                 reference: str = "ORDER-1"):
    """A card payment authorized (or captured, per shop setting) through the sandbox."""
    actor = Actor.system("test")
    payment = services.create_card_payment(shop, amount=amount, reference=reference, actor=actor)
    if authorize:
        token = sandbox.create_token(card)
        services.authorize_payment(payment, token=token, by=actor)
        payment.refresh_from_db()
    return payment


RET_URL = "http://shop.example/checkout/return"


def wallet_order(shop: Shop, sandbox, *, amount: int = 5000, approve: bool = True, points: int = 0,
                 addresses: tuple[str, ...] = ("東京都千代田区1-1",), number: str | None = None):
    """A Recruit easy pay order whose buyer approved at the sandbox wallet (仮売上, or 決済完了 per shop)."""
    from orders.services import LineInput, place_wallet_order

    actor = Actor.system("test")
    order = place_wallet_order(shop, lines=[LineInput("テスト商品", 1, amount)], total=amount,
                               customer_name="山田 花子", customer_email="hanako@example.com", by=actor,
                               shipping_addresses=addresses, number=number)
    payment = order.payment
    services.start_wallet_checkout(payment, ret_url=RET_URL, by=actor)
    if approve:
        sandbox.wallet_approve(payment.access_id, points=points)
        services.sync_payment(payment, actor=actor)
    payment.refresh_from_db()
    order.refresh_from_db()
    return order


def cart_orders(payment, *totals: int) -> list:
    """More orders of a cart (SPEC 4.1): one new order per total, all sharing `payment` and its shop."""
    from orders.models import Fulfilment, Order

    return [Order.objects.create(shop=payment.shop, number=f"CART-{payment.pk}-{n}", customer_name="山田 花子",
                                 total=total, payment=payment, fulfilment_status=Fulfilment.NEW)
            for n, total in enumerate(totals)]
