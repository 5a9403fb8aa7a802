"""Every path that records a cancel without giving the money back at a gateway opens exactly one manual refund
task, with the right amount, payee and method, linked to where it came from (SPEC 7 "linked vs not linked").

Paths, each driven the way production drives it (sandbox gateways, admin pages, services, API):
- Recruit easy pay, captured, cancelled after the PG's cancel period: from the payment page, through the API
  (twice with the same key: still one task), and as the last live order of a cart from the order page.
- A Recruit easy pay cancel whose recording crashed after it began (nothing is sent to the PG for it): the
  status check settles it, and the task is opened then.
- Konbini, paid at the store, cancelled with its reservation (reservation page, the list's bulk action, the
  services), also for a one-off payment request (単発決済) that was paid; and a konbini cancel whose recording
  crashed, settled by the status check.
Contrasts, that open none: a cancel the gateway executes (PG cancel in its period, Stripe refund setting,
an unpaid konbini voucher). Bank transfer and registrations are covered by their own tests.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from gateways.sandbox.stripe_konbini import DEFAULT_KEYS
from orders.cancellation import cancel_order
from orders.models import Fulfilment, Order
from payments import ledger, services
from payments.actors import Actor
from payments.errors import InvalidTransition
from payments.models import Method, OperationKind, OperationState, Payment, PaymentOperation, Status
from payments.specs import spec_for
from refunds.models import RefundTask, RefundTaskStatus
from refunds.origins import origin_links
from reservations import payment_flow, payment_requests
from reservations.models import Reservation
from reservations.models import Status as R
from shops.roles import Role
from tests.api.conftest import api_client_for
from tests.factories import cart_orders, member, wallet_order
from tests.reservations.helpers import make_slot

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")
PAYEE = "山田 花子"  # tests.factories.wallet_order's customer, and our konbini customer


def only_task(payment) -> RefundTask:
    tasks = list(RefundTask.objects.filter(payment_id=payment.pk))
    assert len(tasks) == 1, f"expected exactly one manual refund task, found {len(tasks)}"
    return tasks[0]


def assert_task(payment, *, amount: int, method: str, origin: str) -> RefundTask:
    task = only_task(payment)
    assert (task.amount, task.payee, task.method, task.status, task.shop_id) == (
        amount, PAYEE, method, RefundTaskStatus.OPEN, payment.shop_id)
    assert task.reason  # the cancel's own explanation of why it is refunded by hand
    assert origin in [url for _label, url in origin_links(task.payment)], "the task links to its business page"
    return task


def fresh_payment(payment) -> Payment:
    return Payment.objects.get(pk=payment.pk)


# --- Recruit easy pay ------------------------------------------------------------------------------------

@contextmanager
def moved_to(sandbox, moment):
    """Django's clock and the sandbox PG's clock at `moment` together."""
    sandbox.set_clock(at=moment)
    try:
        with time_machine.travel(moment, tick=False):
            yield moment
    finally:
        sandbox.set_clock(0)


def past_pg_window(sandbox):
    """70 days after now: past the PG's cancel period of a capture made now (end of the following month)."""
    return moved_to(sandbox, timezone.now() + timedelta(days=70))


def captured_wallet_order(shop, sandbox, amount=5000) -> Order:
    order = wallet_order(shop, sandbox, amount=amount)
    services.capture_payment(order.payment, by=SYSTEM)
    order.payment.refresh_from_db()
    assert order.payment.status == Status.CAPTURED
    return order


def order_url(order) -> str:
    return reverse("admin:orders_order_change", args=[order.pk])


def test_wallet_cancel_from_the_payment_page_after_the_pg_period(client, shop, sandbox):
    order = captured_wallet_order(shop, sandbox, amount=5000)
    with past_pg_window(sandbox):
        client.force_login(member(shop, Role.OPERATOR))  # (a session from before would have expired)
        url = reverse("admin:payments_payment_operate", args=[order.payment_id, OperationKind.CANCEL])
        client.post(url, {"confirmed": "1", "version": fresh_payment(order.payment).version})
    payment = fresh_payment(order.payment)
    assert payment.status == Status.CANCELLED
    assert sandbox.wallet_transaction(payment.gateway_order_id)["status"] == "SALES"  # nothing sent to the PG
    assert_task(payment, amount=5000, method=Method.RECRUIT, origin=order_url(order))


def test_wallet_cancel_through_the_api_twice_with_one_key_opens_one_task(shop, sandbox):
    order = captured_wallet_order(shop, sandbox, amount=4200)
    api = api_client_for(shop)
    with past_pg_window(sandbox):
        for _ in range(2):
            response = api.post(f"/api/v1/payments/{order.payment_id}/cancel/", HTTP_IDEMPOTENCY_KEY="cancel-1")
            assert response.status_code == 200, response.content
    assert fresh_payment(order.payment).status == Status.CANCELLED
    assert_task(order.payment, amount=4200, method=Method.RECRUIT, origin=order_url(order))


