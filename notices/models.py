"""Outbox of mails to customers and staff: written in the transaction that causes them, sent after it.

The unique key is what makes "one state change, one mail" hold under duplicate webhooks and racing
workers: a second attempt to queue the same notice finds the row and does nothing.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from shops.models import Shop


class Notice(models.Model):
    key = models.CharField(_("key"), max_length=200, unique=True)
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="notices", verbose_name=_("shop"))
    kind = models.CharField(_("kind"), max_length=40)
    recipients = models.JSONField(_("to"), default=list)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("body"))
    created_at = models.DateTimeField(_("queued at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["sent_at", "created_at"], name="notice_unsent")]

    def __str__(self) -> str:
        return self.subject
