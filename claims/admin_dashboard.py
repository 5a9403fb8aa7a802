"""The dashboard's claim figures (needs attention): open claims (linking to the claim board) and withdrawal
requests whose deadline passed (linking to the claim list filtered by the same condition, claims.selectors)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext as _

from claims import selectors
from claims.admin_filters import DEADLINE_PASSED, WITHDRAWAL_PARAM
from claims.models import OPEN_STATES, Claim
from payments.dashboard import LinkedFigure, register_attention_source


@register_attention_source
def open_claims(shops, now) -> LinkedFigure:
    count = Claim.objects.filter(shop__in=shops, state__in=OPEN_STATES).count()
    return LinkedFigure("claims_open", _("Open claims (claim board)"), count, reverse("admin:claims_board"))


@register_attention_source
def withdrawal_deadline_passed(shops, now) -> LinkedFigure:
    count = selectors.expired_withdrawals(shops, now=now).count()
    url = f"{reverse('admin:claims_claim_changelist')}?{urlencode({WITHDRAWAL_PARAM: DEADLINE_PASSED})}"
    return LinkedFigure("claims_deadline_passed", _("Claims: withdrawal deadline passed"), count, url)
