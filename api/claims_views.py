"""Claims API (SPEC 4.4): the shop's site cancels, withdraws and lists claims on behalf of its customer.

Thin views over claims.services (customer_cancel, withdraw_request). Another shop's order or claim is a
404; a refusal (wrong delivery state, an open claim) is the service's error with its code and message,
returned (not raised) so an Idempotency-Key replays it like any other answer.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from api.base import ShopScopedMixin, validated_input
from api.claims_serializers import (
    ClaimDetailSerializer,
    ClaimListSerializer,
    ClaimOrderSerializer,
    ClaimSerializer,
    CustomerCancelResultSerializer,
    CustomerCancelSerializer,
)
from api.errors import payment_error_response
from api.idempotency import idempotent
from api.operations_filters import ClaimFilter
from api.schema import IDEMPOTENCY_KEY
from claims import services
from claims.models import Claim, ClaimState, RefundState
from orders.models import Order
from payments.errors import PaymentError
from payments.formatting import yen
from shops.api_scopes import Scope


def _order(request, pk: int) -> Order:
    return _get(Order.objects.filter(shop=request.user.shop), pk)


def _get(queryset, pk: int):
    # Unknown and another shop's alike: nothing leaks.
    try:
        return queryset.get(pk=pk)
    except queryset.model.DoesNotExist:
        raise NotFound(_("No such order or claim.")) from None


def outcome_message(claim: Claim) -> str:
    """The answer's sentence: cancelled with the refund done / under way / nothing to refund, or requested."""
    if claim.state != ClaimState.DONE:
        return _("The cancel request was sent to the shop, which approves it or asks the customer to withdraw it.")
    if claim.refund_state in (RefundState.DONE, RefundState.PARTIAL):
        return _("The order is cancelled and %(amount)s is refunded.") % {"amount": yen(claim.refund_amount)}
    if claim.refund_state == RefundState.PENDING:
        return _("The order is cancelled; the refund of %(amount)s is under way.") % {
            "amount": yen(claim.refund_amount)}
    return _("The order is cancelled; nothing was paid, so there is nothing to refund.")


class OrderCancelView(APIView):
    """POST /orders/{id}/cancel/: the customer's cancel (done at once, or a request in 配送準備)."""

    scope = Scope.ORDERS

    @extend_schema(request=CustomerCancelSerializer, responses={200: CustomerCancelResultSerializer},
                   parameters=[IDEMPOTENCY_KEY])
    @idempotent
    def post(self, request, pk: int):
        order = _order(request, pk)
        note = validated_input(request, CustomerCancelSerializer)["note"]
        try:
            claim = services.customer_cancel(order, by=services.customer_actor(order, via=request.user.actor.label),
                                             note=note)
        except PaymentError as exc:
            return payment_error_response(exc)
        order.refresh_from_db()
        outcome = "cancelled" if claim.state == ClaimState.DONE else "requested"
        return Response({"outcome": outcome, "message": outcome_message(claim), "claim": ClaimSerializer(claim).data,
                         "order": ClaimOrderSerializer(order).data})


class ClaimWithdrawView(APIView):
    """POST /claims/{id}/withdraw/: the customer withdraws a cancel request (after the shop asked)."""

    scope = Scope.ORDERS

    @extend_schema(request=None, responses={200: ClaimSerializer}, parameters=[IDEMPOTENCY_KEY])
    @idempotent
    def post(self, request, pk: int):
        claim = _get(Claim.objects.select_related("order").filter(shop=request.user.shop), pk)
        try:
            claim = services.withdraw_request(claim, by=services.customer_actor(claim.order,
                                                                                via=request.user.actor.label))
        except PaymentError as exc:
            return payment_error_response(exc)
        return Response(ClaimSerializer(claim).data)


class OrderClaimsView(APIView):
    """GET /orders/{id}/claims/: the order's claims, newest first."""

    @extend_schema(responses={200: ClaimSerializer(many=True)})
    def get(self, request, pk: int):
        order = _order(request, pk)
        return Response(ClaimSerializer(order.claims.all(), many=True).data)


class ClaimListView(ShopScopedMixin, generics.ListAPIView):
    """GET /claims/: the shop's claims, newest first, with the admin list's filters (`withdrawal=expired`: the
    withdrawal requests whose deadline passed, which staff must decide)."""

    serializer_class = ClaimListSerializer
    filterset_class = ClaimFilter

    def get_queryset(self):
        return self.shop_queryset(Claim.objects.select_related("order"))


class ClaimDetailView(ShopScopedMixin, generics.RetrieveAPIView):
    serializer_class = ClaimDetailSerializer

    def get_queryset(self):
        return self.shop_queryset(Claim.objects.select_related("order"))
