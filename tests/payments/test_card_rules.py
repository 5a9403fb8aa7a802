"""SPEC 3.1 as tables: every operation × every card state, and the cancel-job choice at JST edges."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from payments.card_rules import availability, change_amount_jobs, choose_cancel_job
from payments.models import OperationKind as K
from payments.models import Status as S

JST = ZoneInfo("Asia/Tokyo")
UTC = ZoneInfo("UTC")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=JST)
FRESH = NOW - timedelta(days=1)
OLD = NOW - timedelta(days=91)

KINDS = [K.CAPTURE, K.CANCEL, K.CHANGE_AMOUNT, K.REAUTHORIZE, K.EXPIRE]

# state, authorized_at, the operations allowed (all others refused)
ALLOWED = [
    (S.UNPROCESSED, None, set()),
    (S.AUTHORIZED, FRESH, {K.CAPTURE, K.CANCEL, K.CHANGE_AMOUNT}),
    (S.AUTHORIZED, OLD, {K.CANCEL, K.EXPIRE}),
    (S.CAPTURED, FRESH, {K.CANCEL, K.CHANGE_AMOUNT}),
    (S.CAPTURED_IMMEDIATELY, FRESH, {K.CANCEL, K.CHANGE_AMOUNT}),
    (S.VOIDED, FRESH, {K.REAUTHORIZE}),
    (S.RETURNED, FRESH, {K.REAUTHORIZE}),
    (S.RETURNED_ACROSS_MONTH, OLD, {K.REAUTHORIZE}),
    (S.AUTH_EXPIRED, OLD, {K.CANCEL}),
    (S.FAILED, None, set()),
]


@pytest.mark.parametrize(
    "status,authorized_at,kind,expected",
    [(s, at, k, k in allowed) for s, at, allowed in ALLOWED for k in KINDS],
    ids=lambda v: str(v) if isinstance(v, str | bool) else None,
)
def test_every_operation_in_every_state(status, authorized_at, kind, expected):
    verdict = availability(kind, status, authorized_at=authorized_at, validity_days=90, now=NOW)
    assert verdict.allowed is expected
    if not expected:
        assert verdict.reason, "a refusal always says why"


def test_expired_capture_tells_the_operator_what_to_do():
    verdict = availability(K.CAPTURE, S.AUTHORIZED, authorized_at=OLD, validity_days=90, now=NOW)
    assert "90" in verdict.reason


@pytest.mark.parametrize("days,allowed", [(89, True), (90, False)])
def test_validity_edge_uses_the_shop_setting(days, allowed):
    at = NOW - timedelta(days=days)
    assert availability(K.CAPTURE, S.AUTHORIZED, authorized_at=at, validity_days=90, now=NOW).allowed is allowed
    assert availability(K.CAPTURE, S.AUTHORIZED, authorized_at=at, validity_days=120, now=NOW).allowed


def test_amount_change_follow_ups():
    assert change_amount_jobs(S.AUTHORIZED) == ("AUTH", "CAPTURE")
    assert change_amount_jobs(S.CAPTURED) == ("CAPTURE",)
    assert change_amount_jobs(S.CAPTURED_IMMEDIATELY) == ("CAPTURE",)
    assert change_amount_jobs(S.VOIDED) == ()


def jst(*args):
    return datetime(*args, tzinfo=JST)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


CANCEL_CASES = [
    # status, authorized_at, captured_at, now, job
    ("auth same JST day 23:59", S.AUTHORIZED, jst(2026, 3, 10, 0, 1), None, jst(2026, 3, 10, 23, 59, 59), "VOID"),
    ("auth next JST day 00:00", S.AUTHORIZED, jst(2026, 3, 10, 23, 59), None, jst(2026, 3, 11, 0, 0), "RETURN"),
    ("auth a month ago is RETURN", S.AUTHORIZED, jst(2026, 2, 10), None, jst(2026, 3, 11), "RETURN"),
    ("expired auth", S.AUTH_EXPIRED, jst(2026, 1, 1), None, jst(2026, 4, 11), "RETURN"),
    # UTC dates differ (03-09 15:30 UTC vs 03-10 14:00 UTC) but both are 2026-03-10 in Tokyo.
    ("auth UTC day differs", S.AUTHORIZED, utc(2026, 3, 9, 15, 30), None, utc(2026, 3, 10, 14, 0), "VOID"),
    # Same UTC date (03-10) but JST 03-10 23:30 vs JST 03-11 08:00.
    ("auth same UTC day, next JST day", S.AUTHORIZED, utc(2026, 3, 10, 14, 30), None, utc(2026, 3, 10, 23, 0),
     "RETURN"),
    ("immediate same day", S.CAPTURED_IMMEDIATELY, jst(2026, 3, 31, 10), jst(2026, 3, 31, 10),
     jst(2026, 3, 31, 23, 59), "VOID"),
    ("immediate same month", S.CAPTURED_IMMEDIATELY, jst(2026, 3, 15), jst(2026, 3, 15), jst(2026, 3, 31, 23, 59),
     "RETURN"),
    ("immediate month end -> 00:00", S.CAPTURED_IMMEDIATELY, jst(2026, 3, 31, 23, 59), jst(2026, 3, 31, 23, 59),
     jst(2026, 4, 1, 0, 0), "RETURNX"),
    ("immediate across year", S.CAPTURED_IMMEDIATELY, jst(2025, 12, 31, 12), jst(2025, 12, 31, 12),
     jst(2026, 1, 1, 0, 0), "RETURNX"),
    ("captured same day as auth", S.CAPTURED, jst(2026, 3, 10, 9), jst(2026, 3, 10, 18), jst(2026, 3, 10, 23, 59),
     "VOID"),
    ("captured today, auth yesterday", S.CAPTURED, jst(2026, 3, 9, 23), jst(2026, 3, 10, 1),
     jst(2026, 3, 10, 2), "RETURN"),
    # Captured 2026-03-01 00:30 JST = 2026-02-28 15:30 UTC: the JST month (March) decides.
    ("captured JST month, UTC previous month", S.CAPTURED, utc(2026, 2, 20), utc(2026, 2, 28, 15, 30),
     jst(2026, 3, 31, 23, 59), "RETURN"),
    ("captured month end, now next month 00:00", S.CAPTURED, jst(2026, 3, 1), jst(2026, 3, 31, 23, 59),
     jst(2026, 4, 1, 0, 0), "RETURNX"),
    ("captured last month", S.CAPTURED, jst(2026, 2, 1), jst(2026, 2, 2), jst(2026, 3, 1, 9), "RETURNX"),
]


@pytest.mark.parametrize("name,status,authorized_at,captured_at,now,job", CANCEL_CASES,
                         ids=[c[0] for c in CANCEL_CASES])
def test_cancel_job_from_tokyo_calendar(name, status, authorized_at, captured_at, now, job):
    choice = choose_cancel_job(status, authorized_at, captured_at, now)
    assert choice.job == job
    assert choice.reason


@pytest.mark.parametrize("status", [S.UNPROCESSED, S.VOIDED, S.RETURNED, S.FAILED])
def test_no_cancel_job_for_dead_states(status):
    with pytest.raises(ValueError):
        choose_cancel_job(status, NOW, NOW, NOW)
