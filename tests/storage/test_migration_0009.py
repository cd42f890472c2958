"""Revision 0009 (``counted_offsets``: the first record each log counted) upgrades a database in place."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from fcplan.storage import current_revision, head_revision, make_engine
from fcplan.storage.schema import counted_offsets
from fcplan.streams.counted import Origin, fingerprint, fresh

from .test_migration_0002 import downgrade_to, upgrade_to

pytestmark = pytest.mark.integration


def test_when_a_database_is_at_0008_then_counted_offsets_gets_its_base_and_old_marks_still_count(db_url: str) -> None:
    old = sa.create_engine(db_url)
    upgrade_to(old, "0008")
    with old.begin() as conn:
        row = {
            "log": "orders/3", "counted_to": 9, "fingerprint": fingerprint(b"o9"), "updated_at": datetime(2026, 3, 2),
        }
        conn.execute(sa.insert(counted_offsets), [row])  # (the 0008 columns only)
    old.dispose()

    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision() == "0009"
    origin = Origin.of_records([("orders/3", o) for o in range(8, 12)])
    with engine.begin() as conn:
        row = conn.execute(sa.select(counted_offsets.c.base_offset, counted_offsets.c.base_fingerprint)).one()
        assert tuple(row) == (None, None)
        # the old mark (no base) is used as before: offsets up to 9 counted, another record at 9 would be a new log
        assert fresh(conn, origin, 0, 4, lambda i: b"o%d" % (i + 8)).tolist() == [False, False, True, True]
        assert conn.execute(sa.select(counted_offsets.c.counted_to, counted_offsets.c.base_offset)).one() == (11, None)
    engine.dispose()


def test_when_0009_is_downgraded_then_counted_offsets_keeps_its_marks_without_the_base_and_upgrades_again(
    db_url: str,
) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:  # a mark with its base, counted at head
        assert fresh(conn, Origin.of_records([("orders/1", o) for o in range(3)]), 0, 3, lambda i: b"r%d" % i).all()
    downgrade_to(engine, "0008")
    assert current_revision(engine) == "0008"
    columns = {c["name"] for c in sa.inspect(engine).get_columns("counted_offsets")}
    assert not columns & {"base_offset", "base_fingerprint"} and "counted_to" in columns
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT log, counted_to FROM counted_offsets")).all() == [("orders/1", 2)]
    engine.dispose()
    engine = make_engine(db_url)  # upgraded again at start: the old mark (no base) still counts
    assert current_revision(engine) == head_revision()
    with engine.begin() as conn:
        origin = Origin.of_records([("orders/1", o) for o in range(4)])
        assert fresh(conn, origin, 0, 4, lambda i: b"r%d" % i).tolist() == [False, False, False, True]
    engine.dispose()
