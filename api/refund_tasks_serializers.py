"""Manual refund tasks as the API shows them: who refunded and who confirmed as labels (a user or an API token)."""

from __future__ import annotations

from rest_framework import serializers

from refunds.models import RefundTask
from refunds.services import NOTE_MAX_LENGTH


class RefundTaskListSerializer(serializers.ModelSerializer):
    payment = serializers.IntegerField(source="payment_id", read_only=True)
    method_label = serializers.CharField(read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = RefundTask
        fields = ["id", "payment", "amount", "payee", "method", "method_label", "status", "status_label",
                  "created_at", "refunded_at", "confirmed_at"]


class RefundTaskSerializer(RefundTaskListSerializer):
    payment_reference = serializers.CharField(source="payment.reference", read_only=True)
    payment_order_id = serializers.CharField(source="payment.gateway_order_id", read_only=True,
                                             help_text="The gateway's OrderID of the payment.")
    refunded_by = serializers.CharField(source="refunded_by_label", read_only=True,
                                        help_text="Who marked it refunded: a user name or `API: <token name>`; "
                                                  "empty while open.")
    confirmed_by = serializers.CharField(source="confirmed_by_label", read_only=True,
                                         help_text="Who confirmed it (a second person); empty until then.")

    class Meta(RefundTaskListSerializer.Meta):
        fields = [*RefundTaskListSerializer.Meta.fields, "payment_reference", "payment_order_id", "reason",
                  "created_by_label", "refunded_by", "refund_note", "confirmed_by"]


class MarkRefundedSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=NOTE_MAX_LENGTH, required=False, default="", allow_blank=True,
                                 help_text="How the money was given back, for the one who confirms "
                                           "(e.g. 'transferred 11/23 from the organizer's account').")
