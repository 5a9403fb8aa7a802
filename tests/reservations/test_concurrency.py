"""Capacity under concurrency, on PostgreSQL: the slot row lock must keep seats from being oversold."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from payments.errors import PaymentError
from reservations import services
from reservations.models import AcceptanceMode, Reservation, Status, WaitlistPromotion
from tests.reservations.helpers import SYSTEM, book, make_slot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_at_once(calls):
    """Run each call in its own thread (own DB connection), released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except PaymentError as error:
            results[index] = error
        except Exception as error:  # noqa: BLE001 - reported by the test, not swallowed
            results[index] = error
        finally:
            connection.close()  # each thread opened its own connection

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a booking thread hung (deadlock?)"
    return results


def test_twenty_bookings_for_five_seats(shop):
    slot = make_slot(shop, mode=AcceptanceMode.FIRST_COME, waitlist=True, capacity=8)
    book(slot, seats=3)  # 5 seats remain
    results = run_at_once([lambda i=i: book(slot, name=f"客{i}") for i in range(20)])
    unexpected = [r for r in results if not isinstance(r, Reservation)]
    assert unexpected == []
    statuses = [r.status for r in results]
    assert statuses.count(Status.CONFIRMED) == 5
    assert statuses.count(Status.WAITLISTED) == 15
    assert services.seats_taken(slot) == 8 and services.seats_left(slot) == 0


def test_concurrent_cancels_approvals_and_promotions_do_not_oversell(shop):
    slot = make_slot(shop, mode=AcceptanceMode.APPROVAL, promotion=WaitlistPromotion.TO_CONFIRMED, capacity=10)
    pending = [book(slot, name=f"p{i}") for i in range(10)]
    waiting = [book(slot, name=f"w{i}") for i in range(15)]
    calls = (
        [lambda r=r: services.cancel(r, SYSTEM) for r in pending[:5]]
        + [lambda r=r: services.approve(r, SYSTEM) for r in pending[5:]]
        # Manual promotions race the cancellations for the freed seats; the head of the line must win.
        + [lambda r=r: services.promote(r, SYSTEM) for r in waiting[5:]]
    )
    results = run_at_once(calls)
    assert [r for r in results[:10] if isinstance(r, Exception)] == []
    # Each cancel frees one seat and promotes the waitlist head under the same slot lock, so no seat
    # is ever free when a manual promotion looks: all ten are refused.
    assert all(isinstance(r, PaymentError) and r.code == "slot_full" for r in results[10:])
    assert services.seats_taken(slot) == 10
    by_name = dict(Reservation.objects.filter(slot=slot).values_list("customer_name", "status"))
    assert [by_name[f"p{i}"] for i in range(10)] == [Status.CANCELLED] * 5 + [Status.CONFIRMED] * 5
    assert [by_name[f"w{i}"] for i in range(15)] == [Status.CONFIRMED] * 5 + [Status.WAITLISTED] * 10
