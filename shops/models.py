from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from shops import crypto
from shops.api_scopes import Scope, clean_scopes
from shops.roles import Role


class CaptureMode(models.TextChoices):
    AUTHORIZE = "authorize", _("Authorize only (仮売上)")
    CAPTURE = "capture", _("Immediate capture (即時売上)")


class Shop(models.Model):
    name = models.CharField(_("name"), max_length=200)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    capture_mode = models.CharField(
        _("card capture mode"), max_length=20, choices=CaptureMode.choices, default=CaptureMode.AUTHORIZE
    )
    authorization_validity_days = models.PositiveSmallIntegerField(
        _("authorization validity (days)"),
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(180)],
    )
    expiry_warning_days = models.PositiveSmallIntegerField(
        _("warn of expiring authorizations (days before)"), default=7
    )
    # Recruit easy pay: the provider ended new payments, so new checkouts can be switched off while
    # post-payment operations on earlier orders keep working.
    wallet_checkout_enabled = models.BooleanField(_("accept new Recruit easy pay checkouts"), default=True)
    wallet_auth_extension_enabled = models.BooleanField(
        _("Recruit easy pay: authorization extension (オーソリ期間延長)"), default=False)
    gmo_shop_id = models.CharField(
        _("GMO shop ID"),
        max_length=13,
        blank=True,
        validators=[RegexValidator(r"^[A-Za-z0-9]*$", _("Half-width letters and digits only."))],
    )
    # Stored encrypted; read through `gmo_shop_pass`, never rendered back to a form.
    gmo_shop_pass_encrypted = models.TextField(_("GMO shop password (encrypted)"), blank=True, editable=False)
    gmo_base_url = models.URLField(_("GMO base URL (override)"), blank=True)
    # Konbini through Stripe (SPEC 3.3). Both secrets are stored encrypted and never rendered back.
    stripe_secret_key_encrypted = models.TextField(_("Stripe secret key (encrypted)"), blank=True, editable=False)
    stripe_webhook_secret_encrypted = models.TextField(_("Stripe webhook signing secret (encrypted)"), blank=True,
                                                       editable=False)
    stripe_base_url = models.URLField(_("Stripe API base URL (override)"), blank=True)
    konbini_expires_after_days = models.PositiveSmallIntegerField(
        _("konbini payment deadline (days after the numbers are issued)"), default=3,
        validators=[MinValueValidator(1), MaxValueValidator(60)])
    # Stripe can refund a paid konbini payment (it asks the customer for bank details by email, with a fee);
    # off, a cancel after payment opens a manual refund task instead (SPEC 3.3's default).
    konbini_refunds_via_stripe = models.BooleanField(_("konbini: refund paid payments through Stripe"),
                                                     default=False)
    # Receipts (領収書, SPEC 4.3) carry the fields of a qualified invoice: the issuer and its registration
    # number (適格請求書発行事業者登録番号). Without the number no receipt is issued.
    receipt_issuer_name = models.CharField(
        _("receipt issuer name"), max_length=200, blank=True,
        help_text=_("The issuer printed on receipts (発行者名). Leave empty to use the shop name."))
    receipt_registration_number = models.CharField(
        _("qualified invoice registration number"), max_length=14, blank=True,
        validators=[RegexValidator(r"^T\d{13}\Z", _("T followed by 13 digits, e.g. T1234567890123."))],
        help_text=_("適格請求書発行事業者登録番号: T followed by 13 digits. Required to issue receipts."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("shop")
        verbose_name_plural = _("shops")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    @property
    def gmo_shop_pass(self) -> str:
        return crypto.decrypt(self.gmo_shop_pass_encrypted)

    def set_gmo_shop_pass(self, value: str) -> None:
        self.gmo_shop_pass_encrypted = crypto.encrypt(value)

    @property
    def has_gmo_credentials(self) -> bool:
        return bool(self.gmo_shop_id and self.gmo_shop_pass_encrypted)

    @property
    def stripe_secret_key(self) -> str:
        return crypto.decrypt(self.stripe_secret_key_encrypted) if self.stripe_secret_key_encrypted else ""

    def set_stripe_secret_key(self, value: str) -> None:
        self.stripe_secret_key_encrypted = crypto.encrypt(value)

    @property
    def stripe_webhook_secret(self) -> str:
        return crypto.decrypt(self.stripe_webhook_secret_encrypted) if self.stripe_webhook_secret_encrypted else ""

    def set_stripe_webhook_secret(self, value: str) -> None:
        self.stripe_webhook_secret_encrypted = crypto.encrypt(value)

    @property
    def accepts_konbini(self) -> bool:
        return bool(self.stripe_secret_key_encrypted)

    @property
    def receipt_issuer(self) -> str:
        return self.receipt_issuer_name or self.name


class ShopMembership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.STAFF)

    class Meta:
        verbose_name = _("shop membership")
        verbose_name_plural = _("shop memberships")
        constraints = [models.UniqueConstraint(fields=["user", "shop"], name="uniq_membership")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.shop} ({self.get_role_display()})"


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ShopApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)

    def lookup(self, raw: str):
        return self.active().select_related("shop").filter(key_hash=_hash_token(raw)).first()


class ShopApiToken(models.Model):
    """A per-shop API key. Only its hash is stored; the raw key is shown once at creation."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    # What the token may do (shops.api_scopes.Scope values); a list so SQLite (demo) and PostgreSQL agree.
    scopes = models.JSONField(_("scopes"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ShopApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, shop: Shop, name: str, scopes=(Scope.READ,)) -> tuple[ShopApiToken, str]:
        raw = "pa_" + secrets.token_urlsafe(32)
        token = cls.objects.create(shop=shop, name=name, prefix=raw[:10], key_hash=_hash_token(raw),
                                   scopes=clean_scopes(scopes))
        return token, raw

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or ())
