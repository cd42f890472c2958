"""What counts as a database outage, how it is said, and the retry around it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from fcplan.app.broker import free_port
from fcplan.storage import make_engine, outage


def failure_of(url: str, sql: str = "SELECT 1") -> Exception:
    engine = make_engine(url, create=False)
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    except Exception as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError(f"{sql} on {url} did not fail")


def test_a_refused_postgresql_connection_is_an_outage_said_without_the_password() -> None:
    url = f"postgresql+psycopg://fc:s3cret@127.0.0.1:{free_port()}/fcplan"
    exc = failure_of(url)
    assert outage.is_outage(exc)
    said = outage.describe(url, exc)
    assert said.startswith("the database postgresql+psycopg://fc:***@127.0.0.1:") and "s3cret" not in said
    assert "(connection failed" in said and "\n" not in said


def test_a_locked_or_unopenable_sqlite_file_is_an_outage_but_a_wrong_query_is_not(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    assert outage.is_outage(failure_of(f"sqlite:///{folder}"))
    sqlite3.connect(tmp_path / "ok.db").close()  # an existing, empty database
    wrong = failure_of(f"sqlite:///{tmp_path / 'ok.db'}", "SELECT * FROM no_such_table")
    assert isinstance(wrong, OperationalError) and not outage.is_outage(wrong)
    locked = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    assert outage.is_outage(locked) and outage.reason(locked) == "database is locked"


def test_errors_tied_to_the_data_or_the_sql_are_not_outages() -> None:
    assert not outage.is_outage(IntegrityError("INSERT", {}, ValueError("duplicate key")))
    assert not outage.is_outage(ProgrammingError("SELECT", {}, ValueError("syntax error")))
    assert not outage.is_outage(ValueError("not a database error"))


def test_an_unparseable_url_is_not_echoed() -> None:
    assert outage.redacted("::not a url with pa55word::") == "<unparseable database URL>"


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [outage.backoff_s(i, 1.0, 16.0) for i in range(7)] == [1, 2, 4, 8, 16, 16, 16]
    assert outage.backoff_s(10_000, 0.5, 30.0) == 30.0


def test_retry_outage_waits_out_an_outage_and_gives_up_after_its_attempts() -> None:
    down = OperationalError("SELECT", {}, ConnectionRefusedError("connection refused"))
    calls, waits = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise down
        return "stored"

    assert outage.retry_outage(flaky, attempts=6, sleep=waits.append) == "stored"
    assert waits == [1.0, 2.0, 4.0]

    def always_down() -> None:
        raise down

    waits.clear()
    with pytest.raises(OperationalError):
        outage.retry_outage(always_down, attempts=3, sleep=waits.append)
    assert waits == [1.0, 2.0]


def test_retry_outage_does_not_retry_other_errors() -> None:
    calls = []

    def bug() -> None:
        calls.append(1)
        raise IntegrityError("INSERT", {}, ValueError("duplicate key"))

    with pytest.raises(IntegrityError):
        outage.retry_outage(bug, sleep=lambda s: None)
    assert len(calls) == 1


def test_an_engine_asked_not_to_create_makes_no_folder_and_no_file_and_fails_as_an_outage(tmp_path: Path) -> None:
    """``create=False`` (the dashboard's engine) creates nothing: a missing SQLite file is an
    outage ("unable to open database file"), never a new empty database in a new folder."""
    missing = tmp_path / "typo" / "fcplan.db"
    exc = failure_of(f"sqlite:///{missing}")
    assert outage.is_outage(exc) and "unable to open database file" in str(exc)
    assert not missing.parent.exists()
    beside = tmp_path / "not-yet.db"
    assert outage.is_outage(failure_of(f"sqlite:///{beside}"))
    assert list(tmp_path.iterdir()) == []
    # Once the worker has made it, the same URL reads it.
    make_engine(f"sqlite:///{beside}").dispose()
    engine = make_engine(f"sqlite:///{beside}", create=False)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM center_hourly")).scalar() == 0
    engine.dispose()


def test_postgresql_read_only_is_an_outage_bare_or_wrapped_and_other_internal_errors_are_not() -> None:
    """SQLSTATE 25006 (psycopg raises it as InternalError, not OperationalError) is an outage both as
    psycopg's own exception and wrapped by SQLAlchemy, with or without ``from`` (the chain not walked)."""
    from psycopg import errors as pg_errors
    from sqlalchemy.exc import InternalError

    read_only = pg_errors.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction")
    assert read_only.sqlstate == "25006"
    assert outage.is_outage(read_only)
    assert outage.is_outage(InternalError("INSERT", {}, read_only))
    other = pg_errors.InFailedSqlTransaction("current transaction is aborted")
    assert not outage.is_outage(other)
    assert not outage.is_outage(InternalError("INSERT", {}, other))
