"""One error body everywhere: {"error": {"code", "message", "fields"?, "gateway_code"?}}."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

from payments.errors import GatewayDeclined, OutcomeUnknown, PaymentError


def error_body(code: str, message: str, **extra) -> dict:
    return {"error": {"code": code, "message": message, **{k: v for k, v in extra.items() if v}}}


def payment_error_response(exc: PaymentError, payment=None) -> Response:
    extra = {}
    if isinstance(exc, GatewayDeclined):
        extra["gateway_code"] = exc.gateway_code
    if exc.operation is not None:
        extra["operation_id"] = exc.operation.pk
    body = error_body(exc.code, str(exc.message), **extra)
    if payment is not None:
        from api.serializers import PaymentSerializer

        payment.refresh_from_db()
        body["payment"] = PaymentSerializer(payment).data
    code = status.HTTP_202_ACCEPTED if isinstance(exc, OutcomeUnknown) else exc.http_status
    return Response(body, status=code)


def _code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def exception_handler(exc, context):
    if isinstance(exc, PaymentError):
        return payment_error_response(exc)
    # Django's own 404 / permission errors get the codes DRF gives its equivalents.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = error_body("invalid_input", "The request has invalid fields.", fields=fields)
    else:
        detail = response.data.get("detail", str(exc)) if isinstance(response.data, dict) else str(exc)
        response.data = error_body(_code(exc) if isinstance(exc, exceptions.APIException) else "error", str(detail))
    return response
