"""Database outages: tell them from bad data, and wait them out with capped backoff.

An *outage* is anything that says the database cannot be used right now, not
that a statement or its values are wrong: a refused or lost connection, a
server shutting down, a serialization failure, SQLite's ``database is locked``
or ``busy`` (another process holds the write lock), a full disk. SQLAlchemy
reports those as ``OperationalError``, ``InterfaceError``,
``DisconnectionError`` or a pool ``TimeoutError``. Everything else (an integrity
or data error, a value the driver cannot bind) is tied to what was written, so
retrying the same statement cannot help: the orders writer isolates the record
instead (:mod:`streams.poison`).

:func:`call_through_outages` retries a call for as long as the database is out,
with exponential backoff capped at a few seconds, logging every retry, until
the call succeeds or ``keep_going`` says to give up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)
T = TypeVar("T")

_OUTAGE_TYPES: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    ConnectionError,
)
#: The drivers' own classes (sqlite3, psycopg) of the same kinds, by name: SQLite's
#: ``database is locked`` / ``busy`` is a ``sqlite3.OperationalError``.
_DRIVER_OUTAGES = {"OperationalError", "InterfaceError"}


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is unavailable (retry later) rather than
    that the statement or its data is wrong (see the module docstring)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, _OUTAGE_TYPES):
            return True
        if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
            return True
        if any(cls.__name__ in _DRIVER_OUTAGES for cls in type(exc).__mro__):
            return True
        exc = exc.__cause__ or getattr(exc, "orig", None)  # type: ignore[assignment]
    return False


@dataclass(frozen=True)
class Backoff:
    """Seconds to wait before retry ``n`` (1, 2, ...): ``first_s * factor**(n-1)``, at most ``cap_s``."""

    first_s: float = 0.1
    factor: float = 2.0
    cap_s: float = 5.0

    def delay(self, retry: int) -> float:
        return min(self.cap_s, self.first_s * self.factor ** min(retry - 1, 64))


#: 0.1 s, 0.2 s, ... then every 5 s: a short lock costs little, a long outage a log line every 5 s.
DEFAULT_BACKOFF = Backoff()


@dataclass
class OutageStats:
    """What waiting out outages cost: retries made and seconds spent waiting."""

    retries: int = 0
    waited_s: float = 0.0


class GaveUp(RuntimeError):
    """Raised by :func:`call_through_outages` when ``keep_going`` said stop during an outage."""


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def call_through_outages(
    call: Callable[[], T],
    what: str,
    backoff: Backoff = DEFAULT_BACKOFF,
    stats: OutageStats | None = None,
    keep_going: Callable[[], bool] = lambda: True,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, retried after every outage (:func:`is_outage`) with ``backoff``.

    Other exceptions propagate at once. Each retry is logged (``what`` names
    the caller) and added to ``stats``; the first success after an outage says
    how long it lasted. Raises :class:`GaveUp` if ``keep_going()`` is false
    after a wait.
    """
    retries, started = 0, time.monotonic()
    while True:
        try:
            result = call()
        except Exception as exc:
            if not is_outage(exc):
                raise
            retries += 1
            delay = backoff.delay(retries)
            log.warning(
                "%s: database unavailable (%s); retry %d in %.1f s (%.1f s since the first attempt)",
                what, _short(exc), retries, delay, time.monotonic() - started,
            )
            sleep(delay)
            if stats is not None:
                stats.retries += 1
                stats.waited_s += delay
            if not keep_going():
                raise GaveUp(f"{what}: gave up waiting for the database after {retries} retries") from exc
            continue
        if retries:
            log.warning("%s: database available again after %d retries, %.1f s", what, retries,
                        time.monotonic() - started)
        return result
