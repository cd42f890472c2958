"""Storage on SQLite and PostgreSQL: engines, upserts and panel-shaped reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from fcplan.storage import StorageError, insert_select_upsert, make_engine, reset, upsert
from fcplan.storage import queries as q
from fcplan.storage.schema import center_hourly, center_watermarks, forecast_runs, forecasts, stream_metrics

pytestmark = pytest.mark.integration

NOW = datetime(2024, 6, 1, 12)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def put_hours(engine: Engine, rows: list[tuple[str, str, int]]) -> None:
    """Store ``(center, UTC hour, orders)`` rows in ``center_hourly``."""
    records = [
        {"center_id": c, "hour": pd.Timestamp(h).to_pydatetime(), "orders": n, "lines": n, "units": 2 * n,
         "updated_at": NOW}
        for c, h, n in rows
    ]
    with engine.begin() as conn:
        upsert(conn, center_hourly, records, ["center_id", "hour"])


def as_dict(panel: pd.DataFrame) -> dict[tuple[str, str], float]:
    keys = panel[["unique_id", "ds", "y"]].itertuples(index=False)
    return {(u, d.strftime("%Y-%m-%d")): y for u, d, y in keys}


# ------------------------------------------------------------------ engines


def test_an_unsupported_database_is_refused_with_the_supported_forms() -> None:
    with pytest.raises(StorageError, match=r"sqlite:///path.db or postgresql\+psycopg://"):
        make_engine("mysql://u@h/db")


def test_sqlite_gets_its_folder_created(tmp_path) -> None:
    path = tmp_path / "deep" / "er" / "fcplan.db"
    eng = make_engine(f"sqlite:///{path}")
    with eng.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()
    eng.dispose()
    assert path.exists()
    assert mode == "wal"


def test_a_sqlite_page_cache_is_set_on_every_connection_only_when_asked(tmp_path) -> None:
    def cache_kib(engine: Engine) -> int:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())

    url = f"sqlite:///{tmp_path / 'cache.db'}"
    assert cache_kib(make_engine(url, sqlite_cache_mib=64)) == -64 * 1024
    assert cache_kib(make_engine(url)) == -2000  # SQLite's own default


@pytest.mark.postgres
def test_a_plain_postgresql_url_uses_psycopg_3(pg_url: str) -> None:
    eng = make_engine(pg_url.replace("postgresql+psycopg://", "postgresql://"), create=False)
    assert eng.dialect.driver == "psycopg"
    eng.dispose()


def test_reset_empties_every_table(engine: Engine) -> None:
    put_hours(engine, [("ICN1", "2024-06-01 00:00", 3)])
    reset(engine)
    assert q.hourly_orders(engine, "UTC").empty


# ------------------------------------------------------------------ upserts


def test_upsert_inserts_then_updates_on_the_key(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert(conn, stream_metrics, [{"name": "orders", "reason": "x", "value": 1, "updated_at": NOW}],
               ["name", "reason"])
        upsert(conn, stream_metrics, [{"name": "orders", "reason": "x", "value": 5, "updated_at": NOW},
                                      {"name": "orders", "reason": "y", "value": 2, "updated_at": NOW}],
               ["name", "reason"])
    assert q.metrics_frame(engine)[["reason", "value"]].values.tolist() == [["x", 5], ["y", 2]]


def test_upsert_with_no_update_columns_keeps_the_first_row(engine: Engine) -> None:
    with engine.begin() as conn:
        for value in (1, 9):
            upsert(conn, stream_metrics, [{"name": "n", "reason": "r", "value": value, "updated_at": NOW}],
                   ["name", "reason"], update=[])
    assert q.metrics_frame(engine)["value"].tolist() == [1]


def test_upsert_where_clause_keeps_the_newer_value(engine: Engine) -> None:
    def newer(t, ex):
        return ex.watermark > t.c.watermark

    with engine.begin() as conn:
        for mark in (datetime(2024, 6, 2), datetime(2024, 6, 1), datetime(2024, 6, 3)):
            upsert(conn, center_watermarks, [{"center_id": "ICN1", "watermark": mark}], ["center_id"],
                   where=newer)
            if mark == datetime(2024, 6, 1):
                stored = conn.execute(select(center_watermarks.c.watermark)).scalar_one()
                assert stored == datetime(2024, 6, 2)
        assert conn.execute(select(center_watermarks.c.watermark)).scalar_one() == datetime(2024, 6, 3)


def test_upsert_of_no_rows_is_a_no_op(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert(conn, stream_metrics, [], ["name", "reason"])
    assert q.metrics_frame(engine).empty


def test_insert_select_upsert_works_for_a_select_without_where(engine: Engine) -> None:
    """SQLite reads ``... FROM t ON CONFLICT`` as a join's ON unless the SELECT has a
    WHERE (https://sqlite.org/lang_upsert.html, "parsing ambiguity")."""
    put_hours(engine, [("ICN1", "2024-06-01 00:00", 3)])
    c = center_hourly.c
    src = select(c.center_id, c.hour, (c.orders * 10).label("orders"), c.lines, c.units, c.updated_at)
    with engine.begin() as conn:
        insert_select_upsert(conn, center_hourly, src, ["center_id", "hour"])
    assert q.hourly_orders(engine, "UTC")["y"].tolist() == [30.0]


# ------------------------------------------------------------------ reads


def test_hourly_orders_are_shown_in_local_wall_clock_time(engine: Engine) -> None:
    put_hours(engine, [("ICN1", "2024-06-01 15:00", 4)])
    frame = q.hourly_orders(engine, "Asia/Seoul")
    assert frame["ds"].tolist() == [pd.Timestamp("2024-06-02 00:00")]
    assert frame["hour_utc"].tolist() == [pd.Timestamp("2024-06-01 15:00")]
    assert frame["y"].dtype == float


def test_daily_orders_sum_local_days_in_seoul_and_fill_gaps_with_zero(engine: Engine) -> None:
    put_hours(engine, [
        ("ICN1", "2024-06-01 14:00", 5),  # 23:00 KST on June 1
        ("ICN1", "2024-06-01 15:00", 7),  # 00:00 KST on June 2
        ("ICN1", "2024-06-02 14:59", 1),  # still June 2 (the hour is stored as given)
        ("ICN1", "2024-06-04 03:00", 2),  # June 4; June 3 had nothing
        ("PUS1", "2024-06-02 00:00", 9),
    ])
    daily = q.daily_orders(engine, "Asia/Seoul")
    assert list(daily.columns) == ["unique_id", "ds", "y"]
    assert as_dict(daily) == {
        ("ICN1", "2024-06-01"): 5.0,
        ("ICN1", "2024-06-02"): 8.0,
        ("ICN1", "2024-06-03"): 0.0,
        ("ICN1", "2024-06-04"): 2.0,
        ("PUS1", "2024-06-02"): 9.0,
    }


def test_daily_orders_follow_london_across_the_spring_dst_change(engine: Engine) -> None:
    put_hours(engine, [
        ("LHR1", "2024-03-30 23:00", 1),  # 23:00 GMT, March 30
        ("LHR1", "2024-03-31 00:00", 2),  # 00:00 GMT, March 31
        ("LHR1", "2024-03-31 22:00", 3),  # 23:00 BST, March 31
        ("LHR1", "2024-03-31 23:00", 4),  # 00:00 BST, April 1
        ("LHR1", "2024-04-03 12:00", 5),
    ])
    assert as_dict(q.daily_orders(engine, "Europe/London")) == {
        ("LHR1", "2024-03-30"): 1.0,
        ("LHR1", "2024-03-31"): 5.0,
        ("LHR1", "2024-04-01"): 4.0,
        ("LHR1", "2024-04-02"): 0.0,
        ("LHR1", "2024-04-03"): 5.0,
    }


def test_the_same_hours_fall_on_different_days_in_different_zones(engine: Engine) -> None:
    put_hours(engine, [("X", "2024-06-01 16:00", 1)])
    assert as_dict(q.daily_orders(engine, "Asia/Seoul")) == {("X", "2024-06-02"): 1.0}
    assert as_dict(q.daily_orders(engine, "Europe/London")) == {("X", "2024-06-01"): 1.0}


def test_daily_orders_drop_days_from_complete_before_on(engine: Engine) -> None:
    put_hours(engine, [("ICN1", "2024-06-01 03:00", 1), ("ICN1", "2024-06-02 03:00", 2)])
    daily = q.daily_orders(engine, "Asia/Seoul", complete_before=date(2024, 6, 2))
    assert as_dict(daily) == {("ICN1", "2024-06-01"): 1.0}


def test_a_centers_stray_first_days_far_before_the_rest_are_left_out_of_its_history(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    days = pd.date_range("2024-05-01 03:00", periods=30, freq="D")
    put_hours(engine, [("ICN1", "1970-01-01 03:00", 4), ("ICN1", "2023-12-01 03:00", 2)]
              + [("ICN1", str(d), 1) for d in days] + [("PUS1", str(d), 1) for d in days])
    daily = q.daily_orders(engine, "UTC")
    assert daily.groupby("unique_id")["ds"].min().astype(str).to_dict() == {
        "ICN1": "2024-05-01", "PUS1": "2024-05-01"}
    assert len(daily) == 60
    assert "center ICN1: its first 2 day(s) with orders (1970-01-01 to 2023-12-01)" in caplog.text


def test_a_long_closure_after_weeks_of_trading_keeps_the_history_before_it() -> None:
    trading = list(pd.date_range("2024-01-01", periods=10, freq="D"))
    reopened = list(pd.date_range("2024-06-01", periods=10, freq="D"))
    assert q.history_start(pd.Series(trading + reopened)) == 0
    assert q.history_start(pd.Series(trading[:6] + reopened)) == 6
    assert q.history_start(pd.Series([pd.Timestamp("1970-01-01"), *trading[:3], *reopened])) == 4


def test_daily_orders_of_an_empty_database_is_an_empty_panel(engine: Engine) -> None:
    daily = q.daily_orders(engine, "Asia/Seoul")
    assert daily.empty
    assert list(daily.columns) == ["unique_id", "ds", "y"]


def test_a_forecast_frame_round_trips_through_the_long_table(engine: Engine) -> None:
    wide = pd.DataFrame({
        "unique_id": ["ICN1", "ICN1", "PUS1", "ICN1"],
        "ds": pd.to_datetime(["2024-06-02", "2024-06-03", "2024-06-02", "2024-06-02"]),
        "model": ["ets", "ets", "ets", "ensemble"],
        "0.05": [1.0, 2.0, 3.0, 4.0],
        "0.5": [10.0, 20.0, 30.0, 40.0],
        "0.1": [5.0, 6.0, 7.0, 8.0],
        "0.95": [50.0, 60.0, 70.0, 80.0],
    })
    rows = [
        {"run_id": "r1", "unique_id": rec["unique_id"], "ds": rec["ds"].date(), "model": rec["model"],
         "quantile": float(level), "value": float(rec[level])}
        for rec in wide.to_dict("records")
        for level in ("0.05", "0.1", "0.5", "0.95")
    ]
    with engine.begin() as conn:
        upsert(conn, forecasts, rows, ["run_id", "unique_id", "ds", "model", "quantile"])
        upsert(conn, forecasts, [{**rows[0], "run_id": "other", "value": -1.0}],
               ["run_id", "unique_id", "ds", "model", "quantile"])
    back = q.forecast_frame(engine, "r1")
    assert list(back.columns) == ["unique_id", "ds", "model", "0.05", "0.1", "0.5", "0.95"]
    expected = wide[list(back.columns)].sort_values(["unique_id", "ds", "model"]).reset_index(drop=True)
    got = back.sort_values(["unique_id", "ds", "model"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert back["ds"].dtype == "datetime64[ns]"


def test_an_unknown_forecast_run_gives_an_empty_frame_with_the_key_columns(engine: Engine) -> None:
    assert list(q.forecast_frame(engine, "nope").columns) == ["unique_id", "ds", "model"]


def test_the_latest_forecast_run_is_the_newest_by_creation_time(engine: Engine) -> None:
    base = {"model_version": "v", "horizon": 14, "quantiles": [0.5], "weights": {},
            "data_end": date(2024, 6, 1), "fit_seconds": 1.0, "fallbacks": []}
    with engine.begin() as conn:
        conn.execute(forecast_runs.insert(), [
            {**base, "run_id": "old", "created_at": datetime(2024, 6, 1)},
            {**base, "run_id": "new", "created_at": datetime(2024, 6, 2)},
        ])
    run = q.latest_forecast_run(engine)
    assert run is not None and run["run_id"] == "new"
    assert run["quantiles"] == [0.5]


def test_row_counts_count_hourly_forecast_and_plan_rows(engine: Engine) -> None:
    put_hours(engine, [("ICN1", "2024-06-01 00:00", 1), ("ICN1", "2024-06-01 01:00", 1)])
    assert q.row_counts(engine) == {"hourly": 2, "forecast": 0, "forecast_days": 0, "plan": 0}
