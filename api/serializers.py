from __future__ import annotations

from rest_framework import serializers

from orders.checkout_links import checkout_url
from orders.models import Order, OrderLine
from payments.card_rules import MAX_AMOUNT
from payments.models import Payment, PaymentOperation, Status


class OperationSerializer(serializers.ModelSerializer):
    class Meta:
        model = PaymentOperation
        fields = ["id", "kind", "state", "gateway_job", "amount", "previous_amount", "status_before",
                  "status_after", "explanation", "error_code", "error_message", "gateway_status",
                  "actor_label", "resolution", "created_at", "completed_at"]


class PaymentSerializer(serializers.ModelSerializer):
    shop = serializers.CharField(source="shop.code")
    status_label = serializers.CharField(source="get_status_display")
    operations = OperationSerializer(many=True, read_only=True)

    class Meta:
        model = Payment
        fields = ["id", "shop", "method", "status", "status_label", "gateway_order_id", "access_id", "amount",
                  "pending_amount", "captured_amount", "refunded_amount", "reference", "authorized_at", "captured_at",
                  "cancelled_at", "gateway_status", "last_synced_at", "version", "operations"]


class PaymentListSerializer(serializers.ModelSerializer):
    """A payment in a list: no operation history (that is one more query per row)."""

    shop = serializers.CharField(source="shop.code")
    status_label = serializers.CharField(source="get_status_display")

    class Meta:
        model = Payment
        fields = ["id", "shop", "method", "status", "status_label", "gateway_order_id", "amount", "pending_amount",
                  "captured_amount", "refunded_amount", "reference", "authorized_at", "captured_at",
                  "cancelled_at", "created_at", "version"]


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["product_name", "options", "quantity", "unit_price", "tax_rate"]


class OrderSerializer(serializers.ModelSerializer):
    lines = OrderLineSerializer(many=True)
    payment = PaymentSerializer()
    checkout_url = serializers.SerializerMethodField(
        help_text="Where the buyer pays (Recruit easy pay, or a new payment after a change of method).")
    fulfilment_status_label = serializers.CharField(source="get_fulfilment_status_display")

    class Meta:
        model = Order
        fields = ["id", "number", "customer_name", "customer_email", "shipping_fee", "fees", "points_used",
                  "total", "fulfilment_status",
                  "fulfilment_status_label", "lines", "payment", "checkout_url", "created_at"]

    def get_checkout_url(self, order) -> str | None:
        payment = order.payment
        return checkout_url(payment) if payment is not None and payment.status == Status.UNPROCESSED else None


class OrderListSerializer(serializers.ModelSerializer):
    fulfilment_status_label = serializers.CharField(source="get_fulfilment_status_display")
    payment_id = serializers.IntegerField(allow_null=True)
    payment_status = serializers.CharField(source="payment.status", allow_null=True, default=None)

    class Meta:
        model = Order
        fields = ["id", "number", "customer_name", "total", "fulfilment_status", "fulfilment_status_label",
                  "delivery_status", "payment_id", "payment_status", "created_at"]


class LineInputSerializer(serializers.Serializer):
    product_name = serializers.CharField(max_length=200)
    options = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    quantity = serializers.IntegerField(min_value=1, max_value=9999)
    unit_price = serializers.IntegerField(min_value=0, max_value=MAX_AMOUNT)
    tax_rate = serializers.ChoiceField(choices=[8, 10], default=10)


class CustomerInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True)


class CardPaymentInputSerializer(serializers.Serializer):
    """`card` needs the gateway's one-time token; `recruit` needs nothing: the buyer follows `checkout_url`."""

    method = serializers.ChoiceField(choices=["card", "recruit"], default="card")
    token = serializers.CharField(max_length=256, required=False)

    def validate(self, attrs):
        if attrs.get("method", "card") == "card" and not attrs.get("token"):
            raise serializers.ValidationError({"token": ["A card payment needs the gateway's card token."]})
        return attrs


class OrderCreateSerializer(serializers.Serializer):
    number = serializers.RegexField(r"^[A-Za-z0-9-]{1,40}$", required=False)
    customer = CustomerInputSerializer()
    # A ListField (not many=True) so the schema says minItems: 1, as the validation does.
    lines = serializers.ListField(child=LineInputSerializer(), min_length=1)
    shipping_fee = serializers.IntegerField(min_value=0, max_value=MAX_AMOUNT, default=0)
    fees = serializers.IntegerField(min_value=0, max_value=MAX_AMOUNT, default=0)
    points_used = serializers.IntegerField(min_value=0, max_value=MAX_AMOUNT, default=0)
    shipping_address = serializers.CharField(max_length=500, required=False, default="")
    total = serializers.IntegerField(min_value=1, max_value=MAX_AMOUNT)
    payment = CardPaymentInputSerializer()


class ChangeAmountSerializer(serializers.Serializer):
    amount = serializers.IntegerField(min_value=0, max_value=MAX_AMOUNT)
    job = serializers.ChoiceField(choices=["AUTH", "CAPTURE"], required=False)


class ReauthorizeSerializer(serializers.Serializer):
    job = serializers.ChoiceField(choices=["AUTH", "CAPTURE"], default="AUTH")
    amount = serializers.IntegerField(min_value=1, max_value=MAX_AMOUNT, required=False)


class SyncResultSerializer(serializers.Serializer):
    gateway_status = serializers.CharField()
    resolved = serializers.ListField(child=serializers.CharField())
    corrections = serializers.ListField(child=serializers.CharField())
    discrepancies = serializers.ListField(child=serializers.CharField())
    in_flight = serializers.BooleanField()
