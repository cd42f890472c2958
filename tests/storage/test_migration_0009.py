"""Revision 0009 (``counted_offsets``: the first record each log counted) upgrades a database in place."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from fcplan.storage import current_revision, head_revision, make_engine
from fcplan.storage.schema import counted_offsets
from fcplan.streams.counted import Origin, fingerprint, fresh

from .test_migration_0002 import upgrade_to

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
