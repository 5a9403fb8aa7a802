"""Stripe webhook events as received: the dedupe key (event id) and whether the event was processed."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from shops.models import Shop


class StripeEvent(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="stripe_events", verbose_name=_("shop"))
    event_id = models.CharField(_("event ID"), max_length=100)
    type = models.CharField(_("type"), max_length=100)
    object_id = models.CharField(_("object ID"), max_length=100, blank=True, db_index=True)
    created = models.DateTimeField(_("created at Stripe"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    deliveries = models.PositiveIntegerField(_("deliveries"), default=1)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    result = models.TextField(_("result"), blank=True)

    class Meta:
        verbose_name = _("Stripe event")
        verbose_name_plural = _("Stripe events")
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["shop", "event_id"], name="uniq_stripe_event")]
        indexes = [models.Index(fields=["processed_at", "received_at"], name="stripe_event_unprocessed")]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"
