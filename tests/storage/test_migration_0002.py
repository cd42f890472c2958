"""Revisions 0002 (the loop in time) and 0003 (promotion effects per kind) upgrade a
database in place, keeping its rows."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from fcplan.storage import MIGRATIONS, current_revision, head_revision, make_engine
from fcplan.storage.schema import forecast_alerts, forecast_runs

pytestmark = pytest.mark.integration

ALERT = """INSERT INTO forecast_alerts (alert_id, created_at, center_id, day, kind, message)
           VALUES ('a1', '2026-03-01 10:00:00', 'FC-A', '2026-03-01', 'outside_band', 'm')"""


def upgrade_to(engine: sa.Engine, revision: str) -> None:
    _migrate(engine, command.upgrade, revision)


def downgrade_to(engine: sa.Engine, revision: str) -> None:
    _migrate(engine, command.downgrade, revision)


def _migrate(engine: sa.Engine, step, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        step(config, revision)


def test_when_a_database_is_at_0001_then_it_gets_the_loops_tables_columns_and_indexes_and_keeps_its_alerts(
    db_url: str,
) -> None:
    old = sa.create_engine(db_url)
    upgrade_to(old, "0001")
    with old.begin() as conn:
        conn.execute(sa.text(ALERT))
    assert current_revision(old) == "0001"
    assert "status" not in {c["name"] for c in sa.inspect(old).get_columns("forecast_alerts")}
    old.dispose()

    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    inspector = sa.inspect(engine)
    assert {"model_decisions", "model_artifacts", "clock_state"} <= set(inspector.get_table_names())
    assert {"status", "statistic", "threshold", "evidence", "window_start", "model_version", "cleared_at"} <= {
        c["name"] for c in inspector.get_columns("forecast_alerts")
    }
    assert {"data_start", "version", "status"} <= {c["name"] for c in inspector.get_columns("forecast_runs")}
    assert "ix_forecasts_ds" in {i["name"] for i in inspector.get_indexes("forecasts")}
    assert "ix_forecast_runs_created_at" in {i["name"] for i in inspector.get_indexes("forecast_runs")}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(forecast_alerts.c.alert_id, forecast_alerts.c.status)).all()
        assert [tuple(r) for r in rows] == [("a1", None)]
        assert conn.execute(sa.select(sa.func.count()).select_from(forecast_runs)).scalar() == 0


def test_when_a_database_is_at_0002_then_it_gets_the_promotion_kind_effects_and_keeps_its_alerts(
    db_url: str,
) -> None:
    old = sa.create_engine(db_url)
    upgrade_to(old, "0002")
    with old.begin() as conn:
        conn.execute(sa.text(ALERT))
    assert current_revision(old) == "0002"
    assert "promo_kind_effects" not in sa.inspect(old).get_table_names()
    old.dispose()

    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    assert "promo_kind_effects" in sa.inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(sa.select(forecast_alerts.c.alert_id)).scalars().all() == ["a1"]


def test_when_the_issue_13_branch_made_the_database_then_its_own_migration_table_goes_and_0002_is_recorded(
    sqlite_url: str,
) -> None:
    # Before Alembic, that branch ran create_all (every table and column of 0002 already there)
    # and recorded its hand-written migrations in schema_migrations.
    from fcplan.storage.schema import metadata

    legacy = sa.create_engine(sqlite_url)
    metadata.create_all(legacy)
    with legacy.begin() as conn:
        conn.execute(sa.text("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR(128))"))
        conn.execute(sa.text("INSERT INTO schema_migrations VALUES (1, 'loop in time')"))
        conn.execute(sa.text(ALERT))
    legacy.dispose()

    engine = make_engine(sqlite_url)
    assert current_revision(engine) == head_revision()
    assert "schema_migrations" not in sa.inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(sa.select(forecast_alerts.c.alert_id)).scalars().all() == ["a1"]


def test_when_0002_is_downgraded_then_the_database_is_at_0001_again_and_upgrades_again(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    downgrade_to(engine, "0001")
    assert current_revision(engine) == "0001"
    assert "model_decisions" not in sa.inspect(engine).get_table_names()
    assert "status" not in {c["name"] for c in sa.inspect(engine).get_columns("forecast_runs")}
    upgrade_to(engine, "head")
    assert current_revision(engine) == head_revision()
