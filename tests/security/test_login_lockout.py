"""Admin login brute force (django-axes): locked per user name and client IP, a clear 429 page, reset on success."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from axes.models import AccessAttempt

from audit.models import Kind, SecurityEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
WRONG = "Wr0ng-Secret-Passw0rd!"
NOW = datetime(2026, 5, 1, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))


def attempt(client, username, password, ip="203.0.113.5"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.fixture
def alice():
    return UserFactory(username="alice", password="right-pw")


def test_five_wrong_passwords_lock_the_login_with_a_japanese_page(client, alice):
    with time_machine.travel(NOW, tick=False):
        answers = [attempt(client, "alice", WRONG) for _ in range(5)]

    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    page = answers[-1].content.decode()
    assert "ログイン" in page
    assert "2026-05-01 10:15" in page  # when to try again, Tokyo time (cool-off 15 minutes)
    assert "約15分後" in page
    assert answers[-1]["Retry-After"] == str(15 * 60)
    assert 'lang="ja"' in page


def test_the_lockout_page_is_english_when_the_admin_is(english_client, alice):
    with time_machine.travel(NOW, tick=False):
        answers = [attempt(english_client, "alice", WRONG) for _ in range(5)]
    assert answers[-1].status_code == 429
    page = answers[-1].content.decode()
    assert "Too many failed sign-in attempts" in page and "2026-05-01 10:15" in page


def test_locked_out_the_right_password_is_refused_until_the_cool_off_ends(client, alice):
    with time_machine.travel(NOW, tick=False):
        for _ in range(5):
            attempt(client, "alice", WRONG)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        refused = attempt(client, "alice", "right-pw")
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session
    # The refused attempt restarted the cool-off: 15 minutes after it, the right password works.
    with time_machine.travel(NOW + timedelta(minutes=21), tick=False):
        accepted = attempt(client, "alice", "right-pw")
        assert accepted.status_code == 302 and client.session["_auth_user_id"] == str(alice.pk)


def test_other_users_and_other_addresses_are_not_locked(client, alice):
    UserFactory(username="bob", password="bob-pw")
    for _ in range(5):
        attempt(client, "alice", WRONG)

    assert attempt(client, "bob", WRONG).status_code == 200  # same address, another user name: a normal refusal
    assert attempt(client, "bob", "bob-pw").status_code == 302
    client.logout()
    # The real alice, elsewhere, is not locked out by someone guessing from 203.0.113.5.
    assert attempt(client, "alice", "right-pw", ip="198.51.100.7").status_code == 302


def test_a_successful_login_resets_the_count(client, alice):
    for _ in range(4):
        assert attempt(client, "alice", WRONG).status_code == 200
    assert attempt(client, "alice", "right-pw").status_code == 302
    client.logout()
    for _ in range(4):
        assert attempt(client, "alice", WRONG).status_code == 200  # 4 more: not locked (8 in total)
    assert attempt(client, "alice", WRONG).status_code == 429  # the fifth since the success is


def test_other_admin_pages_are_unchanged_by_a_lockout(client, alice):
    for _ in range(5):
        attempt(client, "alice", WRONG)
    assert client.get(LOGIN, REMOTE_ADDR="203.0.113.5").status_code == 200  # the form itself still shows


def test_the_password_is_never_logged_or_stored(client, alice, caplog):
    caplog.set_level(logging.DEBUG)
    for _ in range(5):
        attempt(client, "alice", WRONG)
    attempt(client, "alice", "right-pw")

    assert WRONG not in caplog.text and "right-pw" not in caplog.text
    for row in AccessAttempt.objects.values():
        assert WRONG not in str(row) and "right-pw" not in str(row)
    events = list(SecurityEvent.objects.values())
    assert {e["kind"] for e in events} >= {Kind.LOGIN_FAILED, Kind.LOCKED_OUT}
    assert all(WRONG not in str(e) and "right-pw" not in str(e) for e in events)


def test_the_client_address_behind_a_proxy_is_the_one_the_proxy_saw(client, alice, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(5):
        # The attacker forges the left part of X-Forwarded-For; our proxy appends the real address.
        answer = client.post(LOGIN, {"username": "alice", "password": WRONG}, REMOTE_ADDR="10.0.0.2",
                             HTTP_X_FORWARDED_FOR=f"192.0.2.{_}, 203.0.113.5")
    assert answer.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}
    # Another client behind the same proxy is not locked.
    ok = client.post(LOGIN, {"username": "alice", "password": "right-pw"}, REMOTE_ADDR="10.0.0.2",
                     HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert ok.status_code == 302
