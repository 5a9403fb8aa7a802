"""Every API endpoint × {anonymous, another shop's token, a token without the scope, the right token}.

Designed answers: 401, 404 (a list answers 200 without our rows), 403 `missing_scope`, 2xx. Every refusal
leaves the database and the gateway sandbox exactly as they were. A route missing from ENDPOINTS fails
`test_every_endpoint_is_in_the_matrix`, so a new endpoint cannot skip this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.apps import apps
from django.urls import get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from claims import services as claim_services
from claims.models import Claim
from orders.models import Delivery
from payments.actors import Actor
from payments.models import Payment
from reservations.models import AcceptanceMode
from shops.api_scopes import ALL_SCOPES, Scope
from tests.api.conftest import api_client_for
from tests.bulk.helpers import make_run, rows
from tests.claims.helpers import card_order
from tests.factories import card_payment
from tests.refunds.helpers import admin_of, make_task, refunded
from tests.registrations.helpers import event, register
from tests.reservations.helpers import book, make_slot

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("matrix")
# The project's own tables: a refusal must leave every row of these as it was.
PROJECT_APPS = ["shops", "payments", "orders", "reservations", "registrations", "claims", "receipts", "refunds",
                "notices", "bulk", "batches", "api"]


@dataclass(frozen=True)
class Endpoint:
    method: str
    route: str  # as in api/urls.py, e.g. "payments/<int:pk>/capture/"
    scopes: str | tuple[str, ...]  # what the right token holds; without any one of them → 403
    make: Callable  # (shop, sandbox) → the object the path's id names (or anything the body needs)
    body: Callable = field(default=lambda obj, sandbox: {})
    ok: int = 200
    is_list: bool = False
    # Another shop's token: 404 for a path id; a body naming our objects is invalid input for them instead.
    other: tuple[int, str] = (404, "not_found")

    @property
    def required(self) -> tuple[str, ...]:
        return (self.scopes,) if isinstance(self.scopes, str) else self.scopes

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}"

    def url(self, obj) -> str:
        return "/api/v1/" + self.route.replace("<int:pk>", str(getattr(obj, "pk", 0)))


def authorized(shop, sandbox):
    return card_payment(shop, sandbox)


def cancelled_payment(shop, sandbox):
    from payments import services

    payment = card_payment(shop, sandbox)
    services.cancel_payment(payment, by=SYSTEM)
    payment.refresh_from_db()
    return payment


def order(shop, sandbox):
    return card_order(shop, sandbox)


def requested_claim(shop, sandbox):
    """A cancel request the shop asked the customer to withdraw (the state /withdraw/ accepts)."""
    placed = card_order(shop, sandbox, state=Delivery.PREPARING)
    claim = claim_services.customer_cancel(placed, by=claim_services.customer_actor(placed))
    claim_services.ask_withdrawal(claim, deadline=timezone.now() + timedelta(days=2), seller_memo="発送済みです",
                                  by=SYSTEM)
    return Claim.objects.get(pk=claim.pk)


def refund_task(shop, sandbox):
    return make_task(shop)


def refunded_task(shop, sandbox):
    """Marked refunded by a staff user: a token is the second person who may confirm."""
    return refunded(make_task(shop), admin_of(shop))


def bulk_run(shop, sandbox):
    payments = rows(shop, 1)
    return make_run(admin_of(shop), "capture", Payment.objects.filter(pk=payments[0].pk))


def free_slot(shop, sandbox):
    return make_slot(shop)


def pending_reservation(shop, sandbox):
    return book(make_slot(shop, mode=AcceptanceMode.APPROVAL))


def confirmed_reservation(shop, sandbox):
    return book(make_slot(shop))


def card_registration(shop, sandbox):
    return register(event(shop), ["参加費", "懇親会"], sandbox=sandbox)


def new_order_body(obj, sandbox):
    return {"customer": {"name": "山田 太郎"}, "total": 1100, "payment": {"method": "card",
            "token": sandbox.create_token("4111111111111111")},
            "lines": [{"product_name": "抹茶ラテ", "quantity": 1, "unit_price": 1100}]}


ENDPOINTS = [
    Endpoint("GET", "orders/", Scope.READ, order, is_list=True),
    Endpoint("POST", "orders/", Scope.ORDERS, lambda shop, sandbox: None, new_order_body, ok=201),
    Endpoint("GET", "orders/<int:pk>/", Scope.READ, order),
    Endpoint("POST", "orders/<int:pk>/cancel/", Scope.ORDERS, order),
    Endpoint("GET", "orders/<int:pk>/claims/", Scope.READ, order),
    Endpoint("GET", "payments/", Scope.READ, authorized, is_list=True),
    Endpoint("GET", "payments/<int:pk>/", Scope.READ, authorized),
    Endpoint("POST", "payments/<int:pk>/capture/", Scope.CAPTURE, authorized),
    Endpoint("POST", "payments/<int:pk>/cancel/", Scope.CANCEL, authorized),
    Endpoint("POST", "payments/<int:pk>/change-amount/", Scope.CHANGE_AMOUNT, authorized,
             lambda obj, sandbox: {"amount": 2000}),
    Endpoint("POST", "payments/<int:pk>/reauthorize/", Scope.REAUTHORIZE, cancelled_payment,
             lambda obj, sandbox: {"job": "AUTH"}),
    Endpoint("POST", "payments/<int:pk>/sync/", Scope.READ, authorized),
    Endpoint("GET", "claims/", Scope.READ, requested_claim, is_list=True),
    Endpoint("GET", "claims/<int:pk>/", Scope.READ, requested_claim),
    Endpoint("POST", "claims/<int:pk>/withdraw/", Scope.ORDERS, requested_claim),
    Endpoint("GET", "refund-tasks/", Scope.READ, refund_task, is_list=True),
    Endpoint("GET", "refund-tasks/<int:pk>/", Scope.READ, refund_task),
    Endpoint("POST", "refund-tasks/<int:pk>/mark-refunded/", Scope.REFUND, refund_task,
             lambda obj, sandbox: {"note": "振込済み"}),
    Endpoint("POST", "refund-tasks/<int:pk>/confirm/", Scope.REFUND, refunded_task),
    Endpoint("GET", "bulk-runs/", Scope.READ, bulk_run, is_list=True),
    Endpoint("POST", "bulk-runs/", (Scope.BULK, Scope.CAPTURE), authorized,
             lambda obj, sandbox: {"kind": "capture", "payments": [obj.pk]}, ok=201, other=(400, "invalid_input")),
    Endpoint("GET", "bulk-runs/<int:pk>/", Scope.READ, bulk_run),
    Endpoint("GET", "bulk-runs/<int:pk>/report/", Scope.READ, bulk_run),
    Endpoint("GET", "slots/", Scope.READ, free_slot, is_list=True),
    Endpoint("GET", "slots/<int:pk>/", Scope.READ, free_slot),
    Endpoint("POST", "slots/<int:pk>/book/", Scope.ORDERS, free_slot,
             lambda obj, sandbox: {"name": "山田 花子", "email": "hanako@example.com", "seats": 1}, ok=201),
    Endpoint("GET", "reservations/", Scope.READ, confirmed_reservation, is_list=True),
    Endpoint("GET", "reservations/<int:pk>/", Scope.READ, confirmed_reservation),
    Endpoint("POST", "reservations/<int:pk>/approve/", Scope.RESERVATIONS, pending_reservation),
    Endpoint("POST", "reservations/<int:pk>/cancel/", (Scope.CANCEL, Scope.RESERVATIONS), confirmed_reservation,
             lambda obj, sandbox: {"reason": "体調不良"}),
    Endpoint("GET", "registrations/", Scope.READ, card_registration, is_list=True),
    Endpoint("GET", "registrations/<int:pk>/", Scope.READ, card_registration),
    Endpoint("POST", "registrations/<int:pk>/cancel-lines/", Scope.CANCEL, card_registration,
             lambda obj, sandbox: {"whole": True, "linkage": "linked"}),
]


def api_routes() -> set[str]:
    routes = set()
    for pattern in get_resolver().url_patterns:
        if str(pattern.pattern) != "api/v1/":
            continue
        for view_pattern in pattern.url_patterns:
            view = view_pattern.callback.view_class
            for method in ("get", "post", "put", "patch", "delete"):
                if hasattr(view, method):
                    routes.add(f"{method.upper()} {view_pattern.pattern}")
    return routes


def test_every_endpoint_is_in_the_matrix():
    assert api_routes() == {endpoint.id for endpoint in ENDPOINTS}


def database_state() -> dict:
    """Every row of the project's tables (small in a test database): any write shows up as a difference."""
    state = {}
    for label in PROJECT_APPS:
        for model in apps.get_app_config(label).get_models():
            state[model._meta.label] = list(model.objects.order_by("pk").values_list())
    return state


