"""Database outages: tell them from bad data, say them in one line, wait them out.

An *outage* is anything that says the database cannot be used right now, not
that a statement or its values are wrong: a refused or lost connection, a
server shutting down, SQLite's ``database is locked`` / ``busy`` (another
process holds the write lock) or a file it cannot open, a full disk. SQLAlchemy
reports those as ``OperationalError``, ``InterfaceError``,
``DisconnectionError`` or a pool ``TimeoutError``. SQLite also reports SQL
mistakes (``no such table``) as ``OperationalError``: those are not outages.
Everything else (an integrity or data error, a value the driver cannot bind)
is tied to what was written, so retrying the same statement cannot help: the
orders writer isolates the record instead (:mod:`fcplan.streams.poison`).

Long-running loops wait an outage out with :func:`call_through_outages`
(capped exponential backoff, every retry logged, until ``keep_going`` says
stop); one-shot commands retry a few times with :func:`retry_outage` and then
report it with :func:`describe`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)
T = TypeVar("T")

_OUTAGE_TYPES: tuple[type[BaseException], ...] = (
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    ConnectionError,
)
#: SQLite reports these as OperationalError, as it does schema and SQL mistakes; only these pass.
_SQLITE_OUTAGE = (
    "database is locked",
    "database table is locked",
    "database is busy",
    "unable to open database file",
    "disk i/o error",
    "database or disk is full",
    # the file (or its folder) turned read-only: chmod, a disk remounted read-only; writing every
    # record again after it is fixed beats dead-lettering them all as unwritable
    "readonly database",
    # the file was overwritten or damaged (sqlite3.DatabaseError): until it is restored, every write
    # fails alike; dead-lettering each record as unwritable would empty the stream out of the database
    "file is not a database",
    "database disk image is malformed",
)
#: The drivers' own classes (psycopg, sqlite3) of the outage kinds, by name.
_DRIVER_OUTAGES = {"OperationalError", "InterfaceError"}
#: PostgreSQL error codes that say the database cannot be written now, whatever is written, but that
#: psycopg does not raise as OperationalError: 25006 read_only_sql_transaction (a hot standby after a
#: failover, ``default_transaction_read_only`` set by an operator or by a cloud provider whose storage
#: is full). Taken for bad data, every record of every batch was bisected and dead-lettered as
#: ``unwritable`` (promotions) or the orders consumer failed and started again every 30 s, leaving its
#: group; SQLite's "readonly database" was an outage already.
_PG_OUTAGE_STATES = {"25006"}


def _sqlite_outage(exc: BaseException) -> bool:
    return any(marker in str(exc).lower() for marker in _SQLITE_OUTAGE)


def _sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL error code of a psycopg exception, or of the driver's exception a
    SQLAlchemy ``DBAPIError`` wraps (``None`` for others)."""
    if isinstance(exc, sa_exc.DBAPIError):
        return getattr(exc.orig, "sqlstate", None)
    return getattr(exc, "sqlstate", None) if type(exc).__module__.startswith("psycopg") else None


def _says_outage(exc: BaseException) -> bool:
    """Whether this one exception (not its causes) says the database is out."""
    if isinstance(exc, _OUTAGE_TYPES) or _sqlstate(exc) in _PG_OUTAGE_STATES:
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        if not isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
            return isinstance(exc, sa_exc.DatabaseError) and type(orig).__module__.startswith("sqlite3") \
                and _sqlite_outage(orig)
        return _sqlite_outage(orig) if type(orig).__module__.startswith("sqlite3") else True
    if type(exc).__module__.startswith("sqlite3") and type(exc).__name__ == "DatabaseError":
        return _sqlite_outage(exc)
    if not any(cls.__name__ in _DRIVER_OUTAGES for cls in type(exc).__mro__):
        return False
    return _sqlite_outage(exc) if type(exc).__module__.startswith("sqlite3") else True


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) says the database is
    unavailable (retry later) rather than that the statement or its data is wrong."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _says_outage(current):
            return True
        current = current.__cause__ or getattr(current, "orig", None)
    return False


def redacted(url: str) -> str:
    """``url`` with its password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: nothing in it to hide reliably
        return "<unparseable database URL>"


def reason(exc: BaseException) -> str:
    """The driver's own first line, e.g. ``connection refused`` or ``database is locked``."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def describe(url: str, exc: BaseException) -> str:
    """One line: which database, and what the driver said."""
    return f"the database {redacted(url)} is unavailable ({reason(exc)})"


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


def backoff_s(attempt: int, first_s: float = 1.0, cap_s: float = 30.0) -> float:
    """Capped exponential backoff after failure ``attempt`` (0, 1, ...): ``first_s * 2**attempt``, at most ``cap_s``."""
    return Backoff(first_s, 2.0, cap_s).delay(attempt + 1)


@dataclass
class OutageStats:
    """What waiting out outages cost: retries made and seconds spent waiting."""

    retries: int = 0
    waited_s: float = 0.0


class GaveUp(RuntimeError):
    """Raised by :func:`call_through_outages` when ``keep_going`` said stop during an outage."""


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {reason(exc)}"[:300]


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


def retry_outage(
    work: Callable[[], T],
    attempts: int = 6,
    first_s: float = 1.0,
    cap_s: float = 16.0,
    on_retry: Callable[[BaseException, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``work()``, tried at most ``attempts`` times while it fails with an outage.

    Other errors, and the outage after the last attempt, propagate.
    ``on_retry(exc, delay)`` is told before each wait.
    """
    for attempt in range(attempts):
        try:
            return work()
        except Exception as exc:
            if not is_outage(exc) or attempt == attempts - 1:
                raise
            delay = backoff_s(attempt, first_s, cap_s)
            if on_retry is not None:
                on_retry(exc, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
