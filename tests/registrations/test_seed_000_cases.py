"""Seed 000 (決済済みオプションメニューのキャンセル): its four cases and each of its notes, through the admin pages.

Every test drives the registration page → the "change" / "Change status" page → the confirm page → the
result, and checks what was offered, what reached the gateway (the sandbox's call log), and the statuses
and manual refund tasks that result.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from payments.models import Method, Status
from refunds.models import RefundTask
from registrations.models import LineStatus, Linkage, Registration, RegistrationStatus
from tests.factories import UserFactory, member
from tests.registrations.helpers import event, line, payment_of, register

pytestmark = pytest.mark.django_db(transaction=True)

LINKED, NOT_LINKED = Linkage.LINKED.value, Linkage.NOT_LINKED.value


@pytest.fixture
def operator_client(english_client, shop):
    english_client.force_login(member(shop, "operator"))
    return english_client


def page(client, registration):
    response = client.get(reverse("admin:registrations_registration_change", args=[registration.pk]))
    assert response.status_code == 200
    return response


def cancel_url(registration, line_=None):
    if line_ is None:
        return reverse("admin:registrations_registration_change_status", args=[registration.pk])
    return reverse("admin:registrations_registration_cancel_line", args=[registration.pk, line_.pk])


def offered(client, url) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200
    return [value for value, _label in response.context["offered"]]


def confirm_page(client, url, linkage, reason=""):
    response = client.post(url, {"linkage": linkage, "reason": reason})
    assert response.status_code == 200
    return response


def run(client, url, linkage, reason=""):
    """Choose, read the confirm page, confirm; returns (confirm page text, result page text)."""
    confirm = confirm_page(client, url, linkage, reason)
    assert confirm.context["preview"] is not None, confirm.context["error"]
    result = client.post(url, {"confirmed": "1", "linkage": linkage, "reason": reason,
                               "version": confirm.context["version"], "key": confirm.context["key"]}, follow=True)
    return confirm.content.decode(), result.content.decode()


def gmo_jobs(sandbox) -> list[str]:
    """What reached GMO's card API, in order: AlterTran job codes and ChangeTran as CHANGE:<amount>."""
    calls = sorted(sandbox.calls("AlterTran") + sandbox.calls("ChangeTran"), key=lambda c: c["seq"])
    return [c["params"].get("JobCd") if c["api"] == "AlterTran" else f"CHANGE:{c['params'].get('Amount')}"
            for c in calls]


def fresh(registration) -> Registration:
    return Registration.objects.get(pk=registration.pk)


# --- case 1: one option menu only, card → whole payment "Cancel (GMO linked)", refunded at GMO -------------------


def test_one_option_card_cancels_whole_payment_linked(operator_client, shop, sandbox):
    ev = event(shop, base=None, options=((3000, "懇親会"),))
    registration = register(ev, ["懇親会"], sandbox=sandbox)
    sandbox.clear_calls()
    html = page(operator_client, registration).content.decode()
    assert 'id="line-change-' in html and "disabled" in html  # the only line: its button is greyed out
    assert "last remaining line" in html
    assert offered(operator_client, cancel_url(registration)) == [LINKED]  # operator: no refund permission
    confirm, result = run(operator_client, cancel_url(registration), LINKED)
    assert "¥3,000 refunded to the card via GMO." in confirm
    assert "¥3,000 refunded to the card via GMO." in result
    assert gmo_jobs(sandbox) == ["VOID"]
    assert payment_of(registration).status == Status.VOIDED
    assert fresh(registration).status == RegistrationStatus.CANCELLED
    assert line(registration, "懇親会").status == LineStatus.CANCELLED
    assert not RefundTask.objects.exists()


# --- case 2: one option only, bank transfer / konbini → only "Cancel (not linked)", manual refund task -----------


