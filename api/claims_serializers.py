"""Claims as the shop's site sees them on behalf of its customer: never the internal memo."""

from __future__ import annotations

from rest_framework import serializers

from claims.models import Claim
from orders.models import Order


class ClaimSerializer(serializers.ModelSerializer):
    order = serializers.IntegerField(source="order_id", read_only=True)
    kind_label = serializers.CharField(source="get_kind_display")
    state_label = serializers.CharField(source="get_state_display")
    reason_label = serializers.CharField(source="get_reason_display")
    refund_state_label = serializers.CharField(source="get_refund_state_display")
    seller_memo = serializers.CharField(help_text="The shop's message to the customer.")

    class Meta:
        model = Claim
        # internal_memo stays out on purpose: it is the shop's own note.
        fields = ["id", "order", "kind", "kind_label", "state", "state_label", "requested_by", "reason",
                  "reason_label", "seller_memo", "withdrawal_deadline", "refund_state", "refund_state_label",
                  "refund_amount", "fee_refund_amount", "refund_linked", "created_at", "completed_at"]


class ClaimOrderSerializer(serializers.ModelSerializer):
    delivery_status_label = serializers.CharField(source="get_delivery_status_display")
    fulfilment_status_label = serializers.CharField(source="get_fulfilment_status_display")

    class Meta:
        model = Order
        fields = ["id", "number", "delivery_status", "delivery_status_label", "ship_date", "fulfilment_status",
                  "fulfilment_status_label"]


class CustomerCancelSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=1000, required=False, default="", allow_blank=True,
                                 help_text="The customer's message to the shop (optional).")


class CustomerCancelResultSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=["cancelled", "requested"],
        help_text="`cancelled`: the order is cancelled and its refund done or under way (see claim.refund_state); "
                  "`requested`: a cancel request awaits the shop (配送準備).")
    message = serializers.CharField(help_text="What happened, in a sentence for the customer.")
    claim = ClaimSerializer()
    order = ClaimOrderSerializer()


class ClaimListSerializer(ClaimSerializer):
    """A row of GET /claims/: the claim with its order's number and customer (the admin list's columns)."""

    order_number = serializers.CharField(source="order.number", read_only=True)
    customer_name = serializers.CharField(source="order.customer_name", read_only=True)

    class Meta(ClaimSerializer.Meta):
        fields = [*ClaimSerializer.Meta.fields, "order_number", "customer_name"]


class ClaimDetailSerializer(ClaimListSerializer):
    """GET /claims/{id}/: with the order's delivery state and where the refund went (still no internal memo)."""

    order_detail = ClaimOrderSerializer(source="order", read_only=True)
    refund_task = serializers.IntegerField(source="refund_task_id", read_only=True, allow_null=True,
                                           help_text="The manual refund task, when the refund is not linked.")
    refund_operation = serializers.IntegerField(source="refund_operation_id", read_only=True, allow_null=True,
                                                help_text="The payment operation, when refunded at the gateway.")

    class Meta(ClaimListSerializer.Meta):
        fields = [*ClaimListSerializer.Meta.fields, "order_detail", "item_received_at", "refund_approved_at",
                  "refund_task", "refund_operation"]
