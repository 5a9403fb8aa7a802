"""REST API v1: thin views that parse input, call a service and render the result."""

from __future__ import annotations

from django.db import IntegrityError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from api.base import ShopScopedMixin, validated_input
from api.card_data import find_card_data
from api.errors import error_body, payment_error_response
from api.filters import OrderFilter, PaymentFilter
from api.idempotency import earlier_operation, idempotent, operation_key
from api.schema import IDEMPOTENCY_KEY
from api.serializers import (
    ChangeAmountSerializer,
    OrderCreateSerializer,
    OrderListSerializer,
    OrderSerializer,
    PaymentListSerializer,
    PaymentSerializer,
    ReauthorizeSerializer,
    SyncResultSerializer,
)
from orders.models import Order
from orders.services import LineInput, place_card_order, place_wallet_order
from payments import ledger, selectors, services
from payments.errors import InvalidTransition, PaymentError
from payments.models import OperationKind, Payment
from payments.owned import allowed_outside_owner
from shops.api_scopes import Scope


def orders_with_details():
    return Order.objects.select_related("payment__shop").prefetch_related("lines", "payment__operations")


def _order_response(order_id: int, code: int) -> Response:
    return Response(OrderSerializer(orders_with_details().get(pk=order_id)).data, status=code)


class OrderListCreateView(ShopScopedMixin, generics.ListAPIView):
    """GET: the shop's orders, newest first. POST: place a card or Recruit easy pay order."""

    scope = Scope.ORDERS
    serializer_class = OrderListSerializer
    filterset_class = OrderFilter

    def get_queryset(self):
        return self.shop_queryset(Order.objects.select_related("payment", "shop"))

    @extend_schema(request=OrderCreateSerializer, responses={201: OrderSerializer}, parameters=[IDEMPOTENCY_KEY])
    @idempotent
    def post(self, request):
        where = find_card_data(request.data)
        if where:
            # Say where, never echo the value.
            return Response(error_body("card_data_refused",
                                       "Card numbers are never accepted. Send the gateway's card token instead.",
                                       fields={where: ["card data refused"]}), status=400)
        data = validated_input(request, OrderCreateSerializer)
        shop = request.user.shop
        earlier = earlier_operation(request, "authorize")
        if earlier is not None:  # a retry after a lost answer: that order, never a second one
            order = Order.objects.get(shop=shop, payment_id=earlier.payment_id)
            try:
                ledger.replay_answer(earlier)
            except PaymentError as exc:
                return _refused_order(exc, order)
            return _order_response(order.pk, status.HTTP_201_CREATED)
        if data.get("number") and Order.objects.filter(shop=shop, number=data["number"]).exists():
            return Response(error_body("duplicate_order_number", "This order number already exists."), status=409)
        try:
            common = dict(
                lines=[LineInput(**line) for line in data["lines"]], total=data["total"],
                customer_name=data["customer"]["name"], customer_email=data["customer"].get("email", ""),
                number=data.get("number"), by=request.user.actor, shipping_fee=data["shipping_fee"],
                fees=data["fees"], points_used=data["points_used"])
            if data["payment"].get("method") == "recruit":
                order = place_wallet_order(
                    shop, **common,
                    shipping_addresses=(data["shipping_address"],) if data["shipping_address"] else ())
            else:
                order = place_card_order(
                    shop, **common, token=data["payment"]["token"],
                    idempotency_key=operation_key(request, "authorize"), shipping_address=data["shipping_address"])
        except PaymentError as exc:
            order = None
            if exc.operation is not None:  # the authorization was tried: the order exists, as "not placed"
                order = Order.objects.filter(shop=shop, payment_id=exc.operation.payment_id).first()
            return _refused_order(exc, order)
        except IntegrityError:
            return Response(error_body("duplicate_order_number", "This order number already exists."), status=409)
        return _order_response(order.pk, status.HTTP_201_CREATED)