@pytest.mark.parametrize("method", [Method.BANK_TRANSFER, Method.KONBINI])
def test_one_option_bank_or_konbini_offers_only_not_linked(operator_client, shop, sandbox, method, request):
    if method == Method.KONBINI:
        request.getfixturevalue("konbini_shop")
    ev = event(shop, base=None, options=((3000, "懇親会"),))
    registration = register(ev, ["懇親会"], method=method, sandbox=sandbox)
    sandbox.clear_calls()
    assert offered(operator_client, cancel_url(registration)) == [NOT_LINKED]
    confirm, result = run(operator_client, cancel_url(registration), NOT_LINKED)
    assert "Recorded only; refund ¥3,000 by hand" in confirm or "refund" in confirm.lower()
    assert gmo_jobs(sandbox) == []
    if method == Method.KONBINI:  # the paid intent stays as Stripe has it: nothing is refunded there
        assert sandbox.stripe_intent(payment_of(registration).external_id)["status"] == "succeeded"
    assert payment_of(registration).status == Status.CANCELLED
    assert fresh(registration).status == RegistrationStatus.CANCELLED
    task = RefundTask.objects.get()
    assert (task.amount, task.payee, task.method) == (3000, "山田 花子", method)


# --- case 3: several option menus only → line by line; the last line's button disabled; whole change --------------


def test_several_options_card_line_by_line_then_last_through_change_status(operator_client, shop, sandbox):
    ev = event(shop, base=None)
    registration = register(ev, ["懇親会", "お弁当"], sandbox=sandbox)
    sandbox.clear_calls()
    html = page(operator_client, registration).content.decode()
    bento = line(registration, "お弁当")
    assert f'href="{cancel_url(registration, bento)}"' in html  # both lines have an enabled button
    confirm, result = run(operator_client, cancel_url(registration, bento), LINKED)
    assert "¥2,000 refunded to the card via GMO." in confirm
    assert gmo_jobs(sandbox) == ["CHANGE:3000"]
    payment = payment_of(registration)
    assert (payment.status, payment.amount) == (Status.CAPTURED_IMMEDIATELY, 3000)
    # One line left: its button is disabled and points to the whole-payment change; a forged POST is refused.
    party = line(registration, "懇親会")
    html = page(operator_client, registration).content.decode()
    assert f'id="line-change-{party.pk}" disabled' in html
    response = operator_client.post(cancel_url(registration, party), {"linkage": LINKED})
    assert "Change status" in response.context["error"]
    assert gmo_jobs(sandbox) == ["CHANGE:3000"]
    confirm, result = run(operator_client, cancel_url(registration), LINKED)
    assert "¥3,000 refunded to the card via GMO." in confirm
    assert gmo_jobs(sandbox)[-1] in ("VOID", "RETURN")
    assert payment_of(registration).status in (Status.VOIDED, Status.RETURNED)
    assert fresh(registration).status == RegistrationStatus.CANCELLED


def test_several_options_whole_change_cancels_all_lines_at_once(operator_client, shop, sandbox):
    ev = event(shop, base=None)
    registration = register(ev, ["懇親会", "お弁当", "資料のみ"], sandbox=sandbox)
    sandbox.clear_calls()
    confirm, result = run(operator_client, cancel_url(registration), LINKED)
    assert "¥5,000 refunded to the card via GMO." in confirm
    assert gmo_jobs(sandbox) == ["VOID"]
    assert set(fresh(registration).lines.values_list("status", flat=True)) == {LineStatus.CANCELLED}


def test_several_options_bank_transfer_line_by_line_not_linked(operator_client, shop, sandbox):
    ev = event(shop, base=None)
    registration = register(ev, ["懇親会", "お弁当"], method=Method.BANK_TRANSFER)
    assert offered(operator_client, cancel_url(registration, line(registration, "お弁当"))) == [NOT_LINKED]
    confirm, _result = run(operator_client, cancel_url(registration, line(registration, "お弁当")), NOT_LINKED)
    assert "Recorded only; refund ¥2,000 by hand" in confirm
    assert line(registration, "お弁当").refund_task.amount == 2000
    # The whole-payment change refunds only what is still held: ¥3,000, not the ¥5,000 first paid.
    confirm, _result = run(operator_client, cancel_url(registration), NOT_LINKED)
    assert sorted(RefundTask.objects.values_list("amount", flat=True)) == [2000, 3000]
    assert payment_of(registration).status == Status.CANCELLED
    assert gmo_jobs(sandbox) == []


