"""OpenAPI extras: the per-shop bearer token and the Idempotency-Key header."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter


class ShopTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ShopTokenAuthentication"
    name = "ShopToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "Per-shop API token (`manage.py issue_api_token SHOP NAME`)."}


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Same key and body: the stored response is replayed and nothing is sent to the gateway again. "
                "Same key, other body: 422. Still in flight: 409.")
