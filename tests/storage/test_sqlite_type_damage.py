"""SQLite stores any value in any column: text written into a numeric or DATETIME column, or JSON
that does not parse, by another program (a hand-edit in the sqlite3 shell, a broken import).
One such row stopped every read of its table, and with it every retrain and plan, for good;
now the row is left out with a warning and everything else is read."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fcplan.app.seed_db import SeedSpec, seed_database
from fcplan.core.settings import PlannerSettings
from fcplan.planner.runner import make_plan
from fcplan.storage import make_engine
from fcplan.storage import queries as q


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("damage") / "clean.db"
    seed_database(f"sqlite:///{path}", SeedSpec(days=30, past_runs=2))
    return path


def _damaged(seeded: Path, tmp_path: Path, *updates: str) -> str:
    path = tmp_path / "damaged.db"
    path.write_bytes(seeded.read_bytes())
    with sqlite3.connect(path) as conn:
        for sql in updates:
            conn.execute(sql)
    return f"sqlite:///{path}"


CHAMPION = "(SELECT run_id FROM forecast_runs WHERE status = 'champion')"
FIRST = f"(SELECT min(rowid) FROM forecasts WHERE run_id = {CHAMPION})"
#: One stored hour holding text, bytes or a number its column cannot read.
HOURS = (
    "UPDATE center_hourly SET orders = 'abc' WHERE rowid = 5",
    "UPDATE center_hourly SET orders = X'00' WHERE rowid = 5",
    "UPDATE center_hourly SET hour = 'garbage' WHERE rowid = 5",
    "UPDATE center_hourly SET hour = 12345 WHERE rowid = 5",
)


@pytest.mark.parametrize(
    "update",
    [
        *HOURS,
        f"UPDATE forecasts SET value = 'abc' WHERE rowid = {FIRST}",
        f"UPDATE forecasts SET ds = 'garbage' WHERE rowid = {FIRST}",
        "UPDATE plan_runs SET created_at = 'garbage'",
        "UPDATE plan_runs SET params = '{bad'",
        "UPDATE staffing_plans SET packers = 'x' WHERE rowid = 1",
        "UPDATE staffing_plans SET day = 'garbage' WHERE rowid = 1",
    ],
    ids=["orders-text", "orders-blob", "hour-text", "hour-number", "forecast-value", "forecast-day",
         "plan-created", "plan-params", "plan-packers", "plan-day"],
)
def test_a_value_of_the_wrong_type_does_not_stop_the_plan(
    seeded: Path, tmp_path: Path, update: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(_damaged(seeded, tmp_path, update))
    clean = make_engine(f"sqlite:///{seeded}")
    daily = q.daily_orders(engine, "Asia/Seoul")
    assert len(daily) and daily["y"].dtype == "float64"
    result = make_plan(engine, PlannerSettings(), "Asia/Seoul")
    assert result.plan_id is not None and result.rows > 0
    hours, whole = q.hourly_orders(engine, "Asia/Seoul"), q.hourly_orders(clean, "Asia/Seoul")
    assert len(whole) - 1 <= len(hours) <= len(whole)  # at most the damaged row is left out
    if "center_hourly" in update:
        assert "cannot hold" in caplog.text


def test_the_newest_readable_plan_run_is_found_past_a_damaged_one(seeded: Path, tmp_path: Path) -> None:
    engine = make_engine(_damaged(seeded, tmp_path, "UPDATE forecast_runs SET created_at = 'garbage' "
                                  "WHERE status = 'champion'"))
    run = q.current_forecast_run(engine)  # the champion is unreadable: the newest readable run
    assert run is not None and run["status"] != "champion" and run["created_at"].year > 2000
    assert make_plan(engine, PlannerSettings(), "Asia/Seoul").plan_id is not None


# The retrain's own reads of the runs (champion decision, retention) stopped on the same damage:
# 'Invalid isoformat string' at every retrain after the plan itself had been fixed.
def test_the_champion_decision_and_retention_read_past_damaged_runs(seeded: Path, tmp_path: Path) -> None:
    import pandas as pd

    from fcplan.models import model_registry, retention

    engine = make_engine(_damaged(seeded, tmp_path, "UPDATE forecast_runs SET data_end = 'garbage', "
                                  "backtest_cutoffs = '{bad' WHERE status != 'champion'"))
    today = pd.Timestamp.now(tz="Asia/Seoul").date()
    model_registry.promote(engine, "Asia/Seoul", today, set())
    with sqlite3.connect(engine.url.database) as conn:
        ids = [r for r, in conn.execute("SELECT run_id FROM forecast_runs")]
    model_registry.backtest_boards(engine, ids)
    retention.compact(engine, today)


# The long-running processes' other reads: the drift loop's (open alerts at its start, the hours'
# watermark at each run), the clock the demo loop and the dashboard read, and the dashboard's own
# report reads. Each stopped on one damaged row, the drift loop at every start, for good.
@pytest.mark.parametrize(
    "update",
    [
        "UPDATE forecast_alerts SET window_start = 'garbage' WHERE alert_id = 'drift-open'",
        "UPDATE forecast_alerts SET evidence = '{bad' WHERE alert_id = 'drift-open'",
        "UPDATE forecast_alerts SET statistic = 'abc' WHERE alert_id = 'drift-open'",
    ],
    ids=["window-text", "evidence-json", "statistic-text"],
)
def test_the_drift_loop_restores_the_readable_open_alerts(seeded: Path, tmp_path: Path, update: str,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    from fcplan.models.drift_loop import open_alerts

    clean = make_engine(f"sqlite:///{seeded}")
    extra = ("INSERT INTO forecast_alerts SELECT 'drift-open-2', created_at, center_id, day, kind, message, status, "
             "statistic, threshold, window_start, window_end, model_version, evidence, cleared_at "
             "FROM forecast_alerts WHERE alert_id = 'drift-open'")
    engine = make_engine(_damaged(seeded, tmp_path, extra, update))
    assert [a.alert_id for a in open_alerts(clean)] == ["drift-open"]
    assert [a.alert_id for a in open_alerts(engine)] == ["drift-open-2"]
    assert "cannot hold" in caplog.text


def test_the_hours_watermark_and_the_clock_read_past_a_damaged_value(seeded: Path, tmp_path: Path) -> None:
    clean = make_engine(f"sqlite:///{seeded}")
    engine = make_engine(_damaged(
        seeded, tmp_path, "UPDATE center_hourly SET updated_at = 'garbage' WHERE rowid = 5",
        "INSERT INTO clock_state (name, now, updated_at) VALUES ('simulated', 'garbage', '2026-01-01 00:00:00')",
    ))
    assert q.hours_watermark(engine) == q.hours_watermark(clean)
    assert q.simulated_now(engine) is None


@pytest.mark.parametrize(
    "update",
    [*HOURS, "UPDATE plan_runs SET params = '{bad'"],
    ids=["orders-text", "orders-blob", "hour-text", "hour-number", "plan-params"],
)
def test_the_dashboard_reads_leave_out_a_damaged_row(seeded: Path, tmp_path: Path, update: str) -> None:
    from datetime import datetime

    from fcplan.storage import report_queries as rq

    clean = make_engine(f"sqlite:///{seeded}")
    engine = make_engine(_damaged(seeded, tmp_path, update))
    since = datetime(2000, 1, 1)
    counts, whole = rq.hourly_counts(engine, since), rq.hourly_counts(clean, since)
    assert len(whole) - 1 <= len(counts) <= len(whole) and counts["y"].dtype == "float64"
    assert counts["hour_utc"].dtype == "datetime64[ns]"
    configs = rq.plan_center_configs(engine)
    assert configs == (rq.plan_center_configs(clean) if "params" not in update else {})


# The worker's own reads in each batch: a center's stream watermark and the stored payloads of
# repeated ids. A damaged value there failed every batch of that center, and the worker with it.
@pytest.mark.parametrize(
    "update",
    [
        "UPDATE center_watermarks SET watermark = 'garbage'",
        "UPDATE orders SET ts_us = 'abc' WHERE order_id = 'o-1'",
    ],
    ids=["watermark-text", "order-ts-text"],
)
def test_the_worker_stores_a_batch_past_a_damaged_row(seeded: Path, tmp_path: Path, update: str) -> None:
    from datetime import UTC, datetime, timedelta

    from fcplan.core.contracts import Order
    from fcplan.streams.columns import OrderColumns
    from fcplan.streams.order_sink import write_order_columns

    engine = make_engine(_damaged(seeded, tmp_path))
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

    def batch(*ids: str) -> OrderColumns:
        return OrderColumns.from_orders([Order(order_id=i, center_id="FC-X", ts=now, lines=1, units=2) for i in ids])

    write_order_columns(engine, batch("o-1"), timedelta(hours=48))
    with sqlite3.connect(engine.url.database) as conn:
        conn.execute(update)
    result = write_order_columns(engine, batch("o-1", "o-2"), timedelta(hours=48))
    assert result.accepted == 1  # the new order is stored; the damaged one is not stored twice


def test_a_damaged_model_artifact_reads_as_none(seeded: Path, tmp_path: Path) -> None:
    from fcplan.models.model_registry import load_model

    engine = make_engine(_damaged(seeded, tmp_path, "INSERT INTO model_artifacts (run_id, created_at, artifact, bytes) "
                                  "VALUES ('r-bad', '2026-01-01 00:00:00', 'garbage', 7)"))
    assert load_model(engine, "r-bad") is None


def test_a_run_with_text_in_a_number_is_passed_over_like_any_damaged_run(seeded: Path, tmp_path: Path) -> None:
    engine = make_engine(_damaged(seeded, tmp_path, "UPDATE plan_runs SET service_quantile = 'abc'",
                                  "UPDATE forecast_runs SET horizon = 'abc' WHERE status = 'champion'"))
    run = q.current_forecast_run(engine)
    assert run is not None and run["status"] != "champion" and isinstance(run["horizon"], int)
    assert q.latest_plan_run(engine) is None  # the only plan is damaged


@pytest.mark.parametrize("damage", ["'garbage'", "today 99:00", "X'00'"], ids=["text", "bad-hour", "blob"])
def test_the_hours_watermark_past_a_damaged_value_reads_one_row_per_center(
    seeded: Path, tmp_path: Path, damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drift loop reads the watermark at every run: past a damaged newest value it read every
    stored hour (the whole table, growing); now one row per center, aggregated in SQL."""
    from datetime import UTC, datetime

    if damage == "today 99:00":  # the newest value, shaped like a time, that no time can hold
        damage = f"'{datetime.now(UTC):%Y-%m-%d} 99:00:00.000000'"
    clean = make_engine(f"sqlite:///{seeded}")
    engine = make_engine(_damaged(seeded, tmp_path, f"UPDATE center_hourly SET updated_at = {damage} WHERE rowid = 5"))
    with sqlite3.connect(seeded) as conn:
        hours, centers = conn.execute("SELECT count(*), count(DISTINCT center_id) FROM center_hourly").fetchone()
    read: list[int] = []
    rows_of = q._no_numeric_text  # every row list the tolerant reads fetched passes through it

    def counted(rows: list, *args: object) -> list:
        read.append(len(rows))
        return rows_of(rows, *args)

    monkeypatch.setattr(q, "_no_numeric_text", counted)
    expected = q.hours_watermark(clean)
    assert q.hours_watermark(engine) == expected
    assert hours > 100 * centers and sum(read) <= centers + 1
    assert read or "99:00" not in damage  # past the newest value no time can hold: the fallback read it


def test_an_hour_updated_years_ahead_is_not_the_hours_watermark(
    seeded: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A stored hour whose ``updated_at`` says 9999 (readable, but no writer's clock says it) held
    the drift loop's watermark there for good: no correction stored after it was read again."""
    clean = make_engine(f"sqlite:///{seeded}")
    engine = make_engine(_damaged(seeded, tmp_path,
                                  "UPDATE center_hourly SET updated_at = '9999-01-01 00:00:00.000000' WHERE rowid = 5"))
    assert q.hours_watermark(engine) == q.hours_watermark(clean)
    assert "updated later than" in caplog.text