# --- case 4: base + options → per-option-line dialog; card refunds the line at GMO (amount change) -------------


def test_base_and_options_card_partial_refund_at_gmo(operator_client, shop, sandbox):
    ev = event(shop)
    registration = register(ev, ["参加費", "懇親会", "お弁当"], sandbox=sandbox)
    sandbox.clear_calls()
    html = page(operator_client, registration).content.decode()
    base = line(registration, "参加費")
    assert f'id="line-change-{base.pk}"' not in html  # the base menu has no line button
    party = line(registration, "懇親会")
    assert offered(operator_client, cancel_url(registration, party)) == [LINKED]
    confirm, result = run(operator_client, cancel_url(registration, party), LINKED)
    assert "¥3,000 refunded to the card via GMO." in confirm
    assert "Cancelled: 懇親会. ¥3,000 refunded to the card via GMO." in result
    assert gmo_jobs(sandbox) == ["CHANGE:7000"]
    payment = payment_of(registration)
    assert (payment.status, payment.amount) == (Status.CAPTURED_IMMEDIATELY, 7000)
    assert fresh(registration).status == RegistrationStatus.REGISTERED
    assert line(registration, "懇親会").cancel_linkage == LINKED
    assert not RefundTask.objects.exists()


@pytest.mark.parametrize("method", [Method.BANK_TRANSFER, Method.KONBINI])
def test_base_and_options_bank_or_konbini_not_linked(operator_client, shop, sandbox, method, request):
    if method == Method.KONBINI:
        request.getfixturevalue("konbini_shop")
    ev = event(shop)
    registration = register(ev, ["参加費", "懇親会"], method=method, sandbox=sandbox)
    sandbox.clear_calls()
    party = line(registration, "懇親会")
    assert offered(operator_client, cancel_url(registration, party)) == [NOT_LINKED]
    confirm, _result = run(operator_client, cancel_url(registration, party), NOT_LINKED)
    assert "Recorded only; refund ¥3,000 by hand" in confirm
    assert gmo_jobs(sandbox) == []
    if method == Method.KONBINI:
        assert sandbox.stripe_intent(payment_of(registration).external_id)["status"] == "succeeded"
    assert payment_of(registration).status == Status.PAID
    assert line(registration, "懇親会").status == LineStatus.CANCELLED
    assert RefundTask.objects.get().amount == 3000


# --- notes --------------------------------------------------------------------------------------------------


def test_zero_yen_option_cancels_like_any_other_without_a_gateway_call(operator_client, shop, sandbox):
    ev = event(shop)
    registration = register(ev, ["参加費", "資料のみ"], sandbox=sandbox)
    sandbox.clear_calls()
    confirm, _result = run(operator_client, cancel_url(registration, line(registration, "資料のみ")), LINKED)
    assert "nothing is sent to GMO" in confirm
    assert gmo_jobs(sandbox) == [] and sandbox.calls("SearchTrade") == []
    assert line(registration, "資料のみ").status == LineStatus.CANCELLED
    assert payment_of(registration).amount == 5000


def test_line_cancel_leaving_zero_at_gmo_is_a_full_cancel(operator_client, shop, sandbox):
    ev = event(shop, base=0)
    registration = register(ev, ["参加費", "懇親会"], sandbox=sandbox)
    sandbox.clear_calls()
    confirm, _result = run(operator_client, cancel_url(registration, line(registration, "懇親会")), LINKED)
    assert gmo_jobs(sandbox) == ["VOID"]  # never ChangeTran to ¥0
    assert payment_of(registration).status == Status.VOIDED
    assert fresh(registration).status == RegistrationStatus.REGISTERED  # the ¥0 base menu remains


