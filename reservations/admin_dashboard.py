"""The dashboard's reservation figure: confirmed reservations whose konbini payment needs a decision."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext as _

from payments.dashboard import LinkedFigure, register_attention_source
from reservations.models import Reservation
from reservations.selectors import needs_attention

KEY = "reservations_konbini"
# reservations.admin.NeedsAttentionFilter's parameter, and its value for every kind.
ATTENTION_PARAM, ANY_KONBINI = "attention", "konbini"


@register_attention_source
def konbini_decisions(shops, now) -> LinkedFigure:
    count = needs_attention(Reservation.objects.filter(shop__in=shops)).count()
    url = f"{reverse('admin:reservations_reservation_changelist')}?{urlencode({ATTENTION_PARAM: ANY_KONBINI})}"
    return LinkedFigure(KEY, _("Reservations: konbini payment needs a decision"), count, url)
