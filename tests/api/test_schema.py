"""The OpenAPI schema: generated without warnings, checked into the repo, served with a docs page."""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

CHECKED_IN = Path(settings.BASE_DIR) / "api" / "openapi.yaml"


def generate(tmp_path) -> str:
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--lang", "en", "--file", str(out))
    return out.read_text(encoding="utf-8")


def test_checked_in_schema_matches_the_code(tmp_path):
    """Fails when an endpoint, field or error changed without `make schema` (review the diff, commit it)."""
    assert generate(tmp_path) == CHECKED_IN.read_text(encoding="utf-8"), (
        "api/openapi.yaml is out of date: run `make schema` and commit the result")


def test_schema_covers_every_endpoint_with_the_token_and_the_idempotency_key(tmp_path):
    text = generate(tmp_path)
    for path in ["/api/v1/orders/", "/api/v1/payments/", "/api/v1/payments/{id}/", "/api/v1/payments/{id}/capture/",
                 "/api/v1/payments/{id}/cancel/", "/api/v1/payments/{id}/change-amount/",
                 "/api/v1/payments/{id}/reauthorize/", "/api/v1/payments/{id}/sync/"]:
        assert f"{path}:" in text
    assert "Idempotency-Key" in text and "bearer" in text and "missing_scope" in text


@pytest.mark.django_db
def test_schema_and_docs_pages_are_served_without_a_token(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200 and "/api/v1/payments/{id}/capture/" in schema.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "swagger-ui" in page and "cdn.jsdelivr" not in page  # assets served by us (sidecar), no CDN
