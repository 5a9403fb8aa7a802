from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from payments.models import Payment
from shops.models import Shop


class Fulfilment(models.TextChoices):
    """対応状況: the order's own workflow, separate from the payment status."""

    PENDING_PAYMENT = "pending_payment", _("Awaiting payment result")
    NEW = "new", _("New")
    PAID = "paid", _("Paid")
    SHIPPED = "shipped", _("Shipped")
    CANCELLED = "cancelled", _("Cancelled")
    NOT_PLACED = "not_placed", _("Not placed (payment failed)")


class Order(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="orders", verbose_name=_("shop"))
    number = models.CharField(_("order number"), max_length=40)
    customer_name = models.CharField(_("customer"), max_length=200)
    customer_email = models.EmailField(_("customer e-mail"), blank=True)
    total = models.PositiveIntegerField(_("total (JPY)"))
    fulfilment_status = models.CharField(_("fulfilment status"), max_length=20, choices=Fulfilment.choices,
                                         default=Fulfilment.PENDING_PAYMENT)
    # The business object links to its payment, never the other way round.
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="orders", verbose_name=_("payment"))
    created_at = models.DateTimeField(_("ordered at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["shop", "number"], name="uniq_order_number")]
        indexes = [models.Index(fields=["shop", "fulfilment_status"], name="order_shop_fulfilment")]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product_name = models.CharField(_("product"), max_length=200)
    quantity = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    unit_price = models.PositiveIntegerField(_("unit price (JPY)"))
    tax_rate = models.PositiveSmallIntegerField(_("tax rate (%)"), default=10)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")

    def __str__(self) -> str:
        return f"{self.product_name} × {self.quantity}"

    @property
    def subtotal(self) -> int:
        return self.quantity * self.unit_price


class OrderEvent(models.Model):
    """The order's history: what moved and why (e.g. "fulfilment → paid, because the card was captured")."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    message = models.TextField(_("what happened"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_label = models.CharField(_("by"), max_length=150)
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.message
