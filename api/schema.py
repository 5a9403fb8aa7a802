"""OpenAPI extras: the per-shop bearer token, the Idempotency-Key header and the shared error answers."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter

from api.idempotency import MAX_KEY_LENGTH


class ShopTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ShopTokenAuthentication"
    name = "ShopToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "Per-shop API token with scopes "
                               "(`manage.py issue_api_token SHOP NAME --scopes read,capture`)."}


# What api.idempotency.KEY_PATTERN accepts (printable ASCII, 1 to MAX_KEY_LENGTH): anything else is a 400.
IDEMPOTENCY_KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[!-~]+$"}
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", IDEMPOTENCY_KEY_SCHEMA, OpenApiParameter.HEADER, required=False,
    description="Same key and body: the stored response is replayed (header `Idempotent-Replayed: true`) and "
                "nothing is sent to the gateway again. Same key, other body: 422. Still in flight: 409. "
                "1 to 200 printable ASCII characters (a UUID is the usual choice).")

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable machine-readable code, e.g. `missing_scope`, "
                                                          "`invalid_transition`, `gateway_declined`."},
                "message": {"type": "string", "description": "What happened, for a person."},
                "fields": {"type": "object", "additionalProperties": True,
                           "description": "Per-field errors of invalid input."},
                "gateway_code": {"type": "string", "description": "The gateway's own error code, when it refused."},
                "operation_id": {"type": "integer", "description": "The ledger operation concerned."},
            },
            "additionalProperties": True,
        },
    },
    "additionalProperties": True,
}

# Every operation can answer these; writes also the input, conflict and idempotency ones.
COMMON_ERRORS = {
    "401": "No or an invalid API token.",
    "403": "The token lacks the scope this operation needs, or the operation is not permitted.",
    "404": "Unknown id, or another shop's.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "429": "Too many requests; retry after the `Retry-After` seconds.",
}
WRITE_ERRORS = {
    "400": "Invalid input; `fields` says which.",
    "409": "Invalid in the current state, changed meanwhile, or the same Idempotency-Key is still in flight.",
    "415": "Unsupported media type.",
    "422": "Idempotency-Key already used with a different request.",
    # A write may reach a payment gateway (an authorization, a capture, a refund of a cancel): its answers too.
    "402": "The gateway declined (`gateway_declined`; `gateway_code` is its own code). Nothing was changed.",
    "202": "Sent to the gateway, but its answer was lost (`outcome_unknown`): the status check settles it. "
           "Retrying with the same Idempotency-Key is safe; it never reaches the gateway twice.",
    "503": "The gateway could not be reached (`gateway_unavailable`). Nothing was changed; retry later.",
}
READ_ERRORS = {"400": "Invalid filter or cursor."}


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: document the one error body on every operation (schemathesis checks it)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            errors = {**COMMON_ERRORS, **(READ_ERRORS if method == "get" else WRITE_ERRORS)}
            responses = operation.setdefault("responses", {})
            for code, description in errors.items():
                responses.setdefault(code, {"content": {"application/json": {"schema": ref}},
                                            "description": description})
    return result
