"""Manual refund tasks (返金タスク): the list and a task, and its two steps through refunds.services.

The second-person rule holds for tokens as for users: the token that marked a task refunded cannot confirm it
(`second_person_required`, 409); another token of the shop, or a staff user in the admin, can.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from api.base import ShopScopedMixin, validated_input
from api.errors import payment_error_response
from api.idempotency import idempotent
from api.operations_filters import RefundTaskFilter
from api.refund_tasks_serializers import MarkRefundedSerializer, RefundTaskListSerializer, RefundTaskSerializer
from api.schema import IDEMPOTENCY_KEY
from payments.errors import PaymentError
from refunds import services
from refunds.models import RefundTask
from shops.api_scopes import Scope


def tasks_with_details():
    return RefundTask.objects.select_related("payment", "refunded_by", "refunded_by_token", "confirmed_by",
                                             "confirmed_by_token")


class RefundTaskListView(ShopScopedMixin, generics.ListAPIView):
    """The shop's manual refund tasks, newest first, with the admin list's filters (`attention=pending` for
    everything not confirmed yet)."""

    serializer_class = RefundTaskListSerializer
    filterset_class = RefundTaskFilter

    def get_queryset(self):
        return self.shop_queryset(RefundTask.objects.all())


class RefundTaskDetailView(ShopScopedMixin, generics.RetrieveAPIView):
    serializer_class = RefundTaskSerializer

    def get_queryset(self):
        return self.shop_queryset(tasks_with_details())


class RefundTaskStepView(ShopScopedMixin, APIView):
    """Base for POST /refund-tasks/{id}/<step>/: the task (this shop's only), then the service."""

    scope = Scope.REFUND
    input_serializer = None

    def perform(self, task: RefundTask, by, data: dict) -> None:
        raise NotImplementedError

    @idempotent
    def post(self, request, pk: int):
        task = get_object_or_404(self.shop_queryset(RefundTask.objects.all()), pk=pk)
        data = validated_input(request, self.input_serializer)
        try:
            self.perform(task, request.user.actor, data)
        except PaymentError as exc:
            return payment_error_response(exc)
        return Response(RefundTaskSerializer(tasks_with_details().get(pk=task.pk)).data)


def step_schema(request):
    return extend_schema_view(post=extend_schema(request=request, responses={200: RefundTaskSerializer},
                                                 parameters=[IDEMPOTENCY_KEY]))


@step_schema(MarkRefundedSerializer)
class MarkRefundedView(RefundTaskStepView):
    """The money was given back by hand (outside any gateway). Open tasks only; another person confirms."""

    input_serializer = MarkRefundedSerializer

    def perform(self, task, by, data):
        services.mark_refunded(task, by=by, note=data["note"])


@step_schema(None)
class ConfirmRefundView(RefundTaskStepView):
    """A second person confirms the refund: not the token (or user) that marked it refunded."""

    def perform(self, task, by, data):
        services.confirm_refund(task, by=by)