def _refused_order(exc: PaymentError, order: Order | None) -> Response:
    response = payment_error_response(exc)
    if order is not None:
        order.refresh_from_db()
        response.data["order"] = {"id": order.pk, "number": order.number, "fulfilment_status": order.fulfilment_status}
    return response


class OrderDetailView(ShopScopedMixin, generics.RetrieveAPIView):
    serializer_class = OrderSerializer

    def get_queryset(self):
        return self.shop_queryset(orders_with_details())


class PaymentListView(ShopScopedMixin, generics.ListAPIView):
    """The shop's payments, newest first, with the admin list's filters."""

    serializer_class = PaymentListSerializer
    filterset_class = PaymentFilter

    def get_queryset(self):
        return self.shop_queryset(Payment.objects.select_related("shop"))


class PaymentDetailView(ShopScopedMixin, generics.RetrieveAPIView):
    serializer_class = PaymentSerializer

    def get_queryset(self):
        return self.shop_queryset(Payment.objects.select_related("shop").prefetch_related("operations"))


def action_schema(request, responses):
    return extend_schema_view(post=extend_schema(request=request, responses=responses, parameters=[IDEMPOTENCY_KEY]))


class SyncResponseSerializer(serializers.Serializer):
    sync = SyncResultSerializer()
    payment = PaymentSerializer()


class PaymentActionView(APIView):
    """Base for POST /payments/{id}/<action>/."""

    serializer_class = PaymentSerializer

    input_serializer = None
    kind = ""  # the operation, for the owners' limits (payments.owned); "" = not an operation (status check)

    def perform(self, request, payment, data):
        raise NotImplementedError

    @idempotent
    def post(self, request, pk: int):
        payment = selectors.get_payment_for_shop(request.user.shop.pk, pk)
        data = validated_input(request, self.input_serializer)
        try:
            if self.kind and not allowed_outside_owner(payment, self.kind):
                raise InvalidTransition(_("This payment belongs to a reservation or registration and is operated "
                                          "from there, so that it and its payment never disagree."))
            extra = self.perform(request, payment, data)
        except PaymentError as exc:
            return payment_error_response(exc, payment)
        payment.refresh_from_db()
        body = PaymentSerializer(payment).data
        if extra:
            body = {**extra, "payment": body}
        return Response(body)


@action_schema(None, PaymentSerializer)
class CaptureView(PaymentActionView):
    kind = OperationKind.CAPTURE
    scope = Scope.CAPTURE

    def perform(self, request, payment, data):
        services.capture_payment(payment, by=request.user.actor, idempotency_key=operation_key(request))


@action_schema(None, PaymentSerializer)
class CancelView(PaymentActionView):
    kind = OperationKind.CANCEL
    scope = Scope.CANCEL

    def perform(self, request, payment, data):
        services.cancel_payment(payment, by=request.user.actor, idempotency_key=operation_key(request))


@action_schema(ChangeAmountSerializer, PaymentSerializer)
class ChangeAmountView(PaymentActionView):
    kind = OperationKind.CHANGE_AMOUNT
    scope = Scope.CHANGE_AMOUNT

    input_serializer = ChangeAmountSerializer

    def perform(self, request, payment, data):
        services.change_amount(payment, new_amount=data["amount"], job=data.get("job"), by=request.user.actor,
                               idempotency_key=operation_key(request))


@action_schema(ReauthorizeSerializer, PaymentSerializer)
class ReauthorizeView(PaymentActionView):
    kind = OperationKind.REAUTHORIZE
    scope = Scope.REAUTHORIZE

    input_serializer = ReauthorizeSerializer

    def perform(self, request, payment, data):
        services.reauthorize_payment(payment, job=data["job"], new_amount=data.get("amount"),
                                     by=request.user.actor, idempotency_key=operation_key(request))


@action_schema(None, SyncResponseSerializer)
class SyncView(PaymentActionView):
    # A status check only brings our record in line with the gateway's; it moves no money.
    scope = Scope.READ

    def perform(self, request, payment, data):
        result = services.sync_payment(payment, actor=request.user.actor)
        return {"sync": SyncResultSerializer(result).data}
