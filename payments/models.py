"""Payment (one gateway transaction, with a per-method state machine) and its operation ledger."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, transition

from shops.models import Shop


class Method(models.TextChoices):
    CARD = "card", _("Credit card")
    RECRUIT = "recruit", _("Recruit easy pay")  # リクルートかんたん支払い, a GMO redirect wallet
    KONBINI = "konbini", _("Konbini")  # コンビニ決済 through Stripe (SPEC 3.3)
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")  # 銀行振込: never linked to a gateway (SPEC 3.4)


WALLET_METHODS = (Method.RECRUIT,)


class Status(models.TextChoices):
    # Card states of SPEC 3.1; GMO's status word in the comment.
    UNPROCESSED = "unprocessed", _("Unprocessed")  # UNPROCESSED
    AUTHORIZED = "authorized", _("Authorized")  # AUTH 仮売上
    CAPTURED = "captured", _("Captured")  # SALES 実売上
    CAPTURED_IMMEDIATELY = "captured_immediately", _("Captured immediately")  # CAPTURE 即時売上
    VOIDED = "voided", _("Voided")  # VOID 取消
    RETURNED = "returned", _("Returned")  # RETURN 返品
    RETURNED_ACROSS_MONTH = "returned_across_month", _("Returned across month")  # RETURNX 月跨返品
    AUTH_EXPIRED = "auth_expired", _("Authorization expired")  # 仮売上期限切れ
    FAILED = "failed", _("Authorization failed")
    # Wallet states of SPEC 3.2 (authorized / captured / auth_expired are shared with the card).
    NEEDS_CONFIRMATION = "needs_confirmation", _("Needs confirmation")  # 要確認
    CANCELLED = "cancelled", _("Order cancelled")  # 注文キャンセル
    CAPTURE_FAILED = "capture_failed", _("Capture failed")  # 売上失敗
    PAYMENT_FAILED = "payment_failed", _("Payment failed")  # 決済失敗
    # Konbini states of SPEC 3.3 (cancelled is shared with the wallet, under its own label).
    AWAITING_APPROVAL = "awaiting_approval", _("Numbers issued after approval")  # 承認後にコンビニ支払い番号を発行
    AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")  # 支払い待ち
    PAID = "paid", _("Payment completed")  # 決済完了
    EXPIRED = "expired", _("Payment error")  # 決済エラー


# A wallet's "captured" is 決済完了, not the card's 実売上: same value, its own label.
WALLET_LABELS = {Status.CAPTURED: _("Payment completed")}
WALLET_CANCELLABLE = (Status.NEEDS_CONFIRMATION, Status.AUTHORIZED, Status.CAPTURED, Status.CAPTURE_FAILED,
                      Status.PAYMENT_FAILED, Status.AUTH_EXPIRED)


# Konbini: a one-off payment request (単発決済) is UNPROCESSED until the customer asks for the numbers.
KONBINI_LABELS = {Status.UNPROCESSED: _("Payment request sent, numbers not issued"), Status.CANCELLED: _("Cancelled")}
# Konbini states in which a cancel is possible (what it does depends on the state: see konbini_operations).
KONBINI_CANCELLABLE = (Status.UNPROCESSED, Status.AWAITING_APPROVAL, Status.AWAITING_PAYMENT, Status.EXPIRED,
                       Status.PAID)


# Bank transfer (SPEC 3.4): 入金待ち → 入金済, or cancelled; no gateway ever holds it.
BANK_LABELS = {Status.AWAITING_PAYMENT: _("Awaiting transfer"), Status.PAID: _("Transfer received"),
               Status.CANCELLED: _("Cancelled")}
BANK_CANCELLABLE = (Status.AWAITING_PAYMENT, Status.PAID)


def status_label(method: str, value: str) -> str:
    if method in WALLET_METHODS and value in WALLET_LABELS:
        return str(WALLET_LABELS[value])
    if method == Method.KONBINI and value in KONBINI_LABELS:
        return str(KONBINI_LABELS[value])
    if method == Method.BANK_TRANSFER and value in BANK_LABELS:
        return str(BANK_LABELS[value])
    return str(Status(value).label) if value in Status.values else value or "—"


LIVE_CAPTURED = (Status.CAPTURED, Status.CAPTURED_IMMEDIATELY)
CANCELLED = (Status.VOIDED, Status.RETURNED, Status.RETURNED_ACROSS_MONTH)

# GMO card status word -> our status.
GMO_CARD_STATUS = {
    "UNPROCESSED": Status.UNPROCESSED,
    "AUTH": Status.AUTHORIZED,
    "SALES": Status.CAPTURED,
    "CAPTURE": Status.CAPTURED_IMMEDIATELY,
    "VOID": Status.VOIDED,
    "RETURN": Status.RETURNED,
    "RETURNX": Status.RETURNED_ACROSS_MONTH,
}


class PaymentQuerySet(models.QuerySet):
    def for_shops(self, shops):
        return self.filter(shop__in=shops)


class Payment(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="payments", verbose_name=_("shop"))
    method = models.CharField(_("method"), max_length=20, choices=Method.choices, default=Method.CARD)
    # protected: the status only moves through the transitions below, which only services call.
    status = FSMField(_("status"), default=Status.UNPROCESSED, choices=Status.choices, protected=True)
    gateway_order_id = models.CharField(_("gateway OrderID"), max_length=27)
    access_id = models.CharField(_("AccessID"), max_length=32, blank=True)
    access_pass = models.CharField(max_length=32, blank=True, editable=False)
    amount = models.PositiveIntegerField(_("amount (JPY)"))
    captured_amount = models.PositiveIntegerField(_("captured (JPY)"), default=0)
    refunded_amount = models.PositiveIntegerField(_("refunded (JPY)"), default=0)
    # Set by the business app that created the payment, so lists can search without joins upward.
    reference = models.CharField(_("reference"), max_length=64, blank=True, db_index=True)
    payer_name = models.CharField(_("payer"), max_length=200, blank=True)
    payer_email = models.EmailField(_("payer e-mail"), blank=True)
    # Bank transfer: the payer's name in katakana as a bank prints it (振込依頼人名), matched by payments.kana.
    payer_kana = models.CharField(_("payer (katakana)"), max_length=200, blank=True)
    authorized_at = models.DateTimeField(_("authorized at"), null=True, blank=True)
    # authorized_at + the shop's validity days, stored so "expiring within N days" is an indexed range.
    authorization_expires_at = models.DateTimeField(_("authorization expires at"), null=True, blank=True)
    captured_at = models.DateTimeField(_("captured at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    gateway_status = models.CharField(_("gateway status"), max_length=20, blank=True)
    # Wallet: an amount edited on the order but not yet sent to the PG (capture is blocked meanwhile).
    pending_amount = models.PositiveIntegerField(_("unsent amount change (JPY)"), null=True, blank=True)
    # Wallet: what the buyer paid with points (a points-only payment can never be increased).
    wallet_points_used = models.PositiveIntegerField(_("points used at the wallet"), default=0)
    # Wallet: where the buyer's browser is sent (AccessID + this one-time token, POSTed to the StartURL).
    checkout_url = models.URLField(max_length=300, blank=True, editable=False)
    checkout_token = models.CharField(max_length=200, blank=True, editable=False)
    authorization_extended_at = models.DateTimeField(_("authorization extended at"), null=True, blank=True)
    # Change of payment method: the payment that took over the order.
    replaced_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="replaces", verbose_name=_("replaced by"))
    # Konbini: the Stripe PaymentIntent, its voucher deadline and the numbers the customer takes to the store
    # ({"stores": {chain: {"payment_code", "confirmation_number"}}, "hosted_voucher_url": ...}).
    external_id = models.CharField(_("gateway payment ID"), max_length=64, blank=True, db_index=True)
    payment_deadline = models.DateTimeField(_("payment deadline"), null=True, blank=True)
    konbini_numbers = models.JSONField(_("konbini payment numbers"), default=dict, blank=True)
    last_synced_at = models.DateTimeField(_("last synced at"), null=True, blank=True)
    # Bumped on every change: a caller acting on a stale view gets "changed meanwhile".
    version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = PaymentQuerySet.as_manager()

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "gateway_order_id"], name="uniq_gateway_order_id"),
        ]
        indexes = [
            models.Index(fields=["shop", "status", "-created_at"], name="payment_shop_status"),
            # The API's newest-first cursor pages of one shop: `shop = ? AND id < cursor ORDER BY id DESC`.
            models.Index(fields=["shop", "-id"], name="payment_shop_newest"),
            models.Index(fields=["status", "authorized_at"], name="payment_status_authorized"),
            models.Index(fields=["status", "authorization_expires_at"], name="payment_status_expires"),
            models.Index(fields=["gateway_order_id"], name="payment_gateway_order"),
            # The konbini poll walks "awaiting payment, deadline passed / not checked lately" by these.
            models.Index(fields=["method", "status", "payment_deadline"], name="payment_method_status_deadline"),
        ]

    def __str__(self) -> str:
        return f"{self.gateway_order_id} ({self.get_status_display()})"

    @property
    def is_wallet(self) -> bool:
        return self.method in WALLET_METHODS

    @property
    def is_konbini(self) -> bool:
        return self.method == Method.KONBINI

    @property
    def is_bank_transfer(self) -> bool:
        return self.method == Method.BANK_TRANSFER

    def get_status_display(self) -> str:
        return status_label(self.method, self.status)

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        # The protected FSM field refuses assignment once loaded; reloading from the database is
        # not a transition, so drop the cached value first.
        if fields is None or "status" in fields:
            self.__dict__.pop("status", None)
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)

    def _authorized(self, at) -> None:
        self.authorized_at = at
        days = settings.WALLET_AUTH_VALIDITY_DAYS if self.is_wallet else self.shop.authorization_validity_days
        self.authorization_expires_at = at + timedelta(days=days)

    def _cancelled(self, at) -> None:
        self.refunded_amount += self.captured_amount
        self.captured_amount = 0
        self.cancelled_at = at

    # --- transitions: called by payments.services only --------------------------------------

    @transition(field=status, source=Status.UNPROCESSED, target=RETURN_VALUE(
        Status.AUTHORIZED, Status.CAPTURED_IMMEDIATELY))
    def authorization_succeeded(self, job_cd: str, at):
        self._authorized(at)
        if job_cd == "CAPTURE":
            self.captured_at = at
            self.captured_amount = self.amount
            return Status.CAPTURED_IMMEDIATELY
        return Status.AUTHORIZED

    @transition(field=status, source=Status.UNPROCESSED, target=Status.FAILED)
    def authorization_refused(self):
        pass

    @transition(field=status, source=Status.AUTHORIZED, target=Status.CAPTURED)
    def capture_succeeded(self, at):
        self.captured_at = at
        self.captured_amount = self.amount

    @transition(field=status, source=[Status.AUTHORIZED, *LIVE_CAPTURED, Status.AUTH_EXPIRED],
                target=RETURN_VALUE(*CANCELLED))
    def cancel_succeeded(self, job_cd: str, at):
        self._cancelled(at)
        return {"VOID": Status.VOIDED, "RETURN": Status.RETURNED, "RETURNX": Status.RETURNED_ACROSS_MONTH}[job_cd]

    @transition(field=status, source=[Status.AUTHORIZED, *LIVE_CAPTURED],
                target=RETURN_VALUE(Status.AUTHORIZED, Status.CAPTURED_IMMEDIATELY))
    def amount_changed(self, job_cd: str, new_amount: int, at):
        # ChangeTran re-authorizes: the new authorization restarts the dates (cancel job, validity).
        if self.captured_amount > new_amount:
            self.refunded_amount += self.captured_amount - new_amount
        self.amount = new_amount
        self._authorized(at)
        if job_cd == "CAPTURE":
            self.captured_at = at
            self.captured_amount = new_amount
            return Status.CAPTURED_IMMEDIATELY
        self.captured_amount = 0
        return Status.AUTHORIZED

    @transition(field=status, source=list(CANCELLED),
                target=RETURN_VALUE(Status.AUTHORIZED, Status.CAPTURED_IMMEDIATELY))
    def reauthorized(self, job_cd: str, new_amount: int, at):
        self.amount = new_amount
        self._authorized(at)
        self.cancelled_at = None
        if job_cd == "CAPTURE":
            self.captured_at = at
            self.captured_amount = new_amount
            return Status.CAPTURED_IMMEDIATELY
        self.captured_at = None
        self.captured_amount = 0
        return Status.AUTHORIZED

    @transition(field=status, source=Status.AUTHORIZED, target=Status.AUTH_EXPIRED)
    def authorization_expired(self):
        pass

    # --- wallet transitions (SPEC 3.2) ---------------------------------------------------------

    @transition(field=status, source=Status.AUTHORIZED, target=Status.CAPTURE_FAILED)
    def capture_failed(self):
        pass

    @transition(field=status, source=list(WALLET_CANCELLABLE), target=Status.CANCELLED)
    def wallet_cancelled(self, at):
        self._cancelled(at)
        self.pending_amount = None

    @transition(field=status, source=[Status.AUTHORIZED, Status.CAPTURED],
                target=RETURN_VALUE(Status.AUTHORIZED, Status.CAPTURED))
    def wallet_amount_changed(self, new_amount: int, at):
        # The wallet keeps the transaction's state; a decrease after capture is a partial refund.
        if self.captured_amount:
            if self.captured_amount > new_amount:
                self.refunded_amount += self.captured_amount - new_amount
            self.captured_amount = new_amount
        self.amount = new_amount
        if self.pending_amount == new_amount:
            self.pending_amount = None
        return self.status

    @transition(field=status, source=Status.AUTHORIZED, target=Status.AUTHORIZED)
    def authorization_extended(self, at):
        base = max(self.authorization_expires_at or at, at)
        self.authorization_expires_at = base + timedelta(days=settings.WALLET_AUTH_EXTENSION_DAYS)
        self.authorization_extended_at = at

    @transition(field=status, source=Status.UNPROCESSED, target=Status.NEEDS_CONFIRMATION)
    def checkout_abandoned(self):
        pass

    # --- konbini transitions (SPEC 3.3): only ever forward; Stripe's word decides paid / expired ---------

    @transition(field=status, source=[Status.UNPROCESSED, Status.AWAITING_APPROVAL], target=Status.AWAITING_PAYMENT)
    def konbini_numbers_issued(self, at):
        self.authorized_at = at

    @transition(field=status, source=[Status.AWAITING_PAYMENT, Status.EXPIRED], target=Status.PAID)
    def konbini_paid(self, at):
        # From EXPIRED too: if Stripe says succeeded, the money arrived, whatever we believed before.
        self.captured_at = at
        self.captured_amount = self.amount

    @transition(field=status, source=Status.AWAITING_PAYMENT, target=Status.EXPIRED)
    def konbini_expired(self):
        pass

    @transition(field=status, source=list(KONBINI_CANCELLABLE), target=Status.CANCELLED)
    def konbini_cancelled(self, at):
        self._cancelled(at)

    # --- bank transfer transitions (SPEC 3.4): staff or a statement import books it; cancels are never linked --

    @transition(field=status, source=Status.AWAITING_PAYMENT, target=Status.PAID)
    def transfer_received(self, at, amount: int):
        self.captured_at = at
        self.captured_amount = amount

    @transition(field=status, source=list(BANK_CANCELLABLE), target=Status.CANCELLED)
    def bank_cancelled(self, at):
        self._cancelled(at)

    @transition(field=status, source="*", target=RETURN_VALUE(*Status.values))
    def corrected_from_gateway(self, new_status: str, at):
        """The gateway's answer wins (SPEC 3.1, 3.2): align with what SearchTrade reports."""
        if new_status in (Status.AUTHORIZED, *LIVE_CAPTURED) and self.authorized_at is None:
            self._authorized(at)
        if new_status in LIVE_CAPTURED and not self.captured_amount:
            self.captured_amount = self.amount
            self.captured_at = self.captured_at or at
        if new_status in (*CANCELLED, Status.CANCELLED):
            self._cancelled(self.cancelled_at or at)
        if new_status == Status.AUTHORIZED:
            self.captured_amount = 0
        return new_status


