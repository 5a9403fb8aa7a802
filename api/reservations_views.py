"""Slots and reservations: read, book, approve, cancel (SPEC 4.2) through reservations.payment_flow, the same
entry points the customer's booking page and the admin use (seats first under the slot lock, the konbini
payment's side around them)."""

from __future__ import annotations

import hashlib

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from api.base import ShopScopedMixin, validated_input
from api.booking_filters import ReservationFilter, SlotFilter
from api.errors import payment_error_response
from api.idempotency import earlier_operation, idempotent, operation_key
from api.permissions import MissingScope
from api.reservations_serializers import (
    OUTCOME_UNKNOWN,
    BookSerializer,
    ReservationCancelResultSerializer,
    ReservationCancelSerializer,
    ReservationListSerializer,
    ReservationSerializer,
    SlotSerializer,
)
from api.schema import IDEMPOTENCY_KEY
from payments import ledger
from payments.errors import InvalidTransition, PaymentError
from payments.models import OperationKind, OperationState, PaymentOperation
from reservations import payment_flow
from reservations.customer_forms import methods_for
from reservations.models import Reservation, Slot
from reservations.selectors import with_seats
from shops.api_scopes import Scope


def slots():
    return with_seats(Slot.objects.select_related("event"))


def reservations():
    return Reservation.objects.select_related("slot__event", "payment")


def reservation_detail(pk: int) -> dict:
    return ReservationSerializer(reservations().prefetch_related("events").get(pk=pk)).data


class SlotListView(ShopScopedMixin, generics.ListAPIView):
    """The shop's reservable slots with their seats left, newest first."""

    serializer_class = SlotSerializer
    filterset_class = SlotFilter

    def get_queryset(self):
        return self.shop_queryset(slots(), "event__shop")


class SlotDetailView(ShopScopedMixin, generics.RetrieveAPIView):
    serializer_class = SlotSerializer

    def get_queryset(self):
        return self.shop_queryset(slots(), "event__shop")


def booking_key(request) -> str | None:
    """The service's one-time booking key from the Idempotency-Key: a retry after a crash books once."""
    key = operation_key(request, "book")
    return hashlib.sha256(key.encode()).hexdigest() if key else None


class SlotBookView(ShopScopedMixin, APIView):
    """POST /slots/{id}/book/: book for a customer, as the event's booking page does."""

    scope = Scope.ORDERS

    @extend_schema(request=BookSerializer, responses={201: ReservationSerializer}, parameters=[IDEMPOTENCY_KEY])
    @idempotent
    def post(self, request, pk: int):
        slot = get_object_or_404(self.shop_queryset(Slot.objects.select_related("event__shop"), "event__shop"),
                                 pk=pk)
        data = validated_input(request, BookSerializer)
        offered = [value for value, _label in methods_for(slot.event)]
        method = data.get("payment_method") or offered[0]
        if method not in offered:
            raise serializers.ValidationError({"payment_method": [f"This event takes only: {', '.join(offered)}."]})
        try:
            if slot.starts_at <= timezone.now():  # the booking page offers only slots still to come
                raise InvalidTransition(_("This slot has already started; it can no longer be booked."))
            reservation = payment_flow.book(slot, name=data["name"], email=data["email"], seats=data["seats"],
                                            by=request.user.actor, payment_method=method,
                                            request_key=booking_key(request))
        except PaymentError as exc:
            return payment_error_response(exc)
        return Response(reservation_detail(reservation.pk), status=status.HTTP_201_CREATED)


class ReservationListView(ShopScopedMixin, generics.ListAPIView):
    """The shop's reservations, newest first, with the admin list's filters."""

    serializer_class = ReservationListSerializer
    filterset_class = ReservationFilter

    def get_queryset(self):
        return self.shop_queryset(reservations())


class ReservationDetailView(ShopScopedMixin, generics.RetrieveAPIView):
    serializer_class = ReservationSerializer

    def get_queryset(self):
        return self.shop_queryset(reservations().prefetch_related("events"))


class ReservationApproveView(ShopScopedMixin, APIView):
    """POST /reservations/{id}/approve/: 承認 (the konbini numbers are issued and mailed once confirmed)."""

    scope = Scope.RESERVATIONS

    @extend_schema(request=None, responses={200: ReservationSerializer}, parameters=[IDEMPOTENCY_KEY])
    @idempotent
    def post(self, request, pk: int):
        reservation = get_object_or_404(self.shop_queryset(Reservation.objects.all()), pk=pk)
        try:
            payment_flow.approve(reservation, by=request.user.actor)
        except PaymentError as exc:
            return payment_error_response(exc)
        return Response(reservation_detail(reservation.pk))


def latest_cancel(payment_id: int | None) -> PaymentOperation | None:
    """The payment's latest succeeded cancel: its ledger entry says what the cancel did to the money."""
    if payment_id is None:
        return None
    return (PaymentOperation.objects.filter(payment_id=payment_id, kind=OperationKind.CANCEL,
                                            state=OperationState.SUCCEEDED).order_by("-id").first())


class ReservationCancelView(ShopScopedMixin, APIView):
    """POST /reservations/{id}/cancel/: the payment's side first (cancel, Stripe refund or a manual refund task),
    then the seats, then the waitlist promoted into them. Needs `reservations` besides `cancel` (managing
    reservations, as on the admin's page)."""

    scope = Scope.CANCEL

    def check_permissions(self, request):
        super().check_permissions(request)
        if hasattr(self, request.method.lower()) and not request.user.token.has_scope(Scope.RESERVATIONS):
            raise MissingScope(Scope.RESERVATIONS)

    @extend_schema(request=ReservationCancelSerializer,
                   responses={200: ReservationCancelResultSerializer, 202: OUTCOME_UNKNOWN},
                   parameters=[IDEMPOTENCY_KEY])
    @idempotent
    def post(self, request, pk: int):
        reservation = get_object_or_404(self.shop_queryset(Reservation.objects.all()), pk=pk)
        reason = validated_input(request, ReservationCancelSerializer)["reason"]
        earlier = earlier_operation(request)
        if earlier is not None:  # a retry after a lost answer: what that cancel did, never a second one
            try:
                ledger.replay_answer(earlier)
            except PaymentError as exc:
                return payment_error_response(exc)
            return Response({"reservation": reservation_detail(reservation.pk), "payment_effect": earlier.explanation,
                             "promoted": []})
        seen = latest_cancel(reservation.payment_id)
        try:
            promoted = payment_flow.cancel(reservation, by=request.user.actor,
                                           reason=reason,
                                           idempotency_key=operation_key(request))
        except PaymentError as exc:
            return payment_error_response(exc)
        effect = latest_cancel(reservation.payment_id)
        return Response({
            "reservation": reservation_detail(reservation.pk),
            "payment_effect": effect.explanation if effect is not None and effect != seen else None,
            "promoted": ReservationListSerializer(reservations().filter(pk__in=[r.pk for r in promoted]),
                                                  many=True).data,
        })
