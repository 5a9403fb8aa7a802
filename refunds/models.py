"""Manual refund tasks: money to give back by hand wherever a cancel cannot be executed at the gateway."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from payments.formatting import yen
from payments.models import Method, Payment
from shops.models import Shop, ShopApiToken


class RefundTaskStatus(models.TextChoices):
    OPEN = "open", _("To refund")  # 返金待ち
    REFUNDED = "refunded", _("Refunded by hand")  # 返金済（確認待ち）
    CONFIRMED = "confirmed", _("Confirmed")  # 確認済


class RefundTask(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="refund_tasks", verbose_name=_("shop"))
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refund_tasks",
                                verbose_name=_("payment"))
    amount = models.PositiveIntegerField(_("amount (JPY)"))
    payee = models.CharField(_("payee"), max_length=200)
    method = models.CharField(_("paid by"), max_length=20)
    reason = models.TextField(_("reason"))
    status = models.CharField(_("status"), max_length=12, choices=RefundTaskStatus.choices,
                              default=RefundTaskStatus.OPEN)
    created_by_label = models.CharField(_("opened by"), max_length=150)
    refunded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("refunded by"))
    # Set instead of refunded_by when an API token marked it: a token is another "person" than any user.
    refunded_by_token = models.ForeignKey(ShopApiToken, null=True, blank=True, on_delete=models.PROTECT,
                                          related_name="+", verbose_name=_("refunded by (API token)"))
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    # What the one who refunded says about it (e.g. "transferred 11/23 from the organizer's account").
    refund_note = models.TextField(_("refund note"), blank=True)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("confirmed by"))
    confirmed_by_token = models.ForeignKey(ShopApiToken, null=True, blank=True, on_delete=models.PROTECT,
                                           related_name="+", verbose_name=_("confirmed by (API token)"))
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("opened at"), auto_now_add=True)

    class Meta:
        verbose_name = _("manual refund task")
        verbose_name_plural = _("manual refund tasks")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["shop", "status", "-created_at"], name="refundtask_shop_status")]

    def __str__(self) -> str:
        return f"{yen(self.amount)} → {self.payee} ({self.get_status_display()})"

    @property
    def method_label(self) -> str:
        """The payment method under its label (kept as the payment's raw value, without choices)."""
        return str(Method(self.method).label) if self.method in Method.values else self.method

    @property
    def refunded_by_label(self) -> str:
        return _who(self.refunded_by, self.refunded_by_token)

    @property
    def confirmed_by_label(self) -> str:
        return _who(self.confirmed_by, self.confirmed_by_token)


def _who(user, token) -> str:
    """The person behind a step: a user, or an API token (labelled as payments.actors labels it); "" if none."""
    if user is not None:
        return user.get_username()
    if token is not None:
        return f"API: {token.name}"
    return ""
