"""Bank statement imports (銀行入金明細の取込, SPEC 3.4): one uploaded CSV and what became of each of its rows."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from shops.models import Shop


class RowOutcome(models.TextChoices):
    PENDING = "pending", _("Not processed yet")
    MATCHED = "matched", _("Matched: marked paid")
    AMBIGUOUS = "ambiguous", _("Several payments match")
    NO_MATCH = "no_match", _("No matching payment")
    FOR_CANCELLED = "for_cancelled", _("For a cancelled payment")
    ALREADY_PAID = "already_paid", _("Matches a transfer already received")
    ASSIGNED = "assigned", _("Assigned by hand: marked paid")
    IGNORED = "ignored", _("Handled by hand")
    MALFORMED = "malformed", _("Malformed row")


# A person decides these: assign to a payment (marks it paid) or record that it was handled by hand.
TO_HANDLE = (RowOutcome.AMBIGUOUS, RowOutcome.NO_MATCH, RowOutcome.FOR_CANCELLED, RowOutcome.ALREADY_PAID)
BOOKED = (RowOutcome.MATCHED, RowOutcome.ASSIGNED)


class BankStatementImport(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="bank_statement_imports",
                             verbose_name=_("shop"))
    file_name = models.CharField(_("file"), max_length=255)
    # The same file uploaded twice is the same import (SHA-256 of its bytes): it is shown, never booked again.
    content_hash = models.CharField(_("SHA-256"), max_length=64, editable=False)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("uploaded by"))
    uploaded_by_label = models.CharField(_("uploaded by"), max_length=150)
    # Rows per outcome ({"matched": 12, ...}), recomputed after processing and after each manual step.
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("bank statement import")
        verbose_name_plural = _("bank statement imports")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["shop", "content_hash"], name="uniq_bank_statement_file")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.created_at:%Y-%m-%d %H:%M})" if self.created_at else self.file_name

    def count(self, *outcomes: str) -> int:
        return sum(self.counts.get(outcome, 0) for outcome in outcomes)

    @property
    def rows_total(self) -> int:
        return sum(self.counts.values())

    @property
    def rows_booked(self) -> int:
        return self.count(*BOOKED)

    @property
    def rows_to_handle(self) -> int:
        return self.count(*TO_HANDLE)

    @property
    def rows_malformed(self) -> int:
        return self.count(RowOutcome.MALFORMED)


class BankStatementRow(models.Model):
    statement = models.ForeignKey(BankStatementImport, on_delete=models.CASCADE, related_name="rows",
                                  verbose_name=_("import"))
    line = models.PositiveIntegerField(_("line"))
    transfer_date = models.DateField(_("transfer date"), null=True, blank=True)
    amount = models.PositiveIntegerField(_("amount (JPY)"), null=True, blank=True)
    payer = models.CharField(_("payer as printed"), max_length=200, blank=True)
    raw = models.CharField(_("row as read"), max_length=500, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=RowOutcome.choices, default=RowOutcome.PENDING)
    payment = models.ForeignKey("payments.Payment", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="bank_statement_rows", verbose_name=_("payment"))
    # Payment ids the row could belong to (ambiguous: the open ones; for a cancelled / received one: those).
    candidates = models.JSONField(_("candidates"), default=list, blank=True)
    note = models.TextField(_("note"), blank=True)  # why malformed, why not booked, what was done by hand
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("handled by"))
    handled_by_label = models.CharField(_("handled by"), max_length=150, blank=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("bank statement row")
        verbose_name_plural = _("bank statement rows")
        ordering = ["statement", "line"]
        constraints = [models.UniqueConstraint(fields=["statement", "line"], name="uniq_bank_statement_line")]
        indexes = [models.Index(fields=["statement", "outcome", "line"], name="bank_row_outcome")]

    def __str__(self) -> str:
        return f"#{self.line} {self.payer} ¥{self.amount or 0:,}"

    @property
    def to_handle(self) -> bool:
        return self.outcome in TO_HANDLE
