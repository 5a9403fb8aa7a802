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


class Delivery(models.TextChoices):
    """配送状態 (seed 003): where the goods are; claims decide what a cancel may do from it (SPEC 4.4)."""

    AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")  # 入金待ち
    NEW = "new", _("New order")  # 新規注文
    PREPARING = "preparing", _("Preparing shipment")  # 配送準備 (a ship date is set)
    DELAYED = "delayed", _("Delivery delayed")  # 配送遅延
    SHIPPING = "shipping", _("Shipping")  # 配送中
    DELIVERED = "delivered", _("Delivered")  # 配送完了


class Order(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="orders", verbose_name=_("shop"))
    number = models.CharField(_("order number"), max_length=40)
    customer_name = models.CharField(_("customer"), max_length=200)
    customer_email = models.EmailField(_("customer e-mail"), blank=True)
    shipping_fee = models.PositiveIntegerField(_("shipping fee (JPY)"), default=0)
    fees = models.PositiveIntegerField(_("fees (JPY)"), default=0)
    points_used = models.PositiveIntegerField(_("points used"), default=0)
    # 合計 = lines + shipping + fees; the payment is for the total less the points used.
    total = models.PositiveIntegerField(_("total (JPY)"))
    fulfilment_status = models.CharField(_("fulfilment status"), max_length=20, choices=Fulfilment.choices,
                                         default=Fulfilment.PENDING_PAYMENT)
    delivery_status = models.CharField(_("delivery status"), max_length=20, choices=Delivery.choices,
                                       default=Delivery.AWAITING_PAYMENT, db_index=True)
    ship_date = models.DateField(_("planned ship date"), null=True, blank=True)  # 発送予定日
    # The business object links to its payment, never the other way round.
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="orders", verbose_name=_("payment"))
    created_at = models.DateTimeField(_("ordered at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["shop", "number"], name="uniq_order_number")]
        indexes = [models.Index(fields=["shop", "fulfilment_status"], name="order_shop_fulfilment"),
                   # The API's newest-first cursor pages of one shop.
                   models.Index(fields=["shop", "-id"], name="order_shop_newest")]

    def __str__(self) -> str:
        return self.number

    @property
    def amount_to_pay(self) -> int:
        return self.total - self.points_used

    def tax_breakdown(self) -> dict[int, int]:
        """Tax-inclusive line amounts per tax rate (shipping and fees at 10%), for receipts."""
        by_rate: dict[int, int] = {}
        for line in self.lines.all():
            by_rate[line.tax_rate] = by_rate.get(line.tax_rate, 0) + line.subtotal
        if self.shipping_fee or self.fees:
            by_rate[10] = by_rate.get(10, 0) + self.shipping_fee + self.fees
        return by_rate


class Shipment(models.Model):
    """One delivery of an order (an order may ship to several addresses)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    address = models.TextField(_("address"))
    carrier = models.CharField(_("carrier"), max_length=60, blank=True)
    slip_number = models.CharField(_("shipping slip number"), max_length=40, blank=True, db_index=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    # The goods came back to the shop (返送): a shipped wallet order may then be cancelled.
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")

    def __str__(self) -> str:
        return f"{self.order} {self.carrier} {self.slip_number}".strip()


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product_name = models.CharField(_("product"), max_length=200)
    options = models.CharField(_("options"), max_length=200, blank=True)  # e.g. "サイズ: M / 色: 紺"
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


class SlipUpload(models.Model):
    """One 伝票番号一括登録 file (SPEC 3.2 "capture three ways"): its bytes, and the per-row report.

    The bytes are kept so that a worker processes the file after the request has returned; the report
    grows chunk by chunk, so the result page shows progress and a retried worker skips the rows done.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        PROCESSING = "processing", _("Processing")
        DONE = "done", _("Done")

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="slip_uploads", verbose_name=_("shop"))
    filename = models.CharField(_("file name"), max_length=255)
    # sha256 of the exact bytes (orders.slip_csv.file_fingerprint): the same file twice is recognised.
    fingerprint = models.CharField(_("fingerprint"), max_length=64)
    data = models.BinaryField(_("file contents"))
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("uploaded by"))
    uploaded_by_label = models.CharField(_("uploaded by"), max_length=150)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.QUEUED)
    # Set when a worker takes the file and refreshed while it works: a worker that died leaves it stale,
    # and only then may another one take over.
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    captured_count = models.PositiveIntegerField(_("captured now"), default=0)
    already_captured_count = models.PositiveIntegerField(_("already captured"), default=0)
    not_capturable_count = models.PositiveIntegerField(_("not capturable"), default=0)
    unknown_order_count = models.PositiveIntegerField(_("unknown orders"), default=0)
    malformed_count = models.PositiveIntegerField(_("rows with errors"), default=0)
    duplicate_count = models.PositiveIntegerField(_("duplicates in file"), default=0)
    # [{"line", "order_number", "slip_number", "result", "message"}], one per data row, in processing order.
    entries = models.JSONField(_("report"), default=list, blank=True)

    class Meta:
        verbose_name = _("slip number upload")
        verbose_name_plural = _("slip number uploads")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["shop", "fingerprint"], name="uniq_slip_upload_file")]

    def __str__(self) -> str:
        return self.filename

    @property
    def processed_rows(self) -> int:
        return len(self.entries)
