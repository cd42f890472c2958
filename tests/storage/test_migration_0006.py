"""Revision 0006 (a run's backtest cutoffs in forecast_runs) upgrades a database in place."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fcplan.storage import current_revision, head_revision, make_engine
from fcplan.storage.schema import forecast_runs

from .test_migration_0002 import upgrade_to

pytestmark = pytest.mark.integration

RUN_ROW = """INSERT INTO forecast_runs (run_id, created_at, model_version, horizon, quantiles, weights, data_end,
                                        fit_seconds, fallbacks, data_start, version, status)
             VALUES ('r1', '2026-03-01 04:00:00', 'ensemble:glm=1.00', 14, '[0.1, 0.5, 0.9]', '{"glm": 1.0}',
                     '2026-02-28', 1.5, '{}', '2026-01-04', 'abc', 'champion')"""


def test_when_a_database_is_at_0005_then_its_runs_get_the_cutoffs_column_and_keep_their_rows(db_url: str) -> None:
    old = sa.create_engine(db_url)
    upgrade_to(old, "0005")
    with old.begin() as conn:
        conn.execute(sa.text(RUN_ROW))
    assert "backtest_cutoffs" not in {c["name"] for c in sa.inspect(old).get_columns("forecast_runs")}
    old.dispose()

    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        row = conn.execute(sa.select(forecast_runs)).mappings().one()
    assert row["status"] == "champion" and row["horizon"] == 14
    assert row["backtest_cutoffs"] is None  # an old run: the registry falls back to the old grid
