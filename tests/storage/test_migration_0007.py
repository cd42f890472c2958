"""Revision 0007 (an index on center_hourly.updated_at) upgrades a database in place."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fcplan.storage import current_revision, head_revision, make_engine

from .test_migration_0002 import upgrade_to

pytestmark = pytest.mark.integration


def test_when_a_database_is_at_0006_then_center_hourly_gets_its_updated_at_index_and_keeps_its_rows(
    db_url: str,
) -> None:
    old = sa.create_engine(db_url)
    upgrade_to(old, "0006")
    with old.begin() as conn:
        conn.execute(sa.text("INSERT INTO center_hourly VALUES ('FC-1', '2026-03-01 04:00:00', 7, 14, 21, "
                             "'2026-03-01 05:00:00')"))
    assert "ix_center_hourly_updated_at" not in {i["name"] for i in sa.inspect(old).get_indexes("center_hourly")}
    old.dispose()

    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    indexes = {i["name"]: i["column_names"] for i in sa.inspect(engine).get_indexes("center_hourly")}
    assert indexes["ix_center_hourly_updated_at"] == ["updated_at"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT orders FROM center_hourly")).scalar() == 7
