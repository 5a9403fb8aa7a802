"""Registrations: read, and cancel lines or the whole registration through the one change manager
(registrations.changes.RegistrationChange), exactly as the admin's confirm pages drive it: preview the money
effect, then commit against the version the caller saw."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.base import ShopScopedMixin, validated_input
from api.booking_filters import RegistrationFilter, with_refund_pending
from api.errors import payment_error_response
from api.idempotency import earlier_operation, idempotent, operation_key
from api.permissions import MissingScope
from api.registrations_serializers import (
    CancelLinesResultSerializer,
    CancelLinesSerializer,
    ChangeEffectSerializer,
    RegistrationListSerializer,
    RegistrationSerializer,
)
from api.reservations_serializers import OUTCOME_UNKNOWN
from api.schema import IDEMPOTENCY_KEY
from payments import ledger
from payments.errors import ChangedMeanwhile, PaymentError
from registrations.changes import (
    CANCEL_LINES,
    CHANGED,
    ChangePreview,
    RegistrationChange,
    offered_linkages,
    reason_required,
)
from registrations.models import Registration, RegistrationStatus
from shops.api_scopes import Scope
from shops.roles import Perm


def registrations():
    return with_refund_pending(Registration.objects.select_related("event", "payment"))


class RegistrationListView(ShopScopedMixin, generics.ListAPIView):
    """The shop's registrations, newest first, with the admin list's filters."""

    serializer_class = RegistrationListSerializer
    filterset_class = RegistrationFilter

    def get_queryset(self):
        return self.shop_queryset(registrations())


class RegistrationDetailView(ShopScopedMixin, generics.RetrieveAPIView):
    serializer_class = RegistrationSerializer

    def get_queryset(self):
        return self.shop_queryset(registrations().prefetch_related("lines"))


def effect_data(preview: ChangePreview) -> dict:
    return ChangeEffectSerializer({
        "lines": [line.pk for line in preview.lines], "whole": preview.whole, "linkage": preview.linkage,
        "amount": preview.amount, "money": str(preview.money), "explanation": str(preview.explanation or ""),
        "refund_task_amount": preview.refund_task_amount, "gateway_job": preview.gateway_job or ""}).data


def replayed_effect(op) -> dict:
    """The effect of a change already sent, from its ledger operation (the context carries the lines)."""
    spec = op.context.get(CANCEL_LINES, {})
    return ChangeEffectSerializer({
        "lines": spec.get("lines", []), "whole": spec.get("whole", False), "linkage": spec.get("linkage", ""),
        "amount": op.amount, "money": spec.get("effect", ""), "explanation": op.explanation or "",
        "refund_task_amount": 0, "gateway_job": op.gateway_job or ""}).data


def _require_refund_scope_for(registration: Registration, linkage: str, can) -> None:
    """`not_linked` on a card GMO holds is offered only with the refund permission (the admin's rule): a token
    without the `refund` scope is told so (403) instead of being refused as an invalid state."""
    if registration.status != RegistrationStatus.REGISTERED or linkage in offered_linkages(registration, can):
        return
    if linkage in offered_linkages(registration, lambda perm: can(perm) or perm == Perm.REFUND):
        raise MissingScope(Scope.REFUND)


class CancelLinesView(ShopScopedMixin, APIView):
    """POST /registrations/{id}/cancel-lines/: cancel option lines (`lines`) or everything (`whole`), linked (at
    GMO) or not linked (recorded here, a manual refund task for what was paid). `preview: true` only answers
    what would happen. `not_linked` on a card GMO holds also needs the `refund` scope and a `reason`."""

    scope = Scope.CANCEL

    @extend_schema(request=CancelLinesSerializer, responses={200: CancelLinesResultSerializer, 202: OUTCOME_UNKNOWN},
                   parameters=[IDEMPOTENCY_KEY])
    @idempotent
    def post(self, request, pk: int):
        registration = get_object_or_404(self.shop_queryset(
            registrations().select_related("payment__shop", "shop").prefetch_related("lines")), pk=pk)
        data = validated_input(request, CancelLinesSerializer)
        actor = request.user.actor

        def can(perm):
            return actor.can(registration.shop_id, perm)

        _require_refund_scope_for(registration, data["linkage"], can)
        if reason_required(registration, data["linkage"]) and not data["reason"]:
            raise serializers.ValidationError({"reason": [_("Give the reason for cancelling the card payment "
                                                            "without GMO (not linked).")]})
        earlier = None if data["preview"] else earlier_operation(request)
        if earlier is not None:  # a retry after a lost answer: what that operation did, never a second one
            try:
                ledger.replay_answer(earlier)
            except PaymentError as exc:
                return payment_error_response(exc)
            return self._answer(request, registration, replayed_effect(earlier), committed=True)
        change = RegistrationChange(registration, by=actor, linkage=data["linkage"], reason=data["reason"])
        if data["whole"]:
            change.cancel_all()
        for line_id in data.get("lines") or ():
            change.cancel_line(line_id)
        seen = data.get("expected_version", registration.version)
        try:
            if seen != registration.version:
                raise ChangedMeanwhile(CHANGED)
            if data["preview"]:
                effect = change.preview()
            else:
                effect = change.commit(seen_version=seen, idempotency_key=operation_key(request))
        except PaymentError as exc:
            return payment_error_response(exc)
        return self._answer(request, registration, effect_data(effect), committed=not data["preview"])

    def _answer(self, request, registration, effect: dict, *, committed: bool) -> Response:
        fresh = self.shop_queryset(registrations().prefetch_related("lines")).get(pk=registration.pk)
        return Response({"committed": committed, "effect": effect,
                         "registration": RegistrationSerializer(fresh, context={"request": request}).data})