def test_wallet_cart_the_last_live_order_cancelled_after_the_pg_period(client, shop, sandbox,
                                                                        django_capture_on_commit_callbacks):
    first = wallet_order(shop, sandbox, amount=5000)
    payment = first.payment
    Order.objects.filter(pk=first.pk).update(total=3000)
    (second,) = cart_orders(payment, 2000)
    services.capture_payment(payment, by=SYSTEM)
    operator = member(shop, Role.OPERATOR)
    # The next day the PG still takes a decrease: the second order's part goes back through the PG (no task).
    with moved_to(sandbox, timezone.now() + timedelta(days=1, hours=2)):
        cancel_order(Order.objects.get(pk=second.pk), by=Actor.for_user(operator))
    assert fresh_payment(payment).amount == 3000 and not RefundTask.objects.exists()

    with past_pg_window(sandbox):
        client.force_login(operator)
        url = reverse("admin:orders_order_cancel_order", args=[first.pk])
        with django_capture_on_commit_callbacks(execute=True):  # the order follows its payment after commit
            client.post(url, {"confirmed": "1", "version": fresh_payment(payment).version})
    assert fresh_payment(payment).status == Status.CANCELLED
    assert Order.objects.get(pk=first.pk).fulfilment_status == Fulfilment.CANCELLED
    assert_task(payment, amount=3000, method=Method.RECRUIT, origin=order_url(first))


def test_wallet_cart_one_order_after_the_pg_period_is_refused_not_silently_recorded(shop, sandbox):
    """With another order still live, one order's part can only be a decrease at the PG: past its period that
    is refused, and nothing is recorded (no cancel without either the PG or a task)."""
    first = wallet_order(shop, sandbox, amount=5000)
    payment = first.payment
    Order.objects.filter(pk=first.pk).update(total=3000)
    (second,) = cart_orders(payment, 2000)
    services.capture_payment(payment, by=SYSTEM)
    with past_pg_window(sandbox), pytest.raises(InvalidTransition):
        cancel_order(Order.objects.get(pk=second.pk), by=SYSTEM)
    assert Order.objects.get(pk=second.pk).fulfilment_status == Fulfilment.NEW
    assert fresh_payment(payment).status == Status.CAPTURED and not RefundTask.objects.exists()


def test_wallet_cancel_within_the_pg_period_opens_none(shop, sandbox):
    order = captured_wallet_order(shop, sandbox)
    services.cancel_payment(order.payment, by=SYSTEM)
    assert fresh_payment(order.payment).status == Status.CANCELLED
    assert not RefundTask.objects.exists()


def crashed_cancel(payment, **params) -> PaymentOperation:
    """A cancel begun on the ledger (pending) whose recording never ran, as after a crash between the two."""
    op, plan, _new = ledger.begin(payment, spec_for(payment, OperationKind.CANCEL), SYSTEM, None, **params)
    assert op.state == OperationState.PENDING and op.gateway_job == "MANUAL"
    return op


def stale(settings) -> timedelta:
    """How long after its start a pending operation is no longer taken as still in flight."""
    return timedelta(seconds=settings.PENDING_OPERATION_STALE_SECONDS + 60)


def test_wallet_manual_cancel_settled_by_the_status_check_opens_its_task(shop, sandbox, settings):
    order = captured_wallet_order(shop, sandbox, amount=5000)
    later = timezone.now() + timedelta(days=70)  # past the PG's cancel period
    with moved_to(sandbox, later):
        op = crashed_cancel(fresh_payment(order.payment))
    assert not RefundTask.objects.exists()
    with moved_to(sandbox, later + stale(settings)):
        services.sync_payment(fresh_payment(order.payment), actor=SYSTEM)
        services.sync_payment(fresh_payment(order.payment), actor=SYSTEM)  # a second check changes nothing
    op.refresh_from_db()
    assert op.state == OperationState.SUCCEEDED
    assert fresh_payment(order.payment).status == Status.CANCELLED
    assert_task(order.payment, amount=5000, method=Method.RECRUIT, origin=order_url(order))


# --- konbini (reservations) --------------------------------------------------------------------------------

PRICE = 3000


@pytest.fixture
def konbini_shop(shop, sandbox, sandbox_server, settings):
    settings.STRIPE_API_BASE = sandbox_server.url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    shop.set_stripe_secret_key(DEFAULT_KEYS[0])
    shop.save()
    return shop


def paid_reservation(shop, sandbox, seats=1) -> Reservation:
    """Confirmed (first come), numbers issued, paid at the store; the status check learnt it."""
    reservation = payment_flow.book(make_slot(shop, price=PRICE), name=PAYEE, email="hanako@example.com",
                                    seats=seats, by=SYSTEM, payment_method="konbini")
    sandbox.stripe_pay(reservation.payment.external_id)
    services.sync_payment(reservation.payment, actor=SYSTEM)
    reservation = Reservation.objects.select_related("payment").get(pk=reservation.pk)
    assert reservation.payment.status == Status.PAID
    return reservation


