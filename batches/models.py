from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from payments.models import Payment
from shops.models import Shop


class BatchRun(models.Model):
    """One run of a scheduled batch: when it ran and what it did (the run log of SPEC 5)."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped (another run holds the lock)")

    name = models.CharField(_("batch"), max_length=60, db_index=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(_("started at"), auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    summary = models.TextField(_("what it did"), blank=True)
    # A run fanned out over the worker pool finishes when its last chunk does.
    chunks_total = models.PositiveIntegerField(_("chunks"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    dispatched = models.BooleanField(_("all chunks dispatched"), default=False)

    class Meta:
        verbose_name = _("batch run")
        verbose_name_plural = _("batch runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} {self.started_at:%Y-%m-%d %H:%M}"


class BatchLock(models.Model):
    """A named lock with an expiry, so a crashed holder cannot block the batch forever."""

    name = models.CharField(max_length=60, primary_key=True)
    holder = models.CharField(max_length=100, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("batch lock")

    def __str__(self) -> str:
        return self.name


class ReconciliationItem(models.Model):
    """A difference with the gateway that the sync batch must not fix by itself: an operator decides."""

    class Kind(models.TextChoices):
        AMOUNT = "amount", _("Amount differs from the gateway")
        UNRESOLVED = "unresolved", _("Operation outcome cannot be told from the gateway")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="reconciliation_items",
                                verbose_name=_("payment"))
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="+", verbose_name=_("shop"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    detail = models.TextField(_("difference"))
    gateway_status = models.CharField(_("gateway status"), max_length=20, blank=True)
    found_at = models.DateTimeField(_("found at"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen at"), auto_now=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("resolved by"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("reconciliation item")
        verbose_name_plural = _("reconciliation report")
        ordering = ["-found_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["payment", "kind"], condition=models.Q(status="open"),
                                    name="one_open_reconciliation_per_kind"),
        ]
        indexes = [models.Index(fields=["shop", "status"], name="reconciliation_shop_status")]

    def __str__(self) -> str:
        return f"{self.payment} {self.get_kind_display()}"


class DigestSent(models.Model):
    """Which digest went to which shop for which day: a re-run never mails twice."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    day = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)
    recipients = models.PositiveIntegerField(default=0)
    items = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("digest sent")
        constraints = [models.UniqueConstraint(fields=["shop", "kind", "day"], name="one_digest_per_day")]

    def __str__(self) -> str:
        return f"{self.kind} {self.shop} {self.day}"
