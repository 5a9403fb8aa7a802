"""Local gateway sandboxes: stand-alone HTTP servers speaking the real wire protocols.

Production code never imports this package; adapters and tests talk to it over loopback HTTP
(see ``server.SandboxServer``). Only the standard library is used here, so the servers run without
Django. The clock is shared by every sandbox mounted on one server, so "91 days later" means the
same thing to all of them.
"""

import threading
from datetime import datetime, timedelta, timezone

JST = timezone(timedelta(hours=9), "JST")


class SandboxClock:
    """Real time plus an adjustable offset, so tests can age authorizations without waiting."""

    def __init__(self, offset_seconds: float = 0.0):
        self._lock = threading.Lock()
        self._offset = float(offset_seconds)

    @property
    def offset_seconds(self) -> float:
        return self._offset

    def now(self) -> datetime:
        return datetime.now(JST) + timedelta(seconds=self._offset)

    def set_offset(self, seconds: float) -> None:
        with self._lock:
            self._offset = float(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += float(seconds)

    def set_now(self, moment: datetime) -> None:
        """Jump to an absolute moment (naive datetimes are read as JST)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=JST)
        with self._lock:
            self._offset = (moment - datetime.now(JST)).total_seconds()

    def reset(self) -> None:
        self.set_offset(0)


__all__ = ["JST", "SandboxClock"]
