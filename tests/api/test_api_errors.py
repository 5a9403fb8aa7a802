"""Regressions of what the schemathesis run (test_schemathesis.py) found: each one a plain request, so a server
error or an answer the schema does not describe cannot come back unnoticed."""

from __future__ import annotations

import base64

import pytest

from shops.api_scopes import Scope
from tests.api.conftest import api_client_for

pytestmark = pytest.mark.django_db


def cursor(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


# --- an /api/ path the URL patterns do not match (e.g. a non-integer id): JSON, as the schema documents ------

@pytest.mark.parametrize("path", ["/api/v1/payments/null,null/", "/api/v1/payments/abc/capture/",
                                  "/api/v1/orders/1.5/", "/api/v1/no-such-thing/"])
def test_unmatched_api_path_is_a_json_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_unmatched_path_outside_the_api_keeps_the_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/api/v1/payments/99999999999999999999999/",
                                  "/api/v1/orders/9223372036854775808/claims/"])
def test_id_beyond_bigint_is_a_404_not_a_database_error(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_id_beyond_bigint_in_a_payment_action_is_a_404(api):
    response = api.post("/api/v1/payments/99999999999999999999999/capture/")
    assert response.status_code == 404


# --- a method the view does not have: 405 with Allow, never the scope check's AssertionError (500) -----------

@pytest.mark.parametrize("method", ["put", "patch", "delete", "trace"])
@pytest.mark.parametrize("scopes", [[Scope.READ], []])
def test_undeclared_method_on_a_read_only_view_is_405(shop, method, scopes):
    client = api_client_for(shop, scopes=scopes)
    response = client.generic(method.upper(), "/api/v1/payments/1/")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]


def test_a_view_with_post_and_no_scope_still_fails_loudly():
    from rest_framework.views import APIView

    from api.permissions import required_scope

    class Careless(APIView):
        def post(self, request):
            raise AssertionError("not reached")

    with pytest.raises(AssertionError, match="declares no scope"):
        required_scope(Careless(), "POST")


# --- paging input: a 400 naming the parameter, never a silent default or a database error --------------------

@pytest.mark.parametrize("query", ["page_size=null", "page_size=0", "page_size=501", "page_size=-1",
                                   "page_size=1e3", "page_size=99999999999999999999", "page_size=5&page_size=5"])
def test_invalid_page_size_is_a_400(api, query):
    response = api.get(f"/api/v1/payments/?{query}")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid_input" and "page_size" in body["fields"]


def test_valid_page_size_pages(api, shop):
    from payments.models import Payment

    for n in range(3):
        Payment.objects.create(shop=shop, method="card", amount=1000, gateway_order_id=f"PS-{n}")
    body = api.get("/api/v1/payments/?page_size=2").json()
    assert len(body["results"]) == 2 and body["next"]
    assert len(api.get(body["next"]).json()["results"]) == 1


@pytest.mark.parametrize("value", ["garbage!", cursor("p=abc"), cursor("p=99999999999999999999"),
                                   cursor("o=-1"), cursor("r=x"), "%E3%81%82"])
def test_invalid_cursor_is_a_400(api, value):
    response = api.get(f"/api/v1/orders/?cursor={value}")
    assert response.status_code == 400, response.content
    assert "cursor" in response.json()["error"]["fields"]


def test_issued_cursor_still_works(api, shop):
    from payments.models import Payment

    for n in range(3):
        Payment.objects.create(shop=shop, method="card", amount=1000, gateway_order_id=f"CU-{n}")
    first = api.get("/api/v1/payments/?page_size=1").json()
    second = api.get(first["next"])
    assert second.status_code == 200 and second.json()["results"][0]["id"] < first["results"][0]["id"]


# --- filters: a day, a choice or a number given empty is a 400, not the full list ----------------------------

@pytest.mark.parametrize("path,param", [("/api/v1/payments/", "created_at__to"), ("/api/v1/payments/", "attention"),
                                        ("/api/v1/payments/", "status"), ("/api/v1/orders/", "created_at__from")])
def test_empty_typed_filter_is_a_400(api, path, param):
    response = api.get(f"{path}?{param}=")
    assert response.status_code == 400
    assert param in response.json()["error"]["fields"]


def test_empty_search_is_still_no_search(api):
    assert api.get("/api/v1/orders/?q=").status_code == 200


# --- the schema says what the API does ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def schema():
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def test_schema_documents_the_idempotency_key_as_it_is_checked(schema):
    from api.idempotency import KEY_PATTERN, MAX_KEY_LENGTH

    parameter = next(p for p in schema["paths"]["/api/v1/payments/{id}/capture/"]["post"]["parameters"]
                     if p["name"] == "Idempotency-Key")
    assert parameter["schema"] == {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH,
                                   "pattern": "^[!-~]+$"}
    assert KEY_PATTERN.match("!" * MAX_KEY_LENGTH) and KEY_PATTERN.match("~")
    assert not KEY_PATTERN.match("") and not KEY_PATTERN.match(" a") and not KEY_PATTERN.match("é")


def test_empty_idempotency_key_is_refused_as_documented(api, shop):
    response = api.post("/api/v1/payments/1/capture/", HTTP_IDEMPOTENCY_KEY="")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"


def test_schema_bounds_page_size(schema):
    parameter = next(p for p in schema["paths"]["/api/v1/orders/"]["get"]["parameters"] if p["name"] == "page_size")
    assert parameter["schema"] == {"type": "integer", "minimum": 1, "maximum": 500}


def test_schema_says_an_order_needs_a_line(schema, api):
    lines = schema["components"]["schemas"]["OrderCreateRequest"]["properties"]["lines"]
    assert lines["minItems"] == 1
    response = api.post("/api/v1/orders/", {"customer": {"name": "山田"}, "lines": [], "total": 100,
                                            "payment": {"method": "recruit"}}, format="json")
    assert response.status_code == 400 and "lines" in response.json()["error"]["fields"]


@pytest.mark.parametrize("path", ["/api/v1/orders/", "/api/v1/payments/{id}/capture/",
                                  "/api/v1/orders/{id}/cancel/"])
def test_writes_document_the_gateways_answers(schema, path):
    responses = schema["paths"][path]["post"]["responses"]
    for code in ("202", "402", "503"):
        assert responses[code]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


@pytest.mark.django_db(transaction=True)  # fulfilment moves after commit
def test_declined_card_answer_matches_the_documented_error(api, shop, sandbox):
    from tests.factories import VISA_DECLINED

    response = api.post("/api/v1/orders/", {
        "customer": {"name": "山田 太郎"}, "total": 1100, "payment": {"method": "card",
                                                                    "token": sandbox.create_token(VISA_DECLINED)},
        "lines": [{"product_name": "抹茶ラテ", "quantity": 1, "unit_price": 1100}]}, format="json")
    assert response.status_code == 402
    assert set(response.json()["error"]) >= {"code", "message", "gateway_code"}


def test_json_404_also_without_a_token(client):
    response = client.get("/api/v1/payments/abc/")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"


def test_a_crash_under_the_api_is_the_json_error_body(shop, monkeypatch):
    from rest_framework.test import APIClient

    from api import views
    from shops.api_scopes import ALL_SCOPES
    from shops.models import ShopApiToken

    def crash(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.PaymentListView, "get_queryset", crash)
    _, raw = ShopApiToken.issue(shop, "crash", scopes=ALL_SCOPES)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.get("/api/v1/payments/")
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "server_error" and "boom" not in response.content.decode()
