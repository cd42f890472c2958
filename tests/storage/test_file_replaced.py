"""The SQLite file deleted or replaced while a long-running process has it open (``rm var/fcplan.db``,
a backup restored with ``mv``): SQLite goes on writing into the file it opened, unlinked or not, so
every order stored after it was lost without a word. Now the change is noticed before the next
transaction (and before each commit), logged as an error, and the writes go to the file at the path,
created again with the schema when it is gone."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fcplan.storage import make_engine
from fcplan.storage.outage import Backoff
from fcplan.streams.batch_decode import Fetch
from fcplan.streams.order_writer import process_fetch
from fcplan.streams.validation import Limits

FAST = Backoff(0.01, 2.0, 0.05)


def _fetch(*ids: str) -> Fetch:
    ts = datetime.now(UTC).replace(minute=0, second=0, microsecond=0).isoformat()
    return Fetch.of([json.dumps({"order_id": i, "center_id": "FC1", "ts": ts, "lines": 1, "units": 2}).encode()
                     for i in ids])


def _stored(path: Path) -> list[str]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return sorted(r for r, in conn.execute("SELECT order_id FROM orders"))


@pytest.mark.parametrize("files", [("",), ("", "-wal", "-shm")], ids=["db-only", "db-wal-shm"])
def test_orders_written_after_the_file_was_deleted_go_to_a_new_file(
    tmp_path: Path, files: tuple[str, ...], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "var" / "fcplan.db"
    engine = make_engine(f"sqlite:///{path}")
    assert process_fetch(_fetch("a-1", "a-2"), engine, Limits(), backoff=FAST).accepted == 2
    for suffix in files:
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with caplog.at_level(logging.ERROR, logger="fcplan.storage"):
        assert process_fetch(_fetch("b-1"), engine, Limits(), backoff=FAST).accepted == 1
        assert process_fetch(_fetch("b-2"), engine, Limits(), backoff=FAST).accepted == 1
    assert _stored(path) == ["b-1", "b-2"]  # the old file's orders went with it; none written after
    assert "was deleted while open" in caplog.text and caplog.text.count("was deleted while open") == 1
    engine.dispose()


def test_orders_written_after_the_file_was_replaced_go_to_the_replacement(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "fcplan.db"
    engine = make_engine(f"sqlite:///{path}")
    process_fetch(_fetch("a-1"), engine, Limits(), backoff=FAST)
    with closing(sqlite3.connect(path)) as src, closing(sqlite3.connect(tmp_path / "backup.db")) as dst:
        src.backup(dst)
    process_fetch(_fetch("a-2"), engine, Limits(), backoff=FAST)
    # The backup restored over the file in use (a-2 is not in it), without the old file's write-ahead
    # log: SQLite would read the backup with it (it keeps it on closing a moved file).
    os.replace(tmp_path / "backup.db", path)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink()
    with caplog.at_level(logging.ERROR, logger="fcplan.storage"):
        process_fetch(_fetch("b-1"), engine, Limits(), backoff=FAST)
    assert _stored(path) == ["a-1", "b-1"]
    assert "was replaced while open" in caplog.text
    engine.dispose()


def test_a_transaction_open_when_the_file_goes_is_not_committed_to_the_old_file(tmp_path: Path) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DisconnectionError

    from fcplan.storage.outage import is_outage

    path = tmp_path / "fcplan.db"
    engine = make_engine(f"sqlite:///{path}")
    with pytest.raises(DisconnectionError) as raised, engine.begin() as conn:
        conn.execute(text("INSERT INTO orders (order_id, center_id, ts_us, lines, units) VALUES ('x', 'FC1', 0, 1, 1)"))
        shutil.move(path, tmp_path / "moved.db")
    assert is_outage(raised.value)  # the writers retry it, into the file at the path
    assert process_fetch(_fetch("b-1"), engine, Limits(), backoff=FAST).accepted == 1
    assert _stored(path) == ["b-1"]
    engine.dispose()
