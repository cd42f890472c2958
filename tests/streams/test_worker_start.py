"""A worker started while its database is down waits for it instead of exiting."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ArgumentError, OperationalError

from fcplan.storage.outage import Backoff, GaveUp
from fcplan.streams import app as app_mod


def test_a_database_down_at_start_is_waited_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = app_mod.make_engine
    attempts: list[str] = []

    def make_engine(url: str):
        attempts.append(url)
        if len(attempts) <= 3:
            raise OperationalError("connect", {}, ConnectionRefusedError("connection refused"))
        return real(url)

    monkeypatch.setattr(app_mod, "make_engine", make_engine)
    slept: list[float] = []
    engine = app_mod.open_database(f"sqlite:///{tmp_path / 'fc.db'}", Backoff(1.0, 2.0, 3.0), sleep=slept.append)
    assert slept == [1.0, 2.0, 3.0] and len(attempts) == 4
    with engine.connect() as conn:  # migrated: the worker's tables are there
        assert conn.execute(text("SELECT count(*) FROM stream_metrics")).scalar_one() == 0
    engine.dispose()


def test_an_unopenable_database_is_retried_until_told_to_stop(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.db"
    folder.mkdir()  # SQLite cannot open a folder: an outage, as for a missing mount
    slept: list[float] = []
    with pytest.raises(GaveUp):
        app_mod.open_database(
            f"sqlite:///{folder}", Backoff(0.01, 2.0, 0.02), sleep=slept.append, keep_going=lambda: len(slept) < 3
        )
    assert len(slept) == 3


def test_a_bad_url_is_not_waited_for() -> None:
    with pytest.raises(ArgumentError):
        app_mod.open_database("not a url", sleep=lambda s: pytest.fail("a bad URL must not be retried"))
