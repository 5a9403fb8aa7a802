"""Operations a user may perform, grouped into roles (SPEC 7: permissions per operation and shop)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Perm(models.TextChoices):
    VIEW = "view", _("View")
    CAPTURE = "capture", _("Capture")
    CANCEL = "cancel", _("Cancel")
    REFUND = "refund", _("Refund (not linked)")
    CHANGE_AMOUNT = "change_amount", _("Change amount")
    REAUTHORIZE = "reauthorize", _("Re-authorize")
    MARK_PAID = "mark_paid", _("Mark paid")
    APPROVE_RESERVATIONS = "approve_reservations", _("Approve reservations")
    SETTINGS = "settings", _("Shop settings")


class Role(models.TextChoices):
    STAFF = "staff", _("Shop staff")
    OPERATOR = "operator", _("Operator")
    ADMIN = "admin", _("Shop admin")
    VIEWER = "viewer", _("Viewer")


ROLE_PERMS: dict[str, frozenset[str]] = {
    Role.VIEWER: frozenset({Perm.VIEW}),
    # Staff capture provisional sales and mark shipments; they do not give money back.
    Role.STAFF: frozenset({Perm.VIEW, Perm.CAPTURE, Perm.MARK_PAID}),
    Role.OPERATOR: frozenset(
        {Perm.VIEW, Perm.CAPTURE, Perm.CANCEL, Perm.CHANGE_AMOUNT, Perm.REAUTHORIZE, Perm.MARK_PAID,
         Perm.APPROVE_RESERVATIONS}
    ),
    Role.ADMIN: frozenset(Perm.values),
}
