"""Security events: sign-ins and changes of who may do what. Append-only (never updated or deleted)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    LOGIN = "login", _("Signed in")
    LOGIN_FAILED = "login_failed", _("Sign-in failed")
    LOCKED_OUT = "locked_out", _("Locked out after failed sign-ins")
    LOGOUT = "logout", _("Signed out")
    MEMBERSHIP_ADDED = "membership_added", _("Shop membership added")
    ROLE_CHANGED = "role_changed", _("Shop role changed")
    MEMBERSHIP_REMOVED = "membership_removed", _("Shop membership removed")
    STAFF_CHANGED = "staff_changed", _("Staff status changed")
    SUPERUSER_CHANGED = "superuser_changed", _("Superuser status changed")
    ACTIVE_CHANGED = "active_changed", _("Active status changed")
    PERMISSIONS_CHANGED = "permissions_changed", _("User permissions changed")
    GROUPS_CHANGED = "groups_changed", _("User groups changed")
    TOKEN_ISSUED = "token_issued", _("API token issued")
    TOKEN_SCOPES_CHANGED = "token_scopes_changed", _("API token scopes changed")
    TOKEN_REVOKED = "token_revoked", _("API token revoked")


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("security events are append-only")

    def delete(self):
        raise TypeError("security events are append-only")


class SecurityEvent(models.Model):
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    kind = models.CharField(_("event"), max_length=32, choices=Kind.choices, db_index=True)
    # The user is kept as a label too: it stays readable after the user is deleted.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("by user"))
    actor_label = models.CharField(_("by"), max_length=150)
    target = models.CharField(_("target"), max_length=200, blank=True)
    shop = models.ForeignKey("shops.Shop", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                             verbose_name=_("shop"))
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    detail = models.TextField(_("detail"), blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("security event")
        verbose_name_plural = _("security audit log")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_kind_display()} {self.target}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("security events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("security events are append-only")
