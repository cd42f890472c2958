"""A database outage as the user sees it: what counts as one, and one line that says so.

An outage is a database that cannot be reached or used right now (refused or
lost connection, server shutting down, a locked or unopenable SQLite file): it
passes, so the caller retries or reports it and exits. Anything else (a
constraint violation, a bad value, a bug) is not an outage and is not retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

T = TypeVar("T")

#: SQLite reports these as OperationalError, as it does schema and SQL mistakes; only these pass.
_SQLITE_OUTAGE = ("database is locked", "database table is locked", "unable to open database file", "disk i/o error")


def redacted(url: str) -> str:
    """``url`` with its password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: nothing in it to hide reliably
        return "<unparseable database URL>"


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` means the database is unreachable or locked, not that the work is wrong."""
    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    orig = getattr(exc, "orig", None)
    if type(orig).__module__.startswith("sqlite3"):
        return any(marker in str(orig).lower() for marker in _SQLITE_OUTAGE)
    return True


def reason(exc: BaseException) -> str:
    """The driver's own first line, e.g. ``connection refused`` or ``database is locked``."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def describe(url: str, exc: BaseException) -> str:
    """One line: which database, and what the driver said."""
    return f"the database {redacted(url)} is unavailable ({reason(exc)})"


def backoff_s(attempt: int, first_s: float = 1.0, cap_s: float = 30.0) -> float:
    """Capped exponential backoff: ``first_s * 2**attempt`` seconds, at most ``cap_s``."""
    return min(cap_s, first_s * 2 ** min(attempt, 32))


def retry_outage(
    work: Callable[[], T],
    attempts: int = 6,
    first_s: float = 1.0,
    cap_s: float = 16.0,
    on_retry: Callable[[BaseException, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``work()``, retried with capped exponential backoff while it fails with an outage.

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
