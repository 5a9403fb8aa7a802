"""The OpenAPI schema is generated without errors or warnings and covers every endpoint."""

from django.core.management import call_command


def test_schema_generates_cleanly_and_covers_every_endpoint(tmp_path, capsys):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text(encoding="utf-8")
    for path in ["/api/v1/orders/", "/api/v1/payments/{id}/", "/api/v1/payments/{id}/capture/",
                 "/api/v1/payments/{id}/cancel/", "/api/v1/payments/{id}/change-amount/",
                 "/api/v1/payments/{id}/reauthorize/", "/api/v1/payments/{id}/sync/"]:
        assert f"{path}:" in text
    assert "Idempotency-Key" in text and "bearer" in text
