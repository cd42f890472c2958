"""Waiting out database outages: lost connections and locks told apart from bad data, capped backoff."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from fcplan.storage import make_engine
from fcplan.storage.outage import Backoff, GaveUp, OutageStats, call_through_outages, is_outage


def wrapped(cls: type[sa_exc.DBAPIError], orig: Exception) -> sa_exc.DBAPIError:
    return cls("INSERT ...", {}, orig)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(sa_exc.OperationalError, sqlite3.OperationalError("database is locked")),
        wrapped(sa_exc.OperationalError, Exception("connection refused")),
        wrapped(sa_exc.InterfaceError, Exception("connection already closed")),
        sa_exc.DisconnectionError("gone"),
        sa_exc.TimeoutError("QueuePool limit reached"),
        sqlite3.OperationalError("database is locked"),
        ConnectionResetError("reset by peer"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_lost_connection_or_a_locked_database_is_an_outage(error: Exception) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(sa_exc.IntegrityError, sqlite3.IntegrityError("UNIQUE constraint failed")),
        wrapped(sa_exc.DataError, Exception("PostgreSQL text fields cannot contain NUL (0x00) bytes")),
        wrapped(sa_exc.ProgrammingError, sqlite3.ProgrammingError("type 'dict' is not supported")),
        OverflowError("date value out of range"),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
        ValueError("database is locked"),  # the words alone (a record may quote them) are not an outage
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_error_tied_to_the_data_written_is_not_an_outage(error: Exception) -> None:
    assert not is_outage(error)


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [Backoff(0.1, 2.0, 1.0).delay(n) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert Backoff().delay(10_000) == Backoff().cap_s


def test_an_outage_is_retried_with_backoff_until_the_call_succeeds(caplog: pytest.LogCaptureFixture) -> None:
    slept: list[float] = []
    attempts = iter([sqlite3.OperationalError("database is locked")] * 4 + [None])

    def call() -> str:
        error = next(attempts)
        if error:
            raise wrapped(sa_exc.OperationalError, error)
        return "stored"

    stats = OutageStats()
    with caplog.at_level("WARNING"):
        assert call_through_outages(call, "test", Backoff(1.0, 2.0, 5.0), stats, sleep=slept.append) == "stored"
    assert slept == [1.0, 2.0, 4.0, 5.0]
    assert (stats.retries, stats.waited_s) == (4, 12.0)
    assert sum("retry" in r.message for r in caplog.records) == 4
    assert "available again after 4 retries" in caplog.records[-1].message


def test_an_error_that_is_not_an_outage_is_raised_at_once() -> None:
    def call() -> None:
        raise wrapped(sa_exc.IntegrityError, sqlite3.IntegrityError("NOT NULL constraint failed"))

    with pytest.raises(sa_exc.IntegrityError):
        call_through_outages(call, "test", sleep=lambda s: pytest.fail("slept on a content error"))


def test_when_told_to_stop_during_an_outage_then_it_gives_up() -> None:
    def call() -> None:
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(GaveUp, match="after 1 retries"):
        call_through_outages(call, "test", keep_going=lambda: False, sleep=lambda s: None)


@pytest.mark.integration
def test_a_real_sqlite_lock_is_an_outage_that_ends_when_the_lock_is_released(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    engine = make_engine(url, sqlite_busy_ms=50)
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    waits: list[float] = []

    def release_after_three(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            holder.execute("ROLLBACK")

    def write() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO stream_metrics (name, reason, value, updated_at) "
                              "VALUES ('t', 'r', 1, '2024-01-01')"))

    call_through_outages(write, "test", Backoff(0.01, 2.0, 0.05), sleep=release_after_three)
    assert len(waits) == 3
    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM stream_metrics WHERE name = 't'")).scalar_one() == 1
    holder.close()
    engine.dispose()
