"""A bulk run (capture or cancel of many payments) and its items, one per selected payment.

Progress counts are derived from the items by aggregate (index run, state), never stored as counters:
a worker that dies mid-chunk cannot leave a counter out of step with the items.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from payments.models import Payment, PaymentOperation
from shops.models import Shop, ShopApiToken
from shops.roles import Perm
from shops.selectors import shops_for_user


class BulkRunQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Runs whose items all belong to shops of the user (a run touching any other shop is hidden)."""
        if user.is_superuser:
            return self
        mine = shops_for_user(user)
        return self.filter(shops__in=mine).exclude(shops__in=Shop.objects.exclude(pk__in=mine)).distinct()

    def of_shop_only(self, shop_id: int):
        """Runs touching this shop and no other (what the shop's API token may see)."""
        return self.filter(shops=shop_id).exclude(shops__in=Shop.objects.exclude(pk=shop_id))


class BulkRun(models.Model):
    class Kind(models.TextChoices):
        CAPTURE = "capture", _("Bulk capture")
        CANCEL = "cancel", _("Bulk cancel")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to start")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")

    kind = models.CharField(_("operation"), max_length=10, choices=Kind.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("started by"))
    # Set when a shop's API token started the run: the run then acts as that token (bulk.services.actor_for).
    # PROTECT: with the token gone the run must not fall back to acting as the system.
    api_token = models.ForeignKey(ShopApiToken, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("started by (API token)"))
    actor_label = models.CharField(_("started by"), max_length=150)
    # From the confirm form: a double click (or a resent POST) finds the run made by the first one.
    request_key = models.UUIDField(_("request key"), unique=True, editable=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    description = models.CharField(_("selection"), max_length=300)
    # The shops of the items, for scoping the run list without scanning the items.
    shops = models.ManyToManyField(Shop, related_name="+", verbose_name=_("shops"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    objects = BulkRunQuerySet.as_manager()

    class Meta:
        verbose_name = _("bulk run")
        verbose_name_plural = _("bulk runs")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"

    @property
    def perm(self) -> str:
        return KIND_PERMS[self.kind]

    def counts(self) -> dict[str, int]:
        return self.items.aggregate(
            total=Count("pk"),
            done=Count("pk", filter=Q(state=BulkRunItem.State.SUCCEEDED)),
            failed=Count("pk", filter=Q(state=BulkRunItem.State.FAILED)),
            skipped=Count("pk", filter=Q(state=BulkRunItem.State.SKIPPED)),
            remaining=Count("pk", filter=Q(state__in=BulkRunItem.OPEN_STATES)),
        )


KIND_PERMS = {BulkRun.Kind.CAPTURE: Perm.CAPTURE, BulkRun.Kind.CANCEL: Perm.CANCEL}


class BulkRunItem(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Waiting")
        PROCESSING = "processing", _("Processing")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    OPEN_STATES = (State.PENDING, State.PROCESSING)

    run = models.ForeignKey(BulkRun, on_delete=models.CASCADE, related_name="items", verbose_name=_("bulk run"))
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="+", verbose_name=_("payment"))
    state = models.CharField(_("result"), max_length=12, choices=State.choices, default=State.PENDING)
    gateway_job = models.CharField(_("gateway job"), max_length=20, blank=True)
    gateway_code = models.CharField(_("gateway error code"), max_length=100, blank=True)
    message = models.TextField(_("message"), blank=True)
    operation = models.ForeignKey(PaymentOperation, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+", verbose_name=_("payment operation"))
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("bulk run item")
        verbose_name_plural = _("bulk run items")
        ordering = ["run", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "payment"], name="uniq_bulk_run_payment")]
        indexes = [models.Index(fields=["run", "state"], name="bulk_item_run_state")]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.payment_id} ({self.get_state_display()})"
