"""Event registrations (SPEC 4.3, seed 000): an event's base menu (基本メニュー) and option menus
(オプションメニュー), and a registration whose one payment holds line items, each with its own status.

A line copies its menu's name, price and tax rate when registered: the menu may be edited later, the
registration keeps what was sold (and what a receipt must show).
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from payments.models import Payment
from shops.models import Shop

MAX_PRICE = 9_999_999


class TaxRate(models.IntegerChoices):
    STANDARD = 10, _("10%")
    REDUCED = 8, _("8% (reduced rate)")


class MenuKind(models.TextChoices):
    BASE = "base", _("Base menu")  # 基本メニュー
    OPTION = "option", _("Option menu")  # オプションメニュー


class Event(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="registration_events",
                             verbose_name=_("shop"))
    title = models.CharField(_("title"), max_length=200)
    held_on = models.DateField(_("held on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class Menu(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="menus", verbose_name=_("event"))
    kind = models.CharField(_("kind"), max_length=10, choices=MenuKind.choices)
    name = models.CharField(_("name"), max_length=200)
    price = models.PositiveIntegerField(_("price (JPY)"), validators=[MaxValueValidator(MAX_PRICE)])  # 0 allowed
    tax_rate = models.PositiveSmallIntegerField(_("tax rate"), choices=TaxRate.choices, default=TaxRate.STANDARD)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("menu")
        verbose_name_plural = _("menus")
        ordering = ["event", "kind", "position", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name} (¥{self.price:,})"


class RegistrationStatus(models.TextChoices):
    REGISTERED = "registered", _("Registered")  # 申込済
    CANCELLED = "cancelled", _("Cancelled")  # キャンセル


class Registration(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="registrations", verbose_name=_("shop"))
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="registrations",
                              verbose_name=_("event"))
    number = models.CharField(_("registration number"), max_length=40)
    participant_name = models.CharField(_("participant"), max_length=200)
    # フリガナ: what a bank prints as the payer of a transfer (matched by payments.kana).
    participant_kana = models.CharField(_("participant (katakana)"), max_length=200, blank=True)
    participant_email = models.EmailField(_("participant e-mail"), blank=True)
    status = models.CharField(_("status"), max_length=12, choices=RegistrationStatus.choices,
                              default=RegistrationStatus.REGISTERED)
    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="registration", verbose_name=_("payment"))
    # Bumped by every change of the lines: a confirm page acting on a stale view gets "changed meanwhile".
    version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)

    class Meta:
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["shop", "number"], name="uniq_registration_number")]
        indexes = [models.Index(fields=["shop", "status", "-created_at"], name="registration_shop_status")]

    def __str__(self) -> str:
        return f"{self.number} {self.participant_name}"


class LineStatus(models.TextChoices):
    ACTIVE = "active", _("Registered")  # 申込中
    CANCELLED = "cancelled", _("Cancelled")  # キャンセル


class Linkage(models.TextChoices):
    """How a line's cancel reached the money: executed at the gateway, or recorded here only."""

    LINKED = "linked", _("Cancel (GMO linked)")  # キャンセル(GMO連携)
    NOT_LINKED = "not_linked", _("Cancel (not linked)")  # キャンセル(GMO未連携)


class RegistrationLine(models.Model):
    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="lines",
                                     verbose_name=_("registration"))
    menu = models.ForeignKey(Menu, on_delete=models.PROTECT, related_name="+", verbose_name=_("menu"))
    kind = models.CharField(_("kind"), max_length=10, choices=MenuKind.choices)
    name = models.CharField(_("name"), max_length=200)
    price = models.PositiveIntegerField(_("price (JPY)"))
    tax_rate = models.PositiveSmallIntegerField(_("tax rate"), choices=TaxRate.choices)
    status = models.CharField(_("status"), max_length=12, choices=LineStatus.choices, default=LineStatus.ACTIVE)
    cancel_linkage = models.CharField(_("cancelled as"), max_length=12, choices=Linkage.choices, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by_label = models.CharField(_("cancelled by"), max_length=150, blank=True)
    refund_task = models.ForeignKey("refunds.RefundTask", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("manual refund task"))

    class Meta:
        verbose_name = _("line item")
        verbose_name_plural = _("line items")
        ordering = ["registration", "kind", "id"]  # base ("base" < "option") before options
        constraints = [
            # At most one base menu per registration (SPEC 4.3).
            models.UniqueConstraint(fields=["registration"], condition=models.Q(kind="base"),
                                    name="one_base_menu_per_registration"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ¥{self.price:,} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status == LineStatus.ACTIVE


class RegistrationLog(models.Model):
    """The registration's history: who changed what, with the money effect (append-only)."""

    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="log",
                                     verbose_name=_("registration"))
    at = models.DateTimeField(_("at"), auto_now_add=True)
    actor_label = models.CharField(_("by"), max_length=150)
    message = models.TextField(_("what happened"))

    class Meta:
        verbose_name = _("history entry")
        verbose_name_plural = _("history")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return self.message
