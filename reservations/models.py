"""Reservable events, their slots (capacity) and reservations (SPEC 4.2, seed 001).

A reservation of a paid event holds its current payment (konbini through Stripe); a one-off payment
request (単発決済) replaces it with a new one, the old one keeps its history (Payment.replaced_by).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import RETURN_VALUE, FSMField, transition

from payments.models import Payment
from shops.models import Shop


class AcceptanceMode(models.TextChoices):
    APPROVAL = "approval", _("Approval required")  # 承認制
    FIRST_COME = "first_come", _("First come, first served")  # 先着順


class WaitlistPromotion(models.TextChoices):
    """Where a promoted waitlist entry (キャンセル待ち繰り上げ) lands."""

    TO_PENDING = "to_pending", _("To pending approval")
    TO_CONFIRMED = "to_confirmed", _("Straight to confirmed")


class Status(models.TextChoices):
    # A context keeps these apart from msgids the catalog already has ("Confirmed" is 確認済み there).
    PENDING_APPROVAL = "pending_approval", pgettext_lazy("reservation status", "Pending approval")  # 承認待ち
    CONFIRMED = "confirmed", pgettext_lazy("reservation status", "Confirmed")  # 確定
    CANCELLED = "cancelled", pgettext_lazy("reservation status", "Cancelled")  # キャンセル
    WAITLISTED = "waitlisted", pgettext_lazy("reservation status", "Waitlisted")  # キャンセル待ち


class PaymentMethod(models.TextChoices):
    NONE = "none", _("No online payment")  # free, or paid on the day
    KONBINI = "konbini", _("Konbini")  # コンビニ決済 (Stripe)


# Statuses that occupy seats: a pending approval holds its seats so approving can never oversell.
HOLDING = (Status.PENDING_APPROVAL, Status.CONFIRMED)


class ReservableEvent(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="reservable_events",
                             verbose_name=_("shop"))
    title = models.CharField(_("title"), max_length=200)
    acceptance_mode = models.CharField(_("acceptance mode"), max_length=20, choices=AcceptanceMode.choices,
                                       default=AcceptanceMode.FIRST_COME)
    waitlist_enabled = models.BooleanField(_("waitlist (キャンセル待ち)"), default=False)
    waitlist_promotion = models.CharField(_("waitlist promotion"), max_length=20, choices=WaitlistPromotion.choices,
                                          default=WaitlistPromotion.TO_PENDING)
    price = models.PositiveIntegerField(_("price (JPY)"), default=0)  # 0 yen events exist
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("reservable event")
        verbose_name_plural = _("reservable events")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title

    @property
    def needs_approval(self) -> bool:
        return self.acceptance_mode == AcceptanceMode.APPROVAL


class Slot(models.Model):
    """One bookable time of an event. Its row is the lock every reservation write takes first."""

    event = models.ForeignKey(ReservableEvent, on_delete=models.CASCADE, related_name="slots",
                              verbose_name=_("event"))
    starts_at = models.DateTimeField(_("starts at"))
    capacity = models.PositiveIntegerField(_("capacity (seats)"), validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("slot")
        verbose_name_plural = _("slots")
        ordering = ["starts_at", "id"]

    def __str__(self) -> str:
        return f"{self.event} {self.starts_at:%Y-%m-%d %H:%M}"


class Reservation(models.Model):
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="reservations", verbose_name=_("slot"))
    # Denormalised from slot.event.shop so admin scoping and permission checks need no joins.
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="reservations", verbose_name=_("shop"))
    customer_name = models.CharField(_("customer"), max_length=200)
    customer_email = models.EmailField(_("customer e-mail"), blank=True)
    seats = models.PositiveIntegerField(_("party size (seats)"), validators=[MinValueValidator(1)])
    payment_method = models.CharField(_("payment method"), max_length=20, choices=PaymentMethod.choices,
                                      default=PaymentMethod.NONE)
    payment = models.OneToOneField(Payment, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="reservation", verbose_name=_("payment"))
    # protected: the status only moves through the transitions below, which only services call.
    status = FSMField(_("status"), default=Status.PENDING_APPROVAL, choices=Status.choices, protected=True)
    # The booking form's one-time key: a double-submitted form books once (the second POST finds the first).
    request_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    created_at = models.DateTimeField(_("booked at"), auto_now_add=True)
    status_changed_at = models.DateTimeField(_("status changed at"))

    class Meta:
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        # Also the waitlist order: first booked, first promoted (id breaks ties of equal timestamps).
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["slot", "status", "created_at", "id"], name="resv_slot_status_order"),
            models.Index(fields=["shop", "status"], name="resv_shop_status"),
        ]
        constraints = [models.CheckConstraint(condition=models.Q(seats__gte=1), name="resv_seats_positive")]

    def __str__(self) -> str:
        return f"{self.customer_name} ×{self.seats} ({self.get_status_display()})"

    @property
    def holds_seats(self) -> bool:
        return self.status in HOLDING

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        # As Payment: reloading is not a transition, so drop the protected cached value first.
        if fields is None or "status" in fields:
            self.__dict__.pop("status", None)
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)

    # --- transitions: called by reservations.services only, with the slot row locked ----------

    @transition(field=status, source=Status.PENDING_APPROVAL, target=Status.CONFIRMED)
    def mark_approved(self, at):
        self.status_changed_at = at

    @transition(field=status, source=[Status.PENDING_APPROVAL, Status.CONFIRMED, Status.WAITLISTED],
                target=Status.CANCELLED)
    def mark_cancelled(self, at):
        self.status_changed_at = at

    @transition(field=status, source=Status.WAITLISTED,
                target=RETURN_VALUE(Status.PENDING_APPROVAL, Status.CONFIRMED))
    def mark_promoted(self, promotion: str, at):
        self.status_changed_at = at
        return Status.CONFIRMED if promotion == WaitlistPromotion.TO_CONFIRMED else Status.PENDING_APPROVAL


class ReservationEvent(models.Model):
    """The reservation's history: what moved, by whom, and why."""

    reservation = models.ForeignKey(Reservation, on_delete=models.CASCADE, related_name="events")
    message = models.TextField(_("what happened"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_label = models.CharField(_("by"), max_length=150)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("reservation event")
        verbose_name_plural = _("reservation events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return self.message