def test_only_allowed_transitions_are_offered(english_client, shop, sandbox):
    ev = event(shop, base=None, options=((3000, "懇親会"),))
    registration = register(ev, ["懇親会"], sandbox=sandbox)
    viewer = member(shop, "viewer")
    english_client.force_login(viewer)
    html = page(english_client, registration).content.decode()
    assert 'id="change-status"' not in html
    assert english_client.post(cancel_url(registration), {"linkage": LINKED}).status_code == 403
    # A cancelled registration offers nothing.
    admin = member(shop, "admin")
    english_client.force_login(admin)
    run(english_client, cancel_url(registration), LINKED)
    assert offered(english_client, cancel_url(registration)) == []
    assert 'id="change-status"' not in page(english_client, registration).content.decode()
    # A forged linkage the payment does not allow is refused, nothing changes.
    ev2 = event(shop, base=None, options=((3000, "懇親会"),))
    bank = register(ev2, ["懇親会"], method=Method.BANK_TRANSFER)
    response = confirm_page(english_client, cancel_url(bank), LINKED)
    assert "only “Cancel (not linked)”" in response.context["error"]
    assert fresh(bank).status == RegistrationStatus.REGISTERED


def test_nothing_happens_before_the_operator_confirms(operator_client, shop, sandbox):
    ev = event(shop)
    registration = register(ev, ["参加費", "懇親会"], sandbox=sandbox)
    sandbox.clear_calls()
    confirm = confirm_page(operator_client, cancel_url(registration, line(registration, "懇親会")), LINKED)
    assert "¥3,000 refunded to the card via GMO." in confirm.content.decode()
    assert gmo_jobs(sandbox) == [] and line(registration, "懇親会").status == LineStatus.ACTIVE


def test_changed_meanwhile_is_refused(operator_client, shop, sandbox):
    ev = event(shop)
    registration = register(ev, ["参加費", "懇親会", "お弁当"], sandbox=sandbox)
    url = cancel_url(registration, line(registration, "懇親会"))
    stale = confirm_page(operator_client, url, LINKED)
    run(operator_client, cancel_url(registration, line(registration, "お弁当")), LINKED)
    sandbox.clear_calls()
    result = operator_client.post(url, {"confirmed": "1", "linkage": LINKED, "version": stale.context["version"],
                                        "key": stale.context["key"]}, follow=True)
    assert "changed meanwhile" in result.content.decode()
    assert gmo_jobs(sandbox) == [] and line(registration, "懇親会").status == LineStatus.ACTIVE


def test_transaction_already_changed_at_gmo_is_not_cancelled_blindly(operator_client, shop, sandbox):
    ev = event(shop)
    registration = register(ev, ["参加費", "懇親会"], sandbox=sandbox)
    payment = payment_of(registration)
    sandbox.patch_transaction(payment.gateway_order_id, status="VOID")  # done in GMO's own screen
    sandbox.clear_calls()
    _confirm, result = run(operator_client, cancel_url(registration, line(registration, "懇親会")), LINKED)
    assert "already shows this transaction as" in result and "Nothing was sent to GMO" in result
    assert 'id="sync-with-gmo"' in result
    assert gmo_jobs(sandbox) == [] and len(sandbox.calls("SearchTrade")) == 1
    assert line(registration, "懇親会").status == LineStatus.ACTIVE
    assert payment_of(registration).status == Status.CAPTURED_IMMEDIATELY
    # The offered status check takes GMO's state; afterwards only a not-linked cancel is possible.
    operator_client.post(reverse("admin:registrations_registration_sync", args=[registration.pk]))
    assert payment_of(registration).status == Status.VOIDED
    assert offered(operator_client, cancel_url(registration, line(registration, "懇親会"))) == [NOT_LINKED]


def test_gateway_error_changes_nothing_and_shows_the_code(operator_client, shop, sandbox):
    ev = event(shop)
    registration = register(ev, ["参加費", "懇親会"], sandbox=sandbox)
    sandbox.set_faults(rules=[{"api": "ChangeTran", "action": "error", "err_code": "E01", "err_info": "E01050004",
                               "times": 1}])
    _confirm, result = run(operator_client, cancel_url(registration, line(registration, "懇親会")), LINKED)
    assert "The gateway refused; nothing was changed." in result and "E01050004" in result
    assert "not allowed in the transaction" in result
    assert line(registration, "懇親会").status == LineStatus.ACTIVE
    assert payment_of(registration).amount == 8000
    assert not RefundTask.objects.exists()


