"""Revision 0008 (``counted_offsets``: what the worker's counters already hold) upgrades a database in place."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from fcplan.storage import current_revision, head_revision, make_engine
from fcplan.storage.schema import counted_offsets

from .test_migration_0002 import upgrade_to

pytestmark = pytest.mark.integration


def test_when_a_database_is_at_0007_then_it_gets_counted_offsets_and_keeps_its_counters(db_url: str) -> None:
    old = sa.create_engine(db_url)
    upgrade_to(old, "0007")
    with old.begin() as conn:
        conn.execute(sa.text("INSERT INTO stream_metrics VALUES ('orders', 'accepted', 7, '2026-03-01 05:00:00')"))
    assert "counted_offsets" not in sa.inspect(old).get_table_names()
    old.dispose()

    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT value FROM stream_metrics")).scalar() == 7
        conn.execute(
            sa.insert(counted_offsets),
            [{"log": "orders/3", "counted_to": 2**40, "fingerprint": -(2**63), "updated_at": datetime(2026, 3, 1, 5)}],
        )
        assert conn.execute(sa.select(counted_offsets.c.counted_to, counted_offsets.c.fingerprint)).one() == (
            2**40,
            -(2**63),
        )
