"""Two clicks at once on PostgreSQL: the owner row lock numbers them, so exactly one receipt is the original."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from payments.actors import Actor
from receipts.models import ReceiptIssue
from receipts.services import issue_receipt
from tests.receipts import builders

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_simultaneous_issues_make_one_original(shop):
    registration = builders.registration(builders.invoicing(shop))
    barrier = threading.Barrier(4)
    errors: list = []

    def click():
        try:
            barrier.wait(timeout=10)
            issue_receipt(registration, by=Actor.system("test"))
        except Exception as error:  # noqa: BLE001 - reported by the test, not swallowed
            errors.append(error)
        finally:
            connection.close()  # each thread opened its own connection

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    issues = ReceiptIssue.objects.filter(registration=registration).order_by("sequence")
    assert [(i.sequence, i.reissue) for i in issues] == [(1, False), (2, True), (3, True), (4, True)]
