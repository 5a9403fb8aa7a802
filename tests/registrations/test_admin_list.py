"""The registration list: scoped to the user's shops, and its query count does not grow with the rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from payments.models import Method
from tests.factories import member
from tests.registrations.helpers import event, register

pytestmark = pytest.mark.django_db


def _list_queries(client) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:registrations_registration_changelist"))
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_list_query_count_is_constant_and_other_shops_are_not_listed(english_client, shop, other_shop):
    english_client.force_login(member(shop, "operator"))
    ev = event(shop)
    register(ev, ["参加費", "懇親会"], method=Method.BANK_TRANSFER, paid=False)
    one, _html = _list_queries(english_client)
    for _n in range(12):
        register(ev, ["参加費", "お弁当"], method=Method.BANK_TRANSFER, paid=False)
    hidden = register(event(other_shop), ["参加費"], method=Method.BANK_TRANSFER, paid=False)
    many, html = _list_queries(english_client)
    assert many == one
    assert hidden.number not in html and "¥7,000" in html and "¥8,000" in html
