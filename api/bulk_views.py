"""Bulk runs (一括処理) through the API: start one over a list of the shop's payments, follow its progress, read
its per-item report.

A run started here acts as its token (bulk.services.actor_for): the items are judged with the token's
permissions as the admin judges the user's, and the token's scopes are read again per chunk, so revoking the
token (or its `bulk` scope) stops the rest. A token sees only runs touching its shop and no other.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from api.base import validated_input
from api.bulk_serializers import (
    BulkItemSerializer,
    BulkRunCreatedSerializer,
    BulkRunCreateSerializer,
    BulkRunListSerializer,
    BulkRunSerializer,
    summary_data,
)
from api.errors import error_body
from api.idempotency import idempotent, operation_key
from api.operations_filters import BulkItemFilter, BulkRunFilter
from api.pagination import NewestFirstCursor
from api.permissions import MissingScope
from api.schema import IDEMPOTENCY_KEY
from bulk.models import BulkRun, BulkRunItem
from bulk.selection import summarize
from bulk.services import SelectionChanged, start_run
from payments.models import Payment
from shops.api_scopes import Scope

# Besides `bulk`, the scope of what the run does to each payment.
KIND_SCOPES = {BulkRun.Kind.CAPTURE: Scope.CAPTURE, BulkRun.Kind.CANCEL: Scope.CANCEL}


class VisibleRunsMixin:
    def visible_runs(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request user
            return BulkRun.objects.none()
        return BulkRun.objects.of_shop_only(self.request.user.shop.pk)


def request_key(request) -> uuid.UUID:
    """The run's request_key: from the Idempotency-Key (per shop), so a retried request finds its run."""
    key = operation_key(request, "bulk-run")
    return uuid.uuid5(uuid.NAMESPACE_URL, key) if key else uuid.uuid4()


def _refusal(code: str, message: str, summary) -> Response:
    return Response({**error_body(code, message), "summary": summary_data(summary)}, status=status.HTTP_409_CONFLICT)


class BulkRunListCreateView(VisibleRunsMixin, generics.ListAPIView):
    """GET: the runs touching only this shop, newest first. POST: start a bulk capture or cancel."""

    scope = Scope.BULK
    serializer_class = BulkRunListSerializer
    filterset_class = BulkRunFilter

    def get_queryset(self):
        return self.visible_runs()

    @extend_schema(request=BulkRunCreateSerializer, responses={201: BulkRunCreatedSerializer,
                                                               200: BulkRunCreatedSerializer},
                   parameters=[IDEMPOTENCY_KEY])
    @idempotent
    def post(self, request):
        token, shop = request.user.token, request.user.shop
        kind = request.data.get("kind") if isinstance(request.data, dict) else None
        # Any JSON value may arrive here (a dict is unhashable): only a known kind's scope is checked early.
        if isinstance(kind, str) and kind in KIND_SCOPES and not token.has_scope(KIND_SCOPES[kind]):
            raise MissingScope(KIND_SCOPES[kind])  # before any payment is looked up
        data = validated_input(request, BulkRunCreateSerializer, context={"shop": shop})
        kind, ids = data["kind"], data["payments"]
        key = request_key(request)
        existing = self.visible_runs().filter(request_key=key).first()
        if existing is not None:  # the first answer was lost (not stored): the same run, as it is now
            return Response({"run": BulkRunSerializer(existing).data, "summary": None})
        queryset = Payment.objects.filter(shop=shop, pk__in=ids)
        now = timezone.now()
        summary = summarize(kind, queryset, request.user.actor, now)
        if not summary.included:
            return _refusal("nothing_to_run", "None of these payments can be processed now; see `summary`.",
                            summary)
        with translation.override(settings.LANGUAGE_CODE):  # stored like the admin's descriptions
            description = _("%(count)s payments sent through the API") % {"count": len(ids)}
        try:
            run = start_run(kind=kind, queryset=queryset, api_token=token, request_key=key,
                            fingerprint=summary.fingerprint, cutoff=summary.cutoff, description=description, now=now)
        except SelectionChanged as exc:
            return _refusal("selection_changed", "The payments changed while the run was being created; nothing "
                                                 "was started. Check `summary` and send the request again.",
                            exc.summary)
        return Response({"run": BulkRunSerializer(run).data, "summary": summary_data(summary)},
                        status=status.HTTP_201_CREATED)


class BulkRunDetailView(VisibleRunsMixin, generics.RetrieveAPIView):
    """The run's progress: status, item counts per state, started / finished."""

    serializer_class = BulkRunSerializer

    def get_queryset(self):
        return self.visible_runs()


class ItemOrderCursor(NewestFirstCursor):
    ordering = "id"  # the report reads in item order, like the admin's CSV


class BulkRunReportView(VisibleRunsMixin, generics.ListAPIView):
    """The run's items: payment, OrderID / reference, result, gateway job and code, message, processed at."""

    serializer_class = BulkItemSerializer
    filterset_class = BulkItemFilter
    pagination_class = ItemOrderCursor

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return BulkRunItem.objects.none()
        run = get_object_or_404(self.visible_runs(), pk=self.kwargs["pk"])
        return run.items.select_related("payment")
