"""``rm var/fcplan.db`` while the worker runs: SQLite went on writing into the unlinked file, so every
order after it was lost without a word (the path stayed missing). Now the worker notices, logs it as
an error, creates the file again with the schema and stores the orders that follow in it."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from fcplan.core.contracts import ORDERS

from .test_worker import keyed, make_orders

pytestmark = pytest.mark.integration


def _orders_in(path: Path) -> int | str:
    """Orders stored in the file now at ``path`` (a fresh connection: not the one the test's engine holds)."""
    if not path.exists():
        return "no file"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return int(conn.execute("SELECT count(*) FROM orders").fetchone()[0])


@pytest.mark.slow
def test_orders_sent_after_the_database_file_was_deleted_are_stored_in_a_new_one(stack) -> None:
    path = Path(stack.db_url.removeprefix("sqlite:///"))
    first, later = make_orders(300, seed=41), make_orders(200, seed=42)
    worker = stack.start_worker()
    stack.produce(ORDERS, keyed(first))
    stack.wait_for("orders in the first file", lambda: _orders_in(path), len(first))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    stack.produce(ORDERS, keyed(later))
    stack.wait_for("orders in the new file", lambda: _orders_in(path), len(later), timeout_s=90)
    assert worker.alive()
    assert "was deleted while open" in worker.log()
