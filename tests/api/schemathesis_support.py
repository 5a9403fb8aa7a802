"""What the schemathesis run needs around it: the app in-process, seeded objects to aim at, and a tally.

Kept apart from the test module so the test reads as the contract: every operation, these checks, 0 failures.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

RESOURCE = re.compile(r"^/api/v1/(?P<resource>[a-z-]+)/")


class CountingWSGIApp(WSGIHandler):
    """Django's WSGI handler, counting every request (cases and the checks' own probes) per operation path."""

    def __init__(self):
        super().__init__()
        self.requests: Counter[str] = Counter()

    def __call__(self, environ, start_response):
        self.requests[f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}"] += 1
        return super().__call__(environ, start_response)


@contextlib.contextmanager
def connections_kept_open():
    """Like Django's test client: a request must not close the connection that holds the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@dataclass
class Seeded:
    """Ids the generated path parameters are steered to, per resource (the first segment after /api/v1/)."""

    token: str = ""
    ids: dict[str, list[int]] = field(default_factory=dict)
    foreign: list[int] = field(default_factory=list)  # another shop's objects: must be 404s

    def candidates(self, path: str) -> list[int]:
        match = RESOURCE.match(path)
        own = self.ids.get(match["resource"], []) if match else []
        if not own:  # a resource this module does not seed (added later): any seeded id may still hit
            own = sorted({pk for ids in self.ids.values() for pk in ids})
        return own + self.foreign


@dataclass
class Tally:
    """Cases sent per operation (one per generated case) and HTTP requests per operation (with the probes)."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)

    def record(self, label: str, status: int) -> None:
        self.cases[label] += 1
        self.statuses.setdefault(label, Counter())[status] += 1

    def summary(self, requests: Counter[str], seconds: float, max_examples: int, seed: int) -> str:
        lines = [f"schemathesis: {len(self.cases)} operations, {sum(self.cases.values())} cases, "
                 f"{sum(requests.values())} HTTP requests (with the checks' probes), {seconds:.1f} s; "
                 f"max_examples={max_examples} per operation (fuzzing), seed={seed}", ""]
        width = max((len(label) for label in self.cases), default=0)
        for label in sorted(self.cases, key=lambda s: (s.split(" ", 1)[1], s)):
            statuses = ", ".join(f"{code}×{n}" for code, n in sorted(self.statuses[label].items()))
            lines.append(f"{label:<{width}}  {self.cases[label]:>4} cases  [{statuses}]")
        return "\n".join(lines) + "\n"

    def write(self, text: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def seed_shop(shop, other_shop, sandbox) -> Seeded:
    """One of each object the API reaches by id, cheap but real: the card payment is authorized at the sandbox,
    so capture / cancel / change-amount / reauthorize / sync really talk to it."""
    from datetime import timedelta

    from django.utils import timezone

    from claims import services as claims
    from orders.models import Delivery
    from payments.actors import Actor
    from payments.models import Method
    from shops.api_scopes import ALL_SCOPES
    from shops.models import ShopApiToken
    from tests.claims.helpers import bank_order, card_order
    from tests.refunds.helpers import make_task
    from tests.registrations.helpers import event, register
    from tests.reservations.helpers import book, make_slot

    system = Actor.system("schemathesis")
    _, raw = ShopApiToken.issue(shop, "schemathesis", scopes=ALL_SCOPES)
    authorized = card_order(shop, sandbox)  # 仮売上: every payment action is possible
    preparing = card_order(shop, sandbox, state=Delivery.PREPARING)
    claim = claims.customer_cancel(preparing, by=system, note="schemathesis")  # a cancel request …
    claims.ask_withdrawal(claim, deadline=timezone.now() + timedelta(days=2), seller_memo="発送済みです",
                          by=system)  # … the shop asked to withdraw, so withdraw can succeed
    paid_by_transfer = bank_order(shop)
    reservation = book(make_slot(shop))
    registration = register(event(shop), ["参加費"], method=Method.BANK_TRANSFER, paid=False)
    task = make_task(shop)
    orders = [authorized, preparing, paid_by_transfer]
    foreign = bank_order(other_shop)
    return Seeded(
        token=raw,
        ids={
            "orders": [o.pk for o in orders],
            "payments": [o.payment_id for o in orders] + [task.payment_id],
            "claims": [claim.pk],
            "reservations": [reservation.pk],
            "registrations": [registration.pk],
            "refund-tasks": [task.pk],
        },
        foreign=[foreign.pk, foreign.payment_id],
    )


def fresh_idempotency_key(case, n: int) -> None:
    """A valid generated Idempotency-Key becomes one of its own: the generator reuses a few values, and a key
    seen with another body is a 422 before the body is even read (replays have their own tests)."""
    from api.idempotency import KEY_PATTERN

    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and KEY_PATTERN.match(key):
        case.headers["Idempotency-Key"] = f"schemathesis-{n}"


def make_placeable(case, card_token: str, n: int) -> None:
    """A generated POST /orders/ case (schema-valid) made one the shop accepts, in place: the total matching the
    lines, shipping and fees, points below it, a real sandbox card token instead of a random string, and its own
    order number. Without this every generated order is refused (total mismatch, unknown token) and the 201 body
    is never checked against the schema."""
    from payments.card_rules import MAX_AMOUNT

    body = case.body
    try:
        if sum(line["quantity"] * line["unit_price"] for line in body["lines"]) == 0:
            body["lines"][0]["unit_price"] = 1
        total = sum(line["quantity"] * line["unit_price"] for line in body["lines"])
        total += body.get("shipping_fee", 0) + body.get("fees", 0)
    except (KeyError, TypeError, IndexError):
        return
    if total > MAX_AMOUNT:
        return
    body["total"] = total
    if body.get("points_used", 0) >= total:
        body["points_used"] = 0
    if "number" in body:
        body["number"] = f"ST-{n}"
    if isinstance(body.get("payment"), dict) and body["payment"].get("method", "card") == "card":
        body["payment"]["token"] = card_token