def reservation_url(reservation) -> str:
    return reverse("admin:reservations_reservation_change", args=[reservation.pk])


def test_konbini_paid_reservation_cancelled_from_its_page(client, konbini_shop, sandbox):
    reservation = paid_reservation(konbini_shop, sandbox, seats=2)
    client.force_login(member(konbini_shop, Role.OPERATOR))
    url = reverse("admin:reservations_reservation_operate", args=[reservation.pk, "cancel"])
    page = client.get(url)
    client.post(url, {"confirmed": "1", "seen": page.context["seen"], "key": page.context["key"]})
    reservation = Reservation.objects.select_related("payment").get(pk=reservation.pk)
    assert reservation.status == R.CANCELLED and reservation.payment.status == Status.CANCELLED
    assert sandbox.calls("refunds.create") == []
    assert_task(reservation.payment, amount=2 * PRICE, method=Method.KONBINI, origin=reservation_url(reservation))


def test_konbini_paid_reservations_cancelled_by_the_list_action_open_one_task_each(client, konbini_shop, sandbox):
    reservations = [paid_reservation(konbini_shop, sandbox), paid_reservation(konbini_shop, sandbox, seats=3)]
    client.force_login(member(konbini_shop, Role.OPERATOR))
    client.post(reverse("admin:reservations_reservation_changelist"),
                {"action": "cancel_selected", "_selected_action": [r.pk for r in reservations], "confirmed": "1",
                 "reason": "イベント中止"})
    for reservation, seats in zip(reservations, (1, 3), strict=True):
        assert Reservation.objects.get(pk=reservation.pk).status == R.CANCELLED
        task = assert_task(reservation.payment, amount=seats * PRICE, method=Method.KONBINI,
                           origin=reservation_url(reservation))
        assert "イベント中止" in task.reason


def test_konbini_paid_one_off_request_cancelled_with_its_reservation(konbini_shop, sandbox, monkeypatch):
    monkeypatch.setattr("reservations.payment_requests.payment_request_path",
                        lambda payment: f"/reserve/pay/{payment.pk}/")  # the mailed link; not under test
    reservation = payment_flow.book(make_slot(konbini_shop, price=PRICE), name=PAYEE, email="hanako@example.com",
                                    by=SYSTEM, payment_method="konbini")
    sandbox.stripe_expire(reservation.payment.external_id)
    services.sync_payment(reservation.payment, actor=SYSTEM)
    reservation = payment_requests.send_payment_request(Reservation.objects.get(pk=reservation.pk), by=SYSTEM)
    request = reservation.payment
    payment_requests.issue_requested_numbers(request, by=SYSTEM)
    sandbox.stripe_pay(fresh_payment(request).external_id)
    services.sync_payment(fresh_payment(request), actor=SYSTEM)
    assert fresh_payment(request).status == Status.PAID

    payment_flow.cancel(Reservation.objects.get(pk=reservation.pk), by=SYSTEM, reason="お客様都合")

    assert Reservation.objects.get(pk=reservation.pk).status == R.CANCELLED
    task = assert_task(request, amount=PRICE, method=Method.KONBINI, origin=reservation_url(reservation))
    assert "お客様都合" in task.reason
    assert not RefundTask.objects.exclude(pk=task.pk).exists()  # none for the expired payment it replaced


def test_konbini_manual_cancel_settled_by_the_status_check_opens_its_task(konbini_shop, sandbox, settings):
    reservation = paid_reservation(konbini_shop, sandbox)
    op = crashed_cancel(reservation.payment)
    with time_machine.travel(timezone.now() + stale(settings), tick=False):
        services.sync_payment(fresh_payment(reservation.payment), actor=SYSTEM)
        services.sync_payment(fresh_payment(reservation.payment), actor=SYSTEM)
    op.refresh_from_db()
    assert op.state == OperationState.SUCCEEDED
    assert_task(reservation.payment, amount=PRICE, method=Method.KONBINI, origin=reservation_url(reservation))


def test_konbini_cancels_the_gateway_executes_open_none(konbini_shop, sandbox):
    unpaid = payment_flow.book(make_slot(konbini_shop, price=PRICE), name=PAYEE, email="hanako@example.com",
                               by=SYSTEM, payment_method="konbini")
    payment_flow.cancel(unpaid, by=SYSTEM)  # the voucher is cancelled at Stripe: nothing was paid
    konbini_shop.konbini_refunds_via_stripe = True
    konbini_shop.save()
    paid = paid_reservation(konbini_shop, sandbox)
    payment_flow.cancel(paid, by=SYSTEM)  # Stripe refunds it
    assert fresh_payment(paid.payment).status == Status.CANCELLED
    assert not RefundTask.objects.exists()
