"""The change manager's money safety: lost answers, double submits, validation that changes nothing."""

from __future__ import annotations

import pytest

from payments import services as payment_services
from payments.actors import Actor
from payments.errors import ChangedMeanwhile, InvalidTransition, NotPermitted, OutcomeUnknown, PaymentBusy
from payments.models import OperationState, Status
from registrations.changes import RegistrationChange
from registrations.models import LineStatus, Linkage, Registration
from tests.factories import member
from tests.registrations.helpers import event, line, payment_of, register

pytestmark = pytest.mark.django_db(transaction=True)


def change(registration, user, **kwargs) -> RegistrationChange:
    return RegistrationChange(Registration.objects.get(pk=registration.pk), by=Actor.for_user(user), **kwargs)


def test_lost_answer_is_settled_by_the_status_check_and_the_line_finished(shop, sandbox):
    operator = member(shop, "operator")
    registration = register(event(shop), ["参加費", "懇親会"], sandbox=sandbox)
    sandbox.set_faults(rules=[{"api": "ChangeTran", "action": "drop_response", "times": 1}])
    manager = change(registration, operator).cancel_line(line(registration, "懇親会").pk)
    with pytest.raises(OutcomeUnknown):
        manager.commit(seen_version=registration.version)
    assert line(registration, "懇親会").status == LineStatus.ACTIVE  # not guessed
    with pytest.raises(PaymentBusy):  # the payment is locked until the check settles it: nothing sent again
        change(Registration.objects.get(pk=registration.pk), operator).cancel_line(
            line(registration, "懇親会").pk).commit(seen_version=Registration.objects.get(pk=registration.pk).version)
    assert len(sandbox.calls("ChangeTran")) == 1
    payment = payment_of(registration)
    assert payment.operations.filter(state=OperationState.UNKNOWN).exists()
    payment_services.sync_payment(payment, actor=Actor.system("test"))
    assert payment_of(registration).amount == 5000
    assert line(registration, "懇親会").status == LineStatus.CANCELLED
    assert line(registration, "懇親会").cancel_linkage == Linkage.LINKED


def test_the_same_confirmation_twice_sends_once(shop, sandbox):
    operator = member(shop, "operator")
    registration = register(event(shop), ["参加費", "懇親会", "お弁当"], sandbox=sandbox)
    party = line(registration, "懇親会").pk
    change(registration, operator).cancel_line(party).commit(seen_version=registration.version,
                                                             idempotency_key="k1")
    with pytest.raises(ChangedMeanwhile):  # the second click carries the view it was made on
        change(registration, operator).cancel_line(party).commit(seen_version=registration.version,
                                                                 idempotency_key="k1")
    assert len(sandbox.calls("ChangeTran")) == 1


@pytest.mark.parametrize("mutate, error", [
    (lambda m, r: m.cancel_line(999999), InvalidTransition),  # another registration's / unknown line
    (lambda m, r: m.cancel_line(line(r, "参加費").pk), InvalidTransition),  # the base menu alone
    (lambda m, r: m.cancel_line(line(r, "懇親会").pk).cancel_line(line(r, "お弁当").pk), InvalidTransition),
])
def test_invalid_changes_are_refused_and_change_nothing(shop, sandbox, mutate, error):
    operator = member(shop, "operator")
    ev = event(shop, options=((3000, "懇親会"), (2000, "お弁当")))
    registration = register(ev, ["参加費", "懇親会", "お弁当"], sandbox=sandbox)
    sandbox.clear_calls()
    manager = change(registration, operator)
    mutate(manager, registration)
    # Cancelling both options leaves the base: allowed. Only the first two are refusals.
    if error is InvalidTransition and len(manager._line_ids) == 2:
        manager.commit(seen_version=registration.version)
        assert payment_of(registration).amount == 5000
        return
    with pytest.raises(error):
        manager.commit(seen_version=registration.version)
    assert sandbox.calls("ChangeTran") == [] and sandbox.calls("AlterTran") == []
    assert set(Registration.objects.get(pk=registration.pk).lines.values_list("status", flat=True)) == {"active"}


def test_a_user_of_another_shop_is_refused(shop, other_shop, sandbox):
    stranger = member(other_shop, "admin")
    registration = register(event(shop), ["参加費", "懇親会"], sandbox=sandbox)
    with pytest.raises(NotPermitted):
        change(registration, stranger).cancel_line(line(registration, "懇親会").pk).commit(
            seen_version=registration.version)
    assert payment_of(registration).status == Status.CAPTURED_IMMEDIATELY
