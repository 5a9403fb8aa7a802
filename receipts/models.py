"""Every receipt issued, kept: the first for a registration or order is the original, every later one is a
reissue (再発行) and says so on the PDF, so a customer can never hold two originals for one payment.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shops.models import Shop


class ReceiptIssue(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="receipt_issues", verbose_name=_("shop"))
    registration = models.ForeignKey("registrations.Registration", on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="receipt_issues", verbose_name=_("registration"))
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, null=True, blank=True,
                              related_name="receipt_issues", verbose_name=_("order"))
    number = models.CharField(_("receipt number"), max_length=40)
    # 1 = the original, 2… = reissues; unique per registration / order, so two concurrent requests can never
    # both produce an original.
    sequence = models.PositiveSmallIntegerField(_("copy"), default=1)
    reissue = models.BooleanField(_("reissue"), default=False)
    recipient = models.CharField(_("recipient"), max_length=200)
    amount = models.PositiveIntegerField(_("amount (JPY)"))
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+", verbose_name=_("issued by"))
    issued_by_label = models.CharField(_("issued by"), max_length=150)

    class Meta:
        verbose_name = _("issued receipt")
        verbose_name_plural = _("issued receipts")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(registration__isnull=False, order__isnull=True)
                | Q(registration__isnull=True, order__isnull=False),
                name="receipt_for_registration_or_order"),
            models.UniqueConstraint(fields=["registration", "sequence"], condition=Q(registration__isnull=False),
                                    name="uniq_receipt_copy_registration"),
            models.UniqueConstraint(fields=["order", "sequence"], condition=Q(order__isnull=False),
                                    name="uniq_receipt_copy_order"),
        ]
        indexes = [models.Index(fields=["shop", "-issued_at"], name="receipt_shop_issued")]

    def __str__(self) -> str:
        return f"{self.number} #{self.sequence}"

    @property
    def source(self):
        return self.registration if self.registration_id else self.order
