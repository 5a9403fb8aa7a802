"""The one interface every gateway adapter implements.

Adapters take plain values and return typed results; they know nothing of Django models, so each can
be tested against its sandbox alone. Core code asks capability flags instead of special-casing a
provider (the pretix idea).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Capabilities:
    void: bool = False
    partial_refund: bool = False
    amount_change: bool = False
    reauthorize: bool = False
    search: bool = False
    authorization_extension: bool = False


@dataclass(frozen=True)
class GatewayErrorDetail:
    code: str  # e.g. "E01" / "42G"
    info: str  # e.g. "E01060010" / "42G020000"


@dataclass(frozen=True)
class TransactionResult:
    """What a gateway says a transaction looks like after an operation or a search."""

    status: str  # the gateway's own status word, e.g. AUTH / SALES / VOID
    amount: int
    access_id: str = ""
    access_pass: str = field(default="", repr=False)
    approve: str = ""
    tran_id: str = ""
    processed_at: datetime | None = None
    job_cd: str = ""
    raw: dict = field(default_factory=dict, repr=False)


# --- exception vocabulary (oscar-style: callers catch by meaning) ---------------------------------


class GatewayError(Exception):
    """Base of everything an adapter raises."""


class GatewayRefused(GatewayError):
    """The gateway answered and refused: nothing was applied. Carries the gateway's codes."""

    def __init__(self, errors: list[GatewayErrorDetail], message: str = ""):
        self.errors = errors
        super().__init__(message or self.codes)

    @property
    def codes(self) -> str:
        return "|".join(e.info for e in self.errors)

    def has(self, info: str) -> bool:
        return any(e.info == info for e in self.errors)


class GatewayNotSent(GatewayError):
    """The request never reached the gateway (connection refused, DNS, connect timeout).

    Safe to treat as "not applied": nothing left this machine.
    """


class GatewayOutcomeUnknown(GatewayError):
    """The request may have been applied: read timeout, connection dropped, garbled answer.

    Never retried blindly; resolved by asking the gateway (SearchTrade / retrieve).
    """


class TransactionNotFound(GatewayError):
    """A search found no transaction under that id."""
