"""What a payment service refuses with. Every error carries a code (for the API) and a message."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class PaymentError(Exception):
    code = "payment_error"
    http_status = 400
    default_message = _("The operation could not be performed.")

    def __init__(self, message=None, *, operation=None):
        self.message = str(message or self.default_message)
        self.operation = operation
        super().__init__(self.message)


class InvalidTransition(PaymentError):
    code = "invalid_transition"
    http_status = 409


class InvalidAmount(PaymentError):
    code = "invalid_amount"
    http_status = 400


class InvalidToken(PaymentError):
    code = "invalid_token"
    http_status = 400


class PaymentBusy(PaymentError):
    code = "payment_busy"
    http_status = 409
    default_message = _("Another operation on this payment is still being processed or resolved with "
                        "the gateway. Wait for it to finish (or run a status check) and try again.")


class ChangedMeanwhile(PaymentError):
    code = "changed_meanwhile"
    http_status = 409
    default_message = _("This payment was changed meanwhile by someone else. Reload it and check "
                        "before trying again.")


class IdempotencyConflict(PaymentError):
    code = "idempotency_conflict"
    http_status = 422
    default_message = _("This idempotency key was already used for a different request.")


class NotPermitted(PaymentError):
    code = "not_permitted"
    http_status = 403
    default_message = _("You are not allowed to perform this operation.")


class GatewayDeclined(PaymentError):
    """The gateway refused; nothing changed. `gateway_code` is GMO's ErrInfo list."""

    code = "gateway_declined"
    http_status = 402

    def __init__(self, message=None, *, gateway_code: str = "", operation=None):
        self.gateway_code = gateway_code
        super().__init__(message, operation=operation)


class GatewayUnavailable(PaymentError):
    code = "gateway_unavailable"
    http_status = 503
    default_message = _("The payment gateway could not be reached. Nothing was sent; try again later.")


class OutcomeUnknown(PaymentError):
    code = "outcome_unknown"
    http_status = 202
    default_message = _("The request reached the gateway but its answer was lost. The payment is "
                        "locked until a status check with the gateway resolves it; nothing will be "
                        "sent again blindly.")