def call(client: APIClient, endpoint: Endpoint, obj, sandbox):
    url = endpoint.url(obj)
    if endpoint.method == "GET":
        return client.get(url)
    return client.post(url, endpoint.body(obj, sandbox), format="json")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.id)
def test_permission_matrix(endpoint, shop, other_shop, sandbox):
    obj = endpoint.make(shop, sandbox)

    def refused(client: APIClient, status: int, code: str):
        before, calls = database_state(), len(sandbox.calls())
        response = call(client, endpoint, obj, sandbox)
        assert response.status_code == status, (endpoint.id, response.status_code, response.content[:300])
        assert response.json()["error"]["code"] == code
        assert database_state() == before, f"{endpoint.id}: a refusal changed the database"
        assert len(sandbox.calls()) == calls, f"{endpoint.id}: a refusal reached the gateway"

    refused(APIClient(), 401, "not_authenticated")

    other = api_client_for(other_shop)
    if endpoint.is_list:
        response = call(other, endpoint, obj, sandbox)
        assert response.status_code == 200 and response.json()["results"] == []
    elif obj is not None:  # a create names no object: another shop's token simply creates its own
        refused(other, *endpoint.other)

    for missing in endpoint.required:
        refused(api_client_for(shop, scopes=[scope for scope in ALL_SCOPES if scope != missing]), 403,
                "missing_scope")

    response = call(api_client_for(shop, scopes=endpoint.required), endpoint, obj, sandbox)
    assert response.status_code == endpoint.ok, (endpoint.id, response.content[:500])
    if endpoint.is_list:
        assert [row["id"] for row in response.json()["results"]][:1] == [obj.pk]