def test_card_not_linked_needs_refund_permission_and_a_reason(english_client, shop, sandbox):
    ev = event(shop)
    registration = register(ev, ["参加費", "懇親会"], sandbox=sandbox)
    url = cancel_url(registration, line(registration, "懇親会"))
    english_client.force_login(member(shop, "operator"))
    assert offered(english_client, url) == [LINKED]
    refused = confirm_page(english_client, url, NOT_LINKED)
    assert "refund permission" in refused.context["error"]
    admin_client_ = english_client
    admin_client_.force_login(member(shop, "admin"))
    assert offered(admin_client_, url) == [LINKED, NOT_LINKED]
    no_reason = confirm_page(admin_client_, url, NOT_LINKED)
    assert "Give the reason" in no_reason.context["error"]
    sandbox.clear_calls()
    confirm, _result = run(admin_client_, url, NOT_LINKED, reason="GMOでエラー、手動で返金")
    assert "Recorded only; refund ¥3,000 by hand" in confirm
    assert gmo_jobs(sandbox) == []
    assert payment_of(registration).amount == 8000  # GMO untouched
    task = RefundTask.objects.get()
    assert task.amount == 3000 and "GMOでエラー" in task.reason
    assert line(registration, "懇親会").cancel_linkage == NOT_LINKED


def test_other_shops_user_and_unknown_ids_get_404(english_client, shop, other_shop, sandbox):
    ev = event(shop)
    registration = register(ev, ["参加費", "懇親会"], sandbox=sandbox)
    english_client.force_login(member(other_shop, "admin", UserFactory()))
    assert english_client.get(cancel_url(registration)).status_code == 404
    assert english_client.post(cancel_url(registration, line(registration, "懇親会")),
                               {"linkage": LINKED}).status_code == 404
    english_client.force_login(member(shop, "operator"))
    assert english_client.get(reverse("admin:registrations_registration_cancel_line",
                                      args=[registration.pk, 999999])).status_code == 404


def test_staff_mark_a_bank_transfer_paid_from_the_registration_page(english_client, shop):
    ev = event(shop)
    registration = register(ev, ["参加費", "懇親会"], method=Method.BANK_TRANSFER, paid=False)
    url = reverse("admin:registrations_registration_mark_paid", args=[registration.pk])
    english_client.force_login(member(shop, "viewer"))
    assert 'id="mark-paid"' not in page(english_client, registration).content.decode()
    assert english_client.post(url, {"confirmed": "1"}).status_code == 403
    english_client.force_login(member(shop, "staff"))
    assert 'id="mark-paid"' in page(english_client, registration).content.decode()
    confirm = english_client.get(url)
    assert "¥8,000" in confirm.content.decode() and payment_of(registration).status == Status.AWAITING_PAYMENT
    result = english_client.post(url, {"confirmed": "1", "version": confirm.context["version"],
                                       "key": confirm.context["key"]}, follow=True)
    assert "Marked paid" in result.content.decode()
    assert payment_of(registration).status == Status.PAID
    assert 'id="mark-paid"' not in result.content.decode()


def test_the_payment_page_leaves_cancels_to_the_registration(operator_client, shop, sandbox):
    """Cancelling a registration's payment from the payment page would leave its lines registered."""
    registration = register(event(shop), ["参加費", "懇親会"], sandbox=sandbox)
    payment = payment_of(registration)
    html = operator_client.get(reverse("admin:payments_payment_change", args=[payment.pk])).content.decode()
    assert reverse("admin:registrations_registration_change", args=[registration.pk]) in html
    for kind in ("cancel", "change_amount", "reauthorize"):
        url = reverse("admin:payments_payment_operate", args=[payment.pk, kind])
        assert operator_client.post(url, {"confirmed": "1", "version": payment.version}).status_code == 404
    assert payment_of(registration).status == Status.CAPTURED_IMMEDIATELY and gmo_jobs(sandbox) == []
