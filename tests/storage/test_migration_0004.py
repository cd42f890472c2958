"""Revision 0004 (the crew plan's detail in staffing_plans) upgrades a database in place."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fcplan.storage import current_revision, head_revision, make_engine
from fcplan.storage.schema import staffing_plans

from .test_migration_0002 import upgrade_to

pytestmark = pytest.mark.integration

PLAN_ROW = """INSERT INTO staffing_plans (plan_id, center_id, day, shift, orders_median, orders_planned,
                                          packer_hours, packers)
              VALUES ('p1', 'FC-A', '2026-03-01', 'day', 10.0, 12.0, 1.2, 3)"""


def test_when_a_database_is_at_0003_then_its_plans_get_the_crew_columns_and_keep_their_rows(db_url: str) -> None:
    old = sa.create_engine(db_url)
    upgrade_to(old, "0003")
    with old.begin() as conn:
        conn.execute(sa.text(PLAN_ROW))
    assert "action" not in {c["name"] for c in sa.inspect(old).get_columns("staffing_plans")}
    old.dispose()

    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        row = conn.execute(sa.select(staffing_plans)).mappings().one()
    assert row["packers"] == 3
    assert row["action"] is None and row["packers_before"] is None and row["starts_at"] is None