class OperationKind(models.TextChoices):
    AUTHORIZE = "authorize", _("Authorize")
    CAPTURE = "capture", _("Capture")
    CANCEL = "cancel", _("Cancel")
    CHANGE_AMOUNT = "change_amount", _("Change amount")
    REAUTHORIZE = "reauthorize", _("Re-authorize")
    EXPIRE = "expire", _("Expire authorization")
    SYNC = "sync", _("Status check")
    START = "start", _("Start wallet checkout")
    EXTEND_AUTHORIZATION = "extend_authorization", _("Extend authorization period")
    CHANGE_METHOD = "change_method", _("Change payment method")
    ISSUE_NUMBERS = "issue_numbers", _("Issue konbini payment numbers")
    MARK_PAID = "mark_paid", _("Mark paid")  # 入金済にする: a bank transfer booked by hand or by a statement


class OperationState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Outcome unknown")


UNRESOLVED = (OperationState.PENDING, OperationState.UNKNOWN)


class OperationQuerySet(models.QuerySet):
    def unresolved(self):
        # A status check never blocks: it moves no money, and a lost answer is simply asked again.
        return self.filter(state__in=UNRESOLVED).exclude(kind=OperationKind.SYNC)


class PaymentOperation(models.Model):
    """Append-only: written pending before the gateway call, completed once, never edited after."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="operations",
                                verbose_name=_("payment"))
    kind = models.CharField(_("operation"), max_length=20, choices=OperationKind.choices)
    state = models.CharField(_("result"), max_length=12, choices=OperationState.choices,
                             default=OperationState.PENDING)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    gateway_job = models.CharField(_("gateway job"), max_length=20, blank=True)
    amount = models.PositiveIntegerField(_("amount (JPY)"), default=0)
    previous_amount = models.PositiveIntegerField(_("previous amount (JPY)"), default=0)
    status_before = models.CharField(_("status before"), max_length=30, blank=True)
    status_after = models.CharField(_("status after"), max_length=30, blank=True)
    explanation = models.TextField(_("explanation"), blank=True)
    error_code = models.CharField(_("gateway error code"), max_length=100, blank=True)
    error_message = models.TextField(_("error message"), blank=True)
    gateway_status = models.CharField(_("gateway status"), max_length=20, blank=True)
    response = models.JSONField(_("gateway answer"), default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("by"))
    actor_label = models.CharField(_("by"), max_length=150)
    resolution = models.TextField(_("resolution"), blank=True)
    # What the operation is for in a business app (e.g. {"cancel_order": 12}), so the app can finish its
    # side even when the answer was lost and the sync settles the operation later.
    context = models.JSONField(_("context"), default=dict, blank=True)
    created_at = models.DateTimeField(_("started at"), auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    objects = OperationQuerySet.as_manager()

    class Meta:
        verbose_name = _("payment operation")
        verbose_name_plural = _("payment operations")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["state", "created_at"], name="operation_state_created"),
            # The status sync finds "completed since" candidates from here, not by walking payments.
            models.Index(fields=["state", "completed_at"], name="operation_state_completed"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.gateway_job} ({self.get_state_display()})"

    def save(self, *args, **kwargs):
        loaded = getattr(self, "_loaded_state", None)
        if self.pk and loaded not in (None, *UNRESOLVED):
            raise RuntimeError("a completed payment operation is never edited")
        super().save(*args, **kwargs)
        self._loaded_state = self.state

    def delete(self, *args, **kwargs):
        raise RuntimeError("payment operations are append-only")

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded_state = instance.__dict__.get("state")
        return instance


from payments.bank_statement_models import BankStatementImport, BankStatementRow  # noqa: E402,F401
from payments.webhook_models import StripeEvent  # noqa: E402,F401  (registered with the payments app)
