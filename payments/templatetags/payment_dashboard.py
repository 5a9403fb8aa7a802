"""`{% payment_dashboard as dashboard %}` for the admin index, and the `yen` filter (¥12,345)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django import template
from django.urls import reverse

from payments.admin_filters import ATTENTION_PARAM
from payments.dashboard import Dashboard, dashboard_for

register = template.Library()


@register.filter
def yen(value) -> str:
    try:
        return f"¥{int(value):,}"
    except (TypeError, ValueError):
        return ""


@dataclass(frozen=True)
class Link:
    key: str
    label: str
    count: int
    url: str


@dataclass(frozen=True)
class DashboardView:
    data: Dashboard
    statuses: list[Link]
    attention: list[Link]


@register.simple_tag(takes_context=True)
def payment_dashboard(context) -> DashboardView | None:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    data = dashboard_for(user)
    if data is None:
        return None
    changelist = reverse("admin:payments_payment_changelist")

    def link(figure, param):
        return Link(figure.key, figure.label, figure.count, f"{changelist}?{urlencode({param: figure.key})}")

    return DashboardView(data=data, statuses=[link(f, "status__exact") for f in data.statuses],
                         attention=[link(f, ATTENTION_PARAM) for f in data.attention]
                         + [Link(f.key, f.label, f.count, f.url) for f in data.business_attention])
