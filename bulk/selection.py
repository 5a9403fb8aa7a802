"""What a bulk run would do with a selection of payments: per gateway job the count and yen, and what
it skips and why.

The selection is read as plain value rows through one streamed query in primary-key order, so a
"select all 100,000 matching" never loads model objects and never makes a query per payment. The
same pass feeds the confirm page and the creation of the run; a fingerprint over (payment, job,
amount, skip code) tells whether what is about to run is what the operator confirmed.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import BooleanField, ExpressionWrapper, QuerySet, Value
from django.utils.translation import gettext as _

from bulk.models import KIND_PERMS, BulkRun
from payments import card_rules
from payments.actors import Actor
from payments.card_rules import JOB_LABELS
from payments.models import CANCELLED, LIVE_CAPTURED, WALLET_METHODS, Method, OperationKind, Status
from payments.owned import kept_by_owner
from shops.selectors import user_can

READ_CHUNK = 2000
JOB_ORDER = ("SALES", "VOID", "RETURN", "RETURNX")
NO_PERMISSION = "no_permission"

_FIELDS = ("pk", "shop_id", "status", "amount", "captured_amount", "authorized_at", "captured_at",
           "shop__authorization_validity_days", "method", "pending_amount")


@dataclass(frozen=True)
class Row:
    pk: int
    shop_id: int
    status: str
    amount: int
    captured_amount: int
    authorized_at: datetime | None
    captured_at: datetime | None
    validity_days: int
    method: str = "card"
    pending_amount: int | None = None
    owned: bool = False  # operated from its registration / reservation for this kind (payments.owned)


@dataclass(frozen=True)
class Verdict:
    job: str = ""  # SALES / VOID / RETURN / RETURNX when the payment is processed
    amount: int = 0
    skip: str = ""  # language-independent code (the fingerprint must not depend on the UI language)
    reason: str = ""
    enters_run: bool = True  # a payment the user may not act on never becomes an item


def rows(queryset: QuerySet, kind: str = "") -> Iterator[Row]:
    condition = kept_by_owner(_operation(kind)) if kind else None
    owned = Value(False) if condition is None else ExpressionWrapper(condition, output_field=BooleanField())
    queryset = queryset.annotate(owned=owned).order_by("pk").values_list(*_FIELDS, "owned")
    for values in queryset.iterator(chunk_size=READ_CHUNK):
        yield Row(*values)


def _operation(kind: str) -> str:
    return OperationKind.CAPTURE if kind == BulkRun.Kind.CAPTURE else OperationKind.CANCEL


def skip_reason(kind: str, status: str, fallback: str) -> str:
    """The operator's words for why a payment is not processed; plainer than the rule's own text."""
    if status in CANCELLED:
        return _("Already cancelled.")
    if kind == BulkRun.Kind.CAPTURE and status in LIVE_CAPTURED:
        return _("Already captured.")
    return fallback


def judge(kind: str, row: Row, permitted: bool, now: datetime) -> Verdict:
    if not permitted:
        return Verdict(skip=NO_PERMISSION, reason=_("You have no permission for this operation in this "
                                                    "payment's shop."), enters_run=False)
    if row.owned:
        return Verdict(skip="owned", reason=_("Operated from its registration or reservation page, so that it and "
                                              "its payment never disagree."))
    if row.method in WALLET_METHODS:
        return _judge_wallet(kind, row)
    if row.method == Method.KONBINI:
        # Nothing to capture, and a cancel belongs with its reservation (seats, waitlist, the customer's mail).
        return Verdict(skip=f"konbini_{kind}", reason=_("Konbini payments are operated from their reservation "
                                                        "page."))
    operation = _operation(kind)
    verdict = card_rules.availability(operation, row.status, authorized_at=row.authorized_at,
                                      validity_days=row.validity_days, now=now)
    if not verdict.allowed:
        # For a given kind the status alone decides the reason (an authorized one refused = expired).
        return Verdict(skip=row.status, reason=skip_reason(kind, row.status, verdict.reason))
    if kind == BulkRun.Kind.CAPTURE:
        return Verdict(job="SALES", amount=row.amount)
    job = card_rules.choose_cancel_job(row.status, row.authorized_at, row.captured_at, now)
    # As payments.operations.Cancel plans it: the refunded capture, or the released authorization.
    return Verdict(job=job.job, amount=row.captured_amount or row.amount)


def _judge_wallet(kind: str, row: Row) -> Verdict:
    """Recruit easy pay: capture what is 仮売上 with no unsent amount change; cancels go one at a time, because
    each needs its own checks (shipping, the PG's answer first) and its own confirm page."""
    if kind != BulkRun.Kind.CAPTURE:
        return Verdict(skip=f"wallet_{kind}", reason=_("Recruit easy pay orders are cancelled one at a time from "
                                                       "the order page."))
    if row.status == Status.CAPTURED:
        return Verdict(skip=row.status, reason=_("Already captured."))
    if row.status != Status.AUTHORIZED:
        return Verdict(skip=row.status, reason=_("Only an authorized (仮売上) order can be captured."))
    if row.pending_amount is not None:
        return Verdict(skip="unsent_change", reason=_("The amount was changed but not sent to the PG yet."))
    return Verdict(job="SALES", amount=row.amount)


@dataclass
class JobLine:
    job: str
    count: int = 0
    total: int = 0

    @property
    def label(self) -> str:
        return JOB_LABELS[self.job]


@dataclass
class Summary:
    kind: str
    jobs: dict[str, JobLine] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    shop_ids: set[int] = field(default_factory=set)  # shops of every payment that enters the run
    cutoff: int = 0  # highest payment id seen: a later confirm never picks up newer payments
    _digest: object = field(default_factory=hashlib.sha256, repr=False)

    def add(self, row: Row, verdict: Verdict) -> None:
        self._digest.update(f"{row.pk}:{verdict.job}:{verdict.amount}:{verdict.skip}\n".encode())
        self.cutoff = max(self.cutoff, row.pk)
        if verdict.enters_run:
            self.shop_ids.add(row.shop_id)
        if verdict.job:
            line = self.jobs.setdefault(verdict.job, JobLine(verdict.job))
            line.count += 1
            line.total += verdict.amount
        else:
            self.skipped[verdict.reason] += 1

    @property
    def fingerprint(self) -> str:
        return self._digest.copy().hexdigest()[:32]

    @property
    def job_lines(self) -> list[JobLine]:
        return [self.jobs[job] for job in JOB_ORDER if job in self.jobs]

    @property
    def included(self) -> int:
        return sum(line.count for line in self.jobs.values())

    @property
    def total_amount(self) -> int:
        return sum(line.total for line in self.jobs.values())

    @property
    def skipped_lines(self) -> list[tuple[str, int]]:
        return self.skipped.most_common()

    @property
    def skipped_count(self) -> int:
        return sum(self.skipped.values())


def permitted(who, shop_id: int, perm: str) -> bool:
    """`who`: a staff user (the admin) or a payments.actors.Actor (an API token's)."""
    return who.can(shop_id, perm) if isinstance(who, Actor) else user_can(who, shop_id, perm)


def verdicts(kind: str, queryset: QuerySet, who, now: datetime) -> Iterator[tuple[Row, Verdict]]:
    perm = KIND_PERMS[kind]
    for row in rows(queryset, kind):
        # Checked per shop even though the admin already scoped the queryset (user_can caches).
        yield row, judge(kind, row, permitted(who, row.shop_id, perm), now)


def summarize(kind: str, queryset: QuerySet, who, now: datetime) -> Summary:
    summary = Summary(kind)
    for row, verdict in verdicts(kind, queryset, who, now):
        summary.add(row, verdict)
    return summary
