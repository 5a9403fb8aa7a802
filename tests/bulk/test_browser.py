"""Bulk capture as an operator does it, in a real browser: select, confirm, watch the progress live."""

import pytest

from bulk import services
from bulk.models import BulkRun
from bulk.processing import process_run
from payments.models import Payment, Status
from tests.browser.fixtures import login
from tests.bulk.helpers import sales_calls
from tests.factories import card_payment

pytestmark = pytest.mark.django_db(transaction=True)


def test_bulk_capture_confirm_then_live_progress(page, live_server, shop, sandbox, operator, screenshot,
                                                monkeypatch):
    payments = [card_payment(shop, sandbox, amount=1000 * (i + 1)) for i in range(3)]
    queued = []
    monkeypatch.setattr(services, "enqueue", queued.append)  # the test plays the worker, below
    login(page, live_server, operator.username)
    page.goto(f"{live_server.url}/admin/payments/payment/")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "bulk_capture")
    page.click("button[name=index]")

    page.wait_for_selector("#bulk-confirm-submit")
    assert page.inner_text("#bulk-included") == "3"
    assert page.inner_text("#bulk-total-amount") == "¥6,000"
    assert page.inner_text('tr.bulk-job[data-job="SALES"] .bulk-job-count') == "3"
    screenshot("bulk-capture-confirm")
    page.click("#bulk-confirm-submit")

    page.wait_for_selector('#bulk-status[data-status="pending"]')
    assert page.inner_text("#bulk-remaining") == "3" and page.is_visible("#bulk-resume")
    run = BulkRun.objects.get()
    assert queued == [run.pk]
    process_run(run.pk)  # the page polls every second and reloads once the run is done

    page.wait_for_selector("#bulk-finished-at")  # rendered by the server: the page has reloaded
    assert page.get_attribute("#bulk-status", "data-status") == "done"
    assert page.inner_text("#bulk-done") == "3" and page.inner_text("#bulk-remaining") == "0"
    assert page.locator("#bulk-items tr.bulk-item-succeeded").count() == 3
    assert not page.is_visible("#bulk-resume")
    screenshot("bulk-capture-progress-done")
    assert {p.status for p in Payment.objects.filter(pk__in=[p.pk for p in payments])} == {Status.CAPTURED}
    assert len(sales_calls(sandbox)) == 3
