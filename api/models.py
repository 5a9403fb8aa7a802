from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shops.models import Shop


class IdempotencyRecord(models.Model):
    """An API request with an Idempotency-Key and the response it got, replayed for the same key."""

    IN_FLIGHT = "in_flight"
    DONE = "done"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=12, default=IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)  # purged after the retention period
    # When the request now holding the key started; a stale in-flight claim may be taken over.
    claimed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("idempotency record")
        constraints = [models.UniqueConstraint(fields=["shop", "key"], name="uniq_idempotency_key")]

    def __str__(self) -> str:
        return self.key
