"""The dashboard's manual refund figures (needs attention): tasks to refund, and tasks waiting for the second
person to confirm. Each links to the refund-task list filtered by the same condition (refunds.selectors)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext as _

from payments.dashboard import LinkedFigure, register_attention_source
from refunds.models import RefundTask
from refunds.selectors import ATTENTION_PARAM, TO_CONFIRM, TO_REFUND, attention_condition


def _figure(shops, choice: str, label: str) -> LinkedFigure:
    count = RefundTask.objects.filter(shop__in=shops).filter(attention_condition(choice)).count()
    url = f"{reverse('admin:refunds_refundtask_changelist')}?{urlencode({ATTENTION_PARAM: choice})}"
    return LinkedFigure(f"refunds_{choice}", label, count, url)


@register_attention_source
def refunds_to_do(shops, now) -> LinkedFigure:
    return _figure(shops, TO_REFUND, _("Manual refunds to do"))


@register_attention_source
def refunds_to_confirm(shops, now) -> LinkedFigure:
    return _figure(shops, TO_CONFIRM, _("Manual refunds to confirm"))
