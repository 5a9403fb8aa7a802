"""Bulk runs in the API: the start request, the run with its progress, what the run includes and skips (as the
admin's confirm page shows it), and the per-item report."""

from __future__ import annotations

from django.db.models import Count, Q
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bulk.models import BulkRun, BulkRunItem
from bulk.selection import Summary
from payments.card_rules import JOB_LABELS
from payments.models import Payment

MAX_PAYMENTS = 10_000
MAX_PAYMENT_ID = 2**63 - 1  # bigint: a larger id is simply unknown, never a database error
NAMED_AT_MOST = 20  # ids named in an error message; the rest counted


def _named(ids: list[int]) -> str:
    shown = ", ".join(str(pk) for pk in ids[:NAMED_AT_MOST])
    return shown if len(ids) <= NAMED_AT_MOST else f"{shown} and {len(ids) - NAMED_AT_MOST} more"


class BulkRunCreateSerializer(serializers.Serializer):
    """Needs `context={"shop": shop}`: every id must be one of the shop's payments."""

    kind = serializers.ChoiceField(choices=BulkRun.Kind.choices,
                                   help_text="`capture` needs the `capture` scope, `cancel` the `cancel` scope "
                                             "(besides `bulk`).")
    payments = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_PAYMENT_ID), min_length=1,
        max_length=MAX_PAYMENTS, help_text=f"Ids of the shop's payments (at most {MAX_PAYMENTS}, no repeats).")

    def validate_payments(self, ids: list[int]) -> list[int]:
        seen, repeated = set(), []
        for pk in ids:
            if pk in seen:
                repeated.append(pk)
            seen.add(pk)
        if repeated:
            raise serializers.ValidationError(f"Repeated payment id(s): {_named(sorted(set(repeated)))}.")
        found = set(Payment.objects.filter(shop=self.context["shop"], pk__in=ids).values_list("pk", flat=True))
        # Another shop's payment is named like an unknown one: nothing about other shops leaks.
        unknown = [pk for pk in ids if pk not in found]
        if unknown:
            raise serializers.ValidationError(f"Unknown payment id(s): {_named(unknown)}.")
        return ids


def item_counts(run: BulkRun) -> dict[str, int]:
    """Items per state, and `remaining` (waiting or processing), in one aggregate query."""
    State = BulkRunItem.State
    return run.items.aggregate(
        total=Count("pk"),
        **{state: Count("pk", filter=Q(state=state)) for state in State.values},
        remaining=Count("pk", filter=Q(state__in=BulkRunItem.OPEN_STATES)),
    )


class BulkRunCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="Waiting.")
    processing = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    remaining = serializers.IntegerField(help_text="pending + processing: not done yet.")


class BulkRunListSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    started_by = serializers.CharField(source="actor_label", read_only=True,
                                       help_text="A user name, or `API: <token name>`.")

    class Meta:
        model = BulkRun
        fields = ["id", "kind", "kind_label", "status", "status_label", "description", "started_by", "created_at",
                  "started_at", "finished_at"]


class BulkRunSerializer(BulkRunListSerializer):
    counts = serializers.SerializerMethodField()
    finished = serializers.SerializerMethodField(help_text="Done, and nothing remains.")

    class Meta(BulkRunListSerializer.Meta):
        fields = [*BulkRunListSerializer.Meta.fields, "counts", "finished"]

    def _counts(self, run: BulkRun) -> dict[str, int]:
        cache = self.context.setdefault("_counts", {})
        if run.pk not in cache:
            cache[run.pk] = item_counts(run)
        return cache[run.pk]

    @extend_schema_field(BulkRunCountsSerializer)
    def get_counts(self, run: BulkRun) -> dict:
        return self._counts(run)

    def get_finished(self, run: BulkRun) -> bool:
        return run.status == BulkRun.Status.DONE and not self._counts(run)["remaining"]


class JobLineSerializer(serializers.Serializer):
    job = serializers.CharField(help_text="SALES, VOID, RETURN or RETURNX.")
    label = serializers.CharField()
    count = serializers.IntegerField()
    amount = serializers.IntegerField(help_text="Yen.")


class SkippedLineSerializer(serializers.Serializer):
    reason = serializers.CharField()
    count = serializers.IntegerField()


class BulkSummarySerializer(serializers.Serializer):
    """What the run includes (per gateway job, with yen) and skips (with the reason), as the admin confirms it."""

    included = serializers.IntegerField()
    total_amount = serializers.IntegerField(help_text="Yen, over the included payments.")
    jobs = JobLineSerializer(many=True)
    skipped_count = serializers.IntegerField()
    skipped = SkippedLineSerializer(many=True)


def summary_data(summary: Summary) -> dict:
    return {
        "included": summary.included, "total_amount": summary.total_amount,
        "jobs": [{"job": line.job, "label": str(line.label), "count": line.count, "amount": line.total}
                 for line in summary.job_lines],
        "skipped_count": summary.skipped_count,
        "skipped": [{"reason": str(reason), "count": count} for reason, count in summary.skipped_lines],
    }


class BulkRunCreatedSerializer(serializers.Serializer):
    run = BulkRunSerializer()
    summary = BulkSummarySerializer(allow_null=True,
                                    help_text="Null when the run already existed (a retried request whose first "
                                              "answer was lost): see the run's counts.")


class BulkItemSerializer(serializers.ModelSerializer):
    payment = serializers.IntegerField(source="payment_id", read_only=True)
    order_id = serializers.CharField(source="payment.gateway_order_id", read_only=True,
                                     help_text="The gateway's OrderID.")
    reference = serializers.CharField(source="payment.reference", read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    gateway_job_label = serializers.SerializerMethodField()

    class Meta:
        model = BulkRunItem
        fields = ["id", "payment", "order_id", "reference", "state", "state_label", "gateway_job",
                  "gateway_job_label", "gateway_code", "message", "processed_at"]

    def get_gateway_job_label(self, item: BulkRunItem) -> str:
        return str(JOB_LABELS.get(item.gateway_job, item.gateway_job))
