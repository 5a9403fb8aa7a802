"""Unknown outcomes are resolved from SearchTrade, never by calling the operation again."""

import pytest
from django.utils import timezone

from payments import services
from payments.actors import Actor
from payments.errors import OutcomeUnknown, PaymentBusy
from payments.ledger import begin
from payments.models import OperationKind, OperationState, Payment, PaymentOperation, Status
from payments.operations import SPECS
from tests.factories import card_payment

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")


def test_dropped_capture_response_is_resolved_by_sync_without_a_second_capture(shop, sandbox):
    payment = card_payment(shop, sandbox)
    sandbox.set_faults(rules=[{"api": "AlterTran", "action": "drop_response", "times": 1}])
    with pytest.raises(OutcomeUnknown):
        services.capture_payment(payment, by=SYSTEM)
    op = PaymentOperation.objects.get(kind=OperationKind.CAPTURE)
    payment.refresh_from_db()
    assert op.state == OperationState.UNKNOWN
    assert payment.status == Status.AUTHORIZED  # we do not guess
    assert sandbox.transaction(payment.gateway_order_id)["status"] == "SALES"  # the gateway did apply it

    # While unresolved, nothing else may start on this payment.
    with pytest.raises(PaymentBusy):
        services.cancel_payment(payment, by=SYSTEM)

    result = services.sync_payment(payment, actor=SYSTEM)
    op.refresh_from_db()
    payment.refresh_from_db()
    assert op.state == OperationState.SUCCEEDED and "SearchTrade" in op.resolution
    assert payment.status == Status.CAPTURED and payment.captured_amount == payment.amount
    assert result.resolved and not result.discrepancies
    assert len(sandbox.calls("AlterTran")) == 1, "the capture was never sent twice"


def test_dropped_cancel_response_resolved_to_cancelled(shop, sandbox):
    payment = card_payment(shop, sandbox)
    sandbox.set_faults(rules=[{"api": "AlterTran", "action": "drop_response", "times": 1}])
    with pytest.raises(OutcomeUnknown):
        services.cancel_payment(payment, by=SYSTEM)
    services.sync_payment(payment, actor=SYSTEM)
    payment.refresh_from_db()
    assert payment.status == Status.VOIDED
    assert len(sandbox.calls("AlterTran")) == 1


def test_read_timeout_on_checkout_then_sync_finds_the_authorization(shop, sandbox):
    payment = card_payment(shop, sandbox, authorize=False)
    sandbox.set_faults(rules=[{"api": "ExecTran", "action": "delay", "seconds": 5, "times": 1}])
    with pytest.raises(OutcomeUnknown):
        services.authorize_payment(payment, token=sandbox.create_token("4111111111111111"), by=SYSTEM)
    payment.refresh_from_db()
    assert payment.status == Status.UNPROCESSED and payment.access_id  # ids kept for the lookup
    services.sync_payment(payment, actor=SYSTEM)
    payment.refresh_from_db()
    assert payment.status == Status.AUTHORIZED
    assert len(sandbox.calls("ExecTran")) == 1


def test_crash_before_the_call_is_resolved_as_not_applied(shop, sandbox, settings):
    """A process died after writing `pending` and before calling: the gateway never saw it."""
    payment = card_payment(shop, sandbox)
    op, _, _ = begin(payment, SPECS[OperationKind.CAPTURE], SYSTEM, None)

    # Young: it may still be in flight elsewhere, so sync leaves it alone.
    result = services.sync_payment(payment, actor=SYSTEM)
    assert result.in_flight and not result.resolved
    op.refresh_from_db()
    assert op.state == OperationState.PENDING

    PaymentOperation.objects.filter(pk=op.pk).update(
        created_at=timezone.now() - timezone.timedelta(seconds=settings.PENDING_OPERATION_STALE_SECONDS + 1))
    services.sync_payment(payment, actor=SYSTEM)
    op.refresh_from_db()
    payment.refresh_from_db()
    assert op.state == OperationState.FAILED and "not applied" in op.resolution
    assert payment.status == Status.AUTHORIZED
    services.capture_payment(payment, by=SYSTEM)  # free again
    assert len(sandbox.calls("AlterTran")) == 1


def test_sync_applies_a_change_made_directly_at_the_gateway(shop, sandbox):
    payment = card_payment(shop, sandbox)
    sandbox.patch_transaction(payment.gateway_order_id, status="VOID")
    result = services.sync_payment(payment, actor=SYSTEM)
    payment.refresh_from_db()
    assert payment.status == Status.VOIDED
    assert result.corrections
    check = payment.operations.filter(kind=OperationKind.SYNC).latest("created_at")
    assert check.actor_label == "system: test" and "VOID" in check.resolution


def test_unexplained_gateway_amount_is_reported_not_applied(shop, sandbox):
    payment = card_payment(shop, sandbox, amount=3000)
    sandbox.patch_transaction(payment.gateway_order_id, amount=2500)
    result = services.sync_payment(payment, actor=SYSTEM)
    payment.refresh_from_db()
    assert payment.amount == 3000 and payment.status == Status.AUTHORIZED
    assert any("2,500" in d for d in result.discrepancies)


def test_sync_of_unknown_order_id_at_gateway(shop, sandbox):
    payment = card_payment(shop, sandbox, authorize=False)
    result = services.sync_payment(payment, actor=SYSTEM)
    assert result.gateway_status == "NOT_FOUND" and not result.changed
    assert Payment.objects.get(pk=payment.pk).status == Status.UNPROCESSED
