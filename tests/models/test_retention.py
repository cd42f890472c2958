"""Retention keeps the champion, recent runs and each day's issued forecast; drops the rest."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from fcplan.models.retention import compact
from fcplan.storage import make_engine, upsert
from fcplan.storage.schema import forecast_runs, forecasts, model_artifacts, model_decisions

LEVELS = (0.1, 0.5, 0.9)
D0 = date(2026, 3, 1)


def add_run(engine, run_id: str, data_end: date, status: str, days: int = 5, champion: bool = False) -> None:
    rows = [
        {
            "run_id": run_id,
            "unique_id": "FC-A",
            "ds": data_end + timedelta(days=k),
            "model": "ensemble",
            "quantile": q,
            "value": 100.0,
        }
        for k in range(1, days + 1)
        for q in LEVELS
    ]
    with engine.begin() as conn:
        conn.execute(
            forecast_runs.insert(),
            {
                "run_id": run_id,
                "created_at": datetime.combine(data_end, datetime.min.time()),
                "model_version": "v",
                "horizon": days,
                "quantiles": list(LEVELS),
                "weights": {},
                "data_end": data_end,
                "fit_seconds": 0.0,
                "fallbacks": {},
                "status": status,
            },
        )
        upsert(conn, forecasts, rows, ["run_id", "unique_id", "ds", "model", "quantile"])
        conn.execute(
            model_artifacts.insert(),
            {"run_id": run_id, "created_at": datetime(2026, 1, 1), "artifact": b"x", "bytes": 1},
        )
        if champion:
            conn.execute(
                model_decisions.insert(),
                {
                    "decision_id": run_id,
                    "created_at": datetime(2026, 1, 1),
                    "challenger_run_id": run_id,
                    "champion_run_id": run_id,
                    "promoted": True,
                    "reason": "r",
                    "evidence": {},
                },
            )


def rows_of(engine, run_id: str) -> list[date]:
    with engine.connect() as conn:
        ds = conn.execute(select(forecasts.c.ds).where(forecasts.c.run_id == run_id).distinct()).scalars()
        return sorted(ds)


def test_old_runs_keep_only_their_issued_days_and_retired_artifacts_go(db_url: str) -> None:
    engine = make_engine(db_url)
    add_run(engine, "c1", D0, "retired", champion=True)  # champion of Mar 2..
    add_run(engine, "x1", D0 + timedelta(days=1), "challenger")  # never champion
    add_run(engine, "c2", D0 + timedelta(days=2), "retired", champion=True)  # champion of Mar 4..
    add_run(engine, "c3", D0 + timedelta(days=20), "champion", champion=True)
    add_run(engine, "x2", D0 + timedelta(days=21), "challenger")  # recent: kept whole
    deleted = compact(engine, D0 + timedelta(days=22), keep_days=14)
    assert rows_of(engine, "c1") == [date(2026, 3, 2), date(2026, 3, 3)]  # later days were issued by c2
    assert rows_of(engine, "x1") == []
    assert rows_of(engine, "c2") == [D0 + timedelta(days=k) for k in range(3, 8)]
    assert len(rows_of(engine, "c3")) == 5 and len(rows_of(engine, "x2")) == 5
    assert deleted == {"forecasts": (3 + 5) * len(LEVELS), "model_artifacts": 2}
    assert compact(engine, D0 + timedelta(days=22), keep_days=14) == {"forecasts": 0, "model_artifacts": 0}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(model_artifacts)).scalar_one() == 3
