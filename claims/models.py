"""Claims (クレーム): cancellations, returns, exchanges and non-receipt of shop orders (SPEC 4.4, seed 003).

One model for every kind. A claim records who asked (seller or customer), the reason (each reason says
who may pick it), the seller memo the customer can read and an internal memo they cannot, and the money
outcome: refunded at the gateway (the payment's operation) or a manual refund task, with the transfer fee
refunded on a seller-reason cancel of a konbini / bank transfer order.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from orders.models import Order
from shops.models import Shop


class ClaimKind(models.TextChoices):
    CANCEL = "cancel", _("Cancel")  # キャンセル
    RETURN = "return", _("Return")  # 返品
    EXCHANGE = "exchange", _("Exchange")  # 交換
    NON_RECEIPT = "non_receipt", _("Non-receipt")  # 未受取


class ClaimState(models.TextChoices):
    REQUESTED = "requested", _("Requested")  # 申請
    IN_PROGRESS = "in_progress", _("In progress")  # 処理中
    WITHDRAWAL_REQUESTED = "withdrawal_requested", _("Withdrawal requested")  # 撤回要請 (deadline running)
    DONE = "done", _("Done")  # 処理完了
    REFUSED = "refused", _("Refused")  # キャンセル拒否
    WITHDRAWN = "withdrawn", _("Withdrawn")  # 撤回


OPEN_STATES = (ClaimState.REQUESTED, ClaimState.IN_PROGRESS, ClaimState.WITHDRAWAL_REQUESTED)


class Party(models.TextChoices):
    SELLER = "seller", _("Seller")  # 販売店様都合
    CUSTOMER = "customer", _("Customer")  # 購入者都合


class Reason(models.TextChoices):
    # Cancels (seed 003 §1: 品切れ / 配送遅延 / 発送不可地域 by the seller; 購入者都合 only on a customer request)
    OUT_OF_STOCK = "out_of_stock", _("Out of stock")  # 品切れ
    DELIVERY_DELAY = "delivery_delay", _("Delivery delay")  # 配送遅延
    UNDELIVERABLE_REGION = "undeliverable_region", _("Undeliverable region")  # 発送不可地域
    CUSTOMER_REQUEST = "customer_request", _("Customer's own reasons")  # 購入者都合
    # Returns / exchanges (seller: 配送遅延 / 商品の欠陥破損 / 誤配送; customer only: 注文キャンセル / その他)
    DEFECT = "defect", _("Defect or damage")  # 商品の欠陥破損
    WRONG_ITEM = "wrong_item", _("Wrong item (size, colour…)")  # 誤配送
    ORDER_CANCEL = "order_cancel", _("Order cancel")  # 注文キャンセル
    OTHER = "other", _("Other")  # その他
    NOT_RECEIVED = "not_received", _("Not received")  # 未受取


# Who may pick which reason, per claim kind (seed 003).
REASONS = {
    (ClaimKind.CANCEL, Party.SELLER): (Reason.OUT_OF_STOCK, Reason.DELIVERY_DELAY, Reason.UNDELIVERABLE_REGION,
                                        Reason.CUSTOMER_REQUEST),
    (ClaimKind.CANCEL, Party.CUSTOMER): (Reason.CUSTOMER_REQUEST,),
    (ClaimKind.RETURN, Party.SELLER): (Reason.DELIVERY_DELAY, Reason.DEFECT, Reason.WRONG_ITEM),
    (ClaimKind.RETURN, Party.CUSTOMER): (Reason.DELIVERY_DELAY, Reason.DEFECT, Reason.WRONG_ITEM,
                                         Reason.ORDER_CANCEL, Reason.OTHER),
    (ClaimKind.EXCHANGE, Party.SELLER): (Reason.DELIVERY_DELAY, Reason.DEFECT, Reason.WRONG_ITEM),
    (ClaimKind.EXCHANGE, Party.CUSTOMER): (Reason.DEFECT, Reason.WRONG_ITEM, Reason.OTHER),
    (ClaimKind.NON_RECEIPT, Party.CUSTOMER): (Reason.NOT_RECEIVED,),
}
# Reasons that are the seller's fault: the customer's transfer fee is refunded too (seed 003 §1 注意事項).
SELLER_FAULT = (Reason.OUT_OF_STOCK, Reason.DELIVERY_DELAY, Reason.UNDELIVERABLE_REGION, Reason.DEFECT,
                Reason.WRONG_ITEM)


class RefundState(models.TextChoices):
    NONE = "none", _("No refund")
    PENDING = "pending", _("Refund pending")  # the gateway's answer not known yet / task open
    DONE = "done", _("Refund done")  # 払い戻し完了
    PARTIAL = "partial", _("Partial refund done")  # 部分払い戻し完了


class Claim(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="claims", verbose_name=_("shop"))
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="claims", verbose_name=_("order"))
    kind = models.CharField(_("claim type"), max_length=20, choices=ClaimKind.choices)
    state = models.CharField(_("state"), max_length=24, choices=ClaimState.choices, default=ClaimState.REQUESTED)
    requested_by = models.CharField(_("requested by"), max_length=10, choices=Party.choices)
    reason = models.CharField(_("reason"), max_length=24, choices=Reason.choices)
    seller_memo = models.TextField(_("seller memo (the customer can read it)"), blank=True)
    internal_memo = models.TextField(_("internal memo"), blank=True)
    # Withdrawal request (撤回要請): the customer is asked to withdraw a cancel request by this deadline.
    withdrawal_deadline = models.DateTimeField(_("withdrawal deadline"), null=True, blank=True)
    # Return received / full refund: two confirmations before the refund (seed 003 【回収完了/全額払い戻し】).
    item_received_at = models.DateTimeField(_("item received at"), null=True, blank=True)
    refund_approved_at = models.DateTimeField(_("refund approved at"), null=True, blank=True)
    # Money outcome.
    refund_state = models.CharField(_("refund"), max_length=10, choices=RefundState.choices,
                                    default=RefundState.NONE)
    refund_amount = models.PositiveIntegerField(_("refund (JPY)"), default=0)
    fee_refund_amount = models.PositiveIntegerField(_("transfer fee refunded (JPY)"), default=0)
    refund_linked = models.BooleanField(_("refunded at the gateway"), default=False)
    refund_operation = models.ForeignKey("payments.PaymentOperation", on_delete=models.PROTECT, null=True,
                                         blank=True, related_name="+", verbose_name=_("gateway operation"))
    refund_task = models.ForeignKey("refunds.RefundTask", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("manual refund task"))
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    # Cancel requests on 配送準備 orders reach staff in digests: set once the request was in a digest.
    digested_at = models.DateTimeField(_("in a staff digest at"), null=True, blank=True)

    class Meta:
        verbose_name = _("claim")
        verbose_name_plural = _("claims")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["shop", "kind", "state"], name="claim_shop_kind_state"),
            models.Index(fields=["state", "withdrawal_deadline"], name="claim_state_deadline"),
            models.Index(fields=["kind", "state", "digested_at"], name="claim_digest"),
        ]
        constraints = [
            # One open claim per order at a time: two operators cannot open competing claims.
            models.UniqueConstraint(fields=["order"], condition=models.Q(state__in=OPEN_STATES),
                                    name="one_open_claim_per_order"),
        ]

    def __str__(self) -> str:
        return f"{self.order} {self.get_kind_display()} ({self.get_state_display()})"


class ClaimEvent(models.Model):
    """The claim's history (append-only)."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="events", verbose_name=_("claim"))
    at = models.DateTimeField(_("at"), auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_label = models.CharField(_("by"), max_length=150)
    message = models.TextField(_("what happened"))

    class Meta:
        verbose_name = _("claim history entry")
        verbose_name_plural = _("claim history")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return self.message


class MessageCategory(models.TextChoices):
    CANCEL_REFUND = "cancel_refund", _("Cancel / refund")  # キャンセル/払い戻し
    DELIVERY = "delivery", _("Delivery")
    OTHER = "other", _("Other")


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed: send again")


class CustomerMessage(models.Model):
    """お客様へのメッセージ: what the seller told the customer before a cancel; a failed send stays visible."""

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="customer_messages",
                             verbose_name=_("shop"))
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="customer_messages",
                              verbose_name=_("order"))
    category = models.CharField(_("category"), max_length=20, choices=MessageCategory.choices)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("message"))
    status = models.CharField(_("status"), max_length=10, choices=MessageStatus.choices,
                              default=MessageStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_by_label = models.CharField(_("by"), max_length=150)
    created_at = models.DateTimeField(_("written at"), auto_now_add=True)

    class Meta:
        verbose_name = _("message to the customer")
        verbose_name_plural = _("messages to customers")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["order", "category", "status"], name="message_order_status")]

    def __str__(self) -> str:
        return self.title
