"""The claim board (SPEC 4.4): counts per claim type and state (claims.selectors.board_counts, one query),
each a link to the claim list filtered by the same query, so a count and the list it opens agree."""

from __future__ import annotations

from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from claims import selectors
from shops.selectors import shops_for_user


def board_rows(user) -> list[dict]:
    base = reverse("admin:claims_claim_changelist")
    return [{"key": row.key, "label": row.label, "count": row.count, "url": f"{base}?{row.query}"}
            for row in selectors.board_counts(shops_for_user(user))]


def board_page(admin, request) -> TemplateResponse:
    context = {**admin.admin_site.each_context(request), "opts": admin.model._meta, "title": _("Claim board"),
               "rows": board_rows(request.user)}
    return TemplateResponse(request, "admin/claims/board.html", context)
