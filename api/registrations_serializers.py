"""Registrations, their lines (with whether each may be cancelled on its own, and why not) and the cancel input
and result of the change manager (registrations.changes)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from payments.models import Payment
from registrations.changes import line_button, offered_linkages
from registrations.models import Linkage, Registration, RegistrationLine, RegistrationStatus


class RegistrationPaymentSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display")

    class Meta:
        model = Payment
        fields = ["id", "method", "status", "status_label", "gateway_order_id", "amount", "captured_amount",
                  "refunded_amount", "version"]


class RegistrationLineSerializer(serializers.ModelSerializer):
    cancellable = serializers.BooleanField(help_text="May be cancelled on its own (option menus while another "
                                                     "line remains); otherwise cancel the whole registration.")
    not_cancellable_reason = serializers.CharField(allow_null=True)
    menu_id = serializers.IntegerField()
    refund_task_id = serializers.IntegerField(allow_null=True, help_text="The manual refund task it opened.")

    class Meta:
        model = RegistrationLine
        fields = ["id", "menu_id", "kind", "name", "price", "tax_rate", "status", "cancel_linkage", "cancelled_at",
                  "cancelled_by_label", "refund_task_id", "cancellable", "not_cancellable_reason"]


class RegistrationListSerializer(serializers.ModelSerializer):
    event_id = serializers.IntegerField()
    event_title = serializers.CharField(source="event.title")
    payment_method = serializers.CharField(source="payment.method", allow_null=True, default=None)
    payment_status = serializers.CharField(source="payment.status", allow_null=True, default=None)
    refund_pending = serializers.BooleanField(help_text="A manual refund of its payment is not confirmed yet.")

    class Meta:
        model = Registration
        fields = ["id", "number", "participant_name", "event_id", "event_title", "status", "payment_method",
                  "payment_status", "refund_pending", "version", "created_at"]


def _actor_can(serializer, registration):
    actor = serializer.context["request"].user.actor
    return lambda perm: actor.can(registration.shop_id, perm)


class RegistrationSerializer(RegistrationListSerializer):
    """Lines in the order the admin shows them (base first), the payment, and what this token may cancel."""

    lines = serializers.SerializerMethodField()
    payment = RegistrationPaymentSerializer(allow_null=True)
    offered_linkages = serializers.SerializerMethodField(
        help_text="The cancels this token may choose now: `linked` (at GMO) and/or `not_linked` (recorded here, "
                  "refunded by hand).")

    class Meta(RegistrationListSerializer.Meta):
        fields = [*RegistrationListSerializer.Meta.fields, "participant_kana", "participant_email", "lines",
                  "payment", "offered_linkages"]

    def _linkages(self, registration) -> list[str]:
        if registration.status != RegistrationStatus.REGISTERED:
            return []
        return offered_linkages(registration, _actor_can(self, registration))

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=Linkage.choices)))
    def get_offered_linkages(self, registration):
        return [str(value) for value in self._linkages(registration)]

    @extend_schema_field(RegistrationLineSerializer(many=True))
    def get_lines(self, registration):
        lines = list(registration.lines.all())
        active = [line for line in lines if line.is_active]
        may_cancel = bool(self._linkages(registration))
        for line in lines:
            enabled, reason = line_button(line, active)
            if enabled and not may_cancel:
                enabled, reason = False, _("This API token may not cancel (it lacks the cancel scope).")
            line.cancellable, line.not_cancellable_reason = enabled, (str(reason) or None) if not enabled else None
        return RegistrationLineSerializer(lines, many=True).data


class CancelLinesSerializer(serializers.Serializer):
    lines = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, allow_empty=False,
                                  max_length=100, help_text="Line ids to cancel (option menus); or `whole`.")
    whole = serializers.BooleanField(required=False, default=False,
                                     help_text="Cancel the whole registration (every remaining line).")
    linkage = serializers.ChoiceField(choices=Linkage.choices)
    reason = serializers.CharField(max_length=500, required=False, default="", allow_blank=True,
                                   help_text="Required for `not_linked` on a card payment GMO still holds.")
    expected_version = serializers.IntegerField(min_value=0, required=False,
                                                help_text="The registration `version` you looked at; stale → 409.")
    preview = serializers.BooleanField(required=False, default=False,
                                       help_text="Only say what the cancel would do; change nothing.")

    def validate(self, attrs):
        if attrs["whole"] == bool(attrs.get("lines")):
            raise serializers.ValidationError({"lines": ["Give either `lines` or `whole: true`, not both."]})
        return attrs


class ChangeEffectSerializer(serializers.Serializer):
    lines = serializers.ListField(child=serializers.IntegerField(), help_text="The line ids cancelled.")
    whole = serializers.BooleanField()
    linkage = serializers.ChoiceField(choices=Linkage.choices)
    amount = serializers.IntegerField(help_text="The cancelled lines' total (JPY).")
    money = serializers.CharField(help_text="The money effect in one sentence, as the admin's confirm page says.")
    explanation = serializers.CharField(allow_blank=True, help_text="The gateway operation's own explanation.")
    refund_task_amount = serializers.IntegerField(help_text="Opened as a manual refund task (JPY).")
    gateway_job = serializers.CharField(allow_blank=True, help_text="What is sent to the gateway (\"\": nothing).")


class CancelLinesResultSerializer(serializers.Serializer):
    committed = serializers.BooleanField(help_text="false for a preview: nothing was changed.")
    effect = ChangeEffectSerializer()
    registration = RegistrationSerializer()
