"""Reservation admin: shop scoping, permissions, and actions through the confirm page."""

import pytest
from django.urls import reverse

from reservations.models import AcceptanceMode, Reservation, Status
from tests.factories import member
from tests.reservations.helpers import book, make_slot

# The assertions read the messages' English wording; Japanese is the admin's default.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_client")]

CHANGELIST = "admin:reservations_reservation_changelist"


def change_url(reservation):
    return reverse("admin:reservations_reservation_change", args=[reservation.pk])


def action_post(client, action, reservations, **extra):
    data = {"action": action, "index": "0", "select_across": "0",
            "_selected_action": [str(r.pk) for r in reservations], **extra}
    return client.post(reverse(CHANGELIST), data, follow=True)


def status_of(reservation):
    return Reservation.objects.get(pk=reservation.pk).status


def test_another_shops_reservation_is_404_and_not_listed(client, shop, other_shop, operator):
    mine = book(make_slot(shop), name="自店の客")
    theirs = book(make_slot(other_shop), name="他店の客")
    client.force_login(operator)
    assert client.get(change_url(mine)).status_code == 200
    assert client.get(change_url(theirs)).status_code == 404
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert "自店の客" in page and "他店の客" not in page


def test_event_filter_offers_only_own_events(client, shop, other_shop, operator):
    own = make_slot(shop).event
    foreign = make_slot(other_shop).event
    foreign.title = "他店のイベント"
    foreign.save()
    client.force_login(operator)
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert f"?event={own.pk}" in page and f"?event={foreign.pk}" not in page
    event_page = client.get(reverse("admin:reservations_reservableevent_change", args=[own.pk]))
    assert event_page.status_code == 200
    assert client.get(reverse("admin:reservations_reservableevent_change", args=[foreign.pk])).status_code == 404


def test_approve_through_confirm_page(client, shop, operator):
    reservation = book(make_slot(shop, mode=AcceptanceMode.APPROVAL), name="佐藤 太郎")
    client.force_login(operator)
    confirm = action_post(client, "approve_selected", [reservation])
    page = confirm.content.decode()
    assert 'id="reservation-confirm-form"' in page and "佐藤 太郎" in page and "preview-ok" in page
    assert status_of(reservation) == Status.PENDING_APPROVAL  # nothing happens before confirming
    done = action_post(client, "approve_selected", [reservation], confirmed="1")
    assert "佐藤 太郎 approved." in done.content.decode()
    assert status_of(reservation) == Status.CONFIRMED


def test_cancel_through_confirm_page_promotes_and_keeps_reason(client, shop, operator):
    slot = make_slot(shop, capacity=1)
    held, waiting = book(slot, name="先客"), book(slot, name="待ち客")
    client.force_login(operator)
    confirm = action_post(client, "cancel_selected", [held]).content.decode()
    assert "frees 1 seats" in confirm and 'name="reason"' in confirm
    done = action_post(client, "cancel_selected", [held], confirmed="1", reason="日程変更").content.decode()
    assert "Promoted from the waitlist: 待ち客" in done
    assert status_of(held) == Status.CANCELLED and status_of(waiting) == Status.CONFIRMED
    assert held.events.filter(message__contains="日程変更").exists()


def test_viewer_cannot_approve(client, shop):
    reservation = book(make_slot(shop, mode=AcceptanceMode.APPROVAL))
    viewer = member(shop, "viewer")
    client.force_login(viewer)
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert "approve_selected" not in page
    action_post(client, "approve_selected", [reservation])
    action_post(client, "approve_selected", [reservation], confirmed="1")
    assert status_of(reservation) == Status.PENDING_APPROVAL


def test_preview_skips_what_is_not_possible(client, shop, operator):
    slot = make_slot(shop, capacity=1)
    confirmed, waiting = book(slot), book(slot, name="待ち客")
    client.force_login(operator)
    page = action_post(client, "promote_selected", [confirmed, waiting]).content.decode()
    assert page.count("preview-skip") == 2  # one is not waitlisted, the other has no free seat
    done = action_post(client, "promote_selected", [confirmed, waiting], confirmed="1").content.decode()
    assert "only a waitlisted reservation can be promoted" in done and "Only 0 seats are free" in done
    assert status_of(waiting) == Status.WAITLISTED and status_of(confirmed) == Status.CONFIRMED


def test_viewer_here_operator_elsewhere_is_refused_here(client, shop, other_shop):
    # The action is offered (permitted in another shop) but this shop's reservation is refused.
    reservation = book(make_slot(shop, mode=AcceptanceMode.APPROVAL))
    user = member(shop, "viewer")
    member(other_shop, "operator", user=user)
    client.force_login(user)
    confirm = action_post(client, "approve_selected", [reservation]).content.decode()
    assert "preview-skip" in confirm and "preview-ok" not in confirm
    done = action_post(client, "approve_selected", [reservation], confirmed="1").content.decode()
    assert '<li class="error">' in done  # NotPermitted, in the catalog's language
    assert status_of(reservation) == Status.PENDING_APPROVAL
