"""A bank transfer has no gateway: a status check asks nobody, the status sync batch calls no gateway for it, and
a ledger step left open by a crash is settled as applied (nothing was ever sent anywhere)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from batches.status_sync import run_status_sync
from payments import gateway_factory, services
from payments import sync as sync_module
from payments.bank_transfer import NO_GATEWAY, MarkTransferReceived
from payments.errors import PaymentBusy
from payments.models import OperationKind, OperationState, Payment, PaymentOperation, Status
from tests.bank.helpers import SYSTEM, bank_payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_gateway(monkeypatch, sandbox):
    def refuse(*args, **kwargs):
        raise AssertionError("a gateway was asked about a bank transfer")

    monkeypatch.setattr(gateway_factory, "gateway_for", refuse)
    monkeypatch.setattr(sync_module, "gateway_for", refuse)
    return sandbox


def test_status_check_reports_no_gateway(shop, no_gateway):
    payment = bank_payment(shop)
    result = services.sync_payment(payment, actor=SYSTEM)
    assert result.gateway_status == NO_GATEWAY and not result.changed
    payment.refresh_from_db()
    assert payment.status == Status.AWAITING_PAYMENT and payment.last_synced_at is not None
    assert no_gateway.calls() == []


def test_status_batch_picks_a_booked_transfer_once_and_calls_no_gateway(shop, no_gateway):
    payment = bank_payment(shop)
    services.mark_transfer_received(payment, by=SYSTEM)
    first = run_status_sync()
    assert first.processed == 1 and first.failed == 0
    second = run_status_sync()
    assert second.processed == 0  # checked since its last change: not picked again
    payment.refresh_from_db()
    assert payment.status == Status.PAID
    assert no_gateway.calls() == []


def test_crash_between_the_ledger_steps_is_settled_without_a_gateway(shop, no_gateway, monkeypatch, settings):
    payment = bank_payment(shop)

    def crash(self, payment, plan):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(MarkTransferReceived, "call", crash)
    with pytest.raises(RuntimeError):
        services.mark_transfer_received(payment, by=SYSTEM, idempotency_key="crash-1")
    monkeypatch.undo()
    op = PaymentOperation.objects.get(idempotency_key="crash-1")
    assert op.state == OperationState.PENDING
    with pytest.raises(PaymentBusy):  # the same request again while the first is unresolved
        services.mark_transfer_received(Payment.objects.get(pk=payment.pk), by=SYSTEM, idempotency_key="crash-1")

    stale = timezone.now() - timedelta(seconds=settings.PENDING_OPERATION_STALE_SECONDS + 5)
    PaymentOperation.objects.filter(pk=op.pk).update(created_at=stale)
    monkeypatch.setattr(gateway_factory, "gateway_for", lambda *a, **k: pytest.fail("gateway asked"))
    monkeypatch.setattr(sync_module, "gateway_for", lambda *a, **k: pytest.fail("gateway asked"))
    report = run_status_sync()
    assert report.processed == 1
    payment.refresh_from_db()
    op.refresh_from_db()
    assert payment.status == Status.PAID and payment.captured_amount == payment.amount
    assert op.state == OperationState.SUCCEEDED and "no gateway" in op.resolution
    assert payment.operations.filter(kind=OperationKind.MARK_PAID).count() == 1
    assert no_gateway.calls() == []
