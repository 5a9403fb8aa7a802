"""A claim's refund whose gateway answer was lost finishes when the status sync settles the operation."""

from __future__ import annotations

from django.dispatch import receiver

from payments.models import OperationState, Payment
from payments.signals import payment_changed


@receiver(payment_changed, sender=Payment)
def finish_claim_refund(sender, payment, operation, **kwargs):
    from claims.money import CLAIM
    from claims.services import finish_claim

    claim_id = (operation.context or {}).get(CLAIM)
    if claim_id and operation.state == OperationState.SUCCEEDED:
        finish_claim(claim_id, operation)
