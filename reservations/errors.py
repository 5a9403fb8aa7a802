"""What a reservation service refuses with.

Subclasses of PaymentError so the API's existing error handling (code, http_status, message) applies
unchanged; InvalidTransition and NotPermitted are reused as they are.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from payments.errors import InvalidTransition, NotPermitted, PaymentError

__all__ = ["InvalidSeats", "InvalidTransition", "NotPermitted", "SlotFull", "UnknownReservation"]


class SlotFull(PaymentError):
    code = "slot_full"
    http_status = 409
    default_message = _("There are not enough free seats in this slot.")


class InvalidSeats(PaymentError):
    code = "invalid_seats"
    http_status = 400
    default_message = _("A reservation needs at least one seat.")


class UnknownReservation(PaymentError):
    code = "unknown_reservation"
    http_status = 404
    default_message = _("No such reservation or slot.")
