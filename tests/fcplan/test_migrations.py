"""Schema migrations bring a database made by an older fcplan up to date, keeping its rows."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, select, text

from fcplan.storage import make_engine
from fcplan.storage.migrations import MIGRATIONS, migrate
from fcplan.storage.schema import forecast_alerts, schema_migrations

OLD_LAYOUT = [
    """CREATE TABLE forecast_alerts (alert_id VARCHAR(64) PRIMARY KEY, created_at TIMESTAMP NOT NULL,
       center_id VARCHAR(64) NOT NULL, day DATE NOT NULL, kind VARCHAR(32) NOT NULL, message TEXT NOT NULL)""",
    """CREATE TABLE forecast_runs (run_id VARCHAR(64) PRIMARY KEY, created_at TIMESTAMP NOT NULL,
       model_version VARCHAR(128) NOT NULL, horizon INTEGER NOT NULL, quantiles JSON NOT NULL,
       weights JSON NOT NULL, data_end DATE, fit_seconds FLOAT NOT NULL, fallbacks JSON NOT NULL)""",
    """CREATE TABLE forecasts (run_id VARCHAR(64), unique_id VARCHAR(64), ds DATE, model VARCHAR(64),
       quantile FLOAT, value FLOAT NOT NULL, PRIMARY KEY (run_id, unique_id, ds, model, quantile))""",
    """INSERT INTO forecast_alerts VALUES ('a1', '2026-03-01 10:00:00', 'FC-A', '2026-03-01', 'outside_band', 'm')""",
]


def test_an_old_database_gets_the_new_columns_and_indexes_and_keeps_its_alerts(db_url: str) -> None:
    old = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with old.begin() as conn:
        for statement in OLD_LAYOUT:
            conn.execute(text(statement))
    old.dispose()
    engine = make_engine(db_url)
    inspector = inspect(engine)
    assert {"status", "statistic", "evidence", "window_start"} <= {
        c["name"] for c in inspector.get_columns("forecast_alerts")
    }
    assert {"data_start", "version", "status"} <= {c["name"] for c in inspector.get_columns("forecast_runs")}
    assert "ix_forecasts_ds" in {i["name"] for i in inspector.get_indexes("forecasts")}
    with engine.connect() as conn:
        assert conn.execute(select(forecast_alerts.c.alert_id, forecast_alerts.c.status)).all() == [("a1", None)]
        assert conn.execute(select(schema_migrations.c.version)).scalars().all() == [v for v, _, _ in MIGRATIONS]
    assert migrate(engine) == []  # idempotent: a second start changes nothing


def test_a_fresh_database_records_every_migration_as_applied(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert len(conn.execute(select(schema_migrations)).all()) == len(MIGRATIONS)
    assert "ix_forecast_alerts_created_at" in {i["name"] for i in inspect(engine).get_indexes("forecast_alerts")}
