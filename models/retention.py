"""Retention: superseded runs' forecasts are compacted, keeping what history needs.

A run stores ``centers x (horizon + 1) x quantiles`` rows; a daily retrain plus
triggered ones would grow ``forecasts`` without bound. :func:`compact` keeps

* every row of the champion and of runs whose data ends within ``keep_days``
  (challengers under live scoring, the drift monitor's recent days);
* of older runs, only the forecast that was *issued* for each center-day (the
  newest champion made before the day, as the drift monitor and the accuracy
  history judge it);

and deletes the rest, plus the fitted artifacts of retired runs.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import Engine, and_, bindparam, delete, func, select

from fcplan.core.panel import DS, UNIQUE_ID
from fcplan.models.champion import CHAMPION, RETIRED
from fcplan.models.drift import as_issued
from fcplan.models.drift_loop import past_champions
from fcplan.storage.queries import all_rows
from fcplan.storage.schema import forecast_runs, forecasts, model_artifacts


def compact(engine: Engine, today: date, keep_days: int = 14) -> dict[str, int]:
    """Delete superseded forecasts and retired artifacts; returns the rows deleted per table."""
    cutoff = pd.Timestamp(today) - pd.Timedelta(days=keep_days)
    with engine.connect() as conn:
        runs = pd.DataFrame(
            all_rows(conn, select(forecast_runs.c.run_id, forecast_runs.c.data_end, forecast_runs.c.status)),
            columns=["run_id", "data_end", "status"],
        )
        keys = pd.DataFrame(
            all_rows(conn, select(forecasts.c.run_id, forecasts.c.unique_id, forecasts.c.ds).distinct()),
            columns=["run_id", UNIQUE_ID, DS],
        )
    if runs.empty or keys.empty:
        return {"forecasts": 0, "model_artifacts": 0}
    runs["data_end"] = pd.to_datetime(runs["data_end"])
    old = set(runs.loc[(runs["data_end"] < cutoff) & (runs["status"] != CHAMPION), "run_id"])
    champions = past_champions(engine) or set(runs["run_id"])
    keys[DS] = pd.to_datetime(keys[DS])
    frame = keys.merge(runs[["run_id", "data_end"]], on="run_id")
    issued = as_issued(frame[frame["run_id"].isin(champions)])[["run_id", UNIQUE_ID, DS]]
    keep = set(map(tuple, issued.itertuples(index=False)))
    doomed = [
        {"r": r, "u": u, "d": d.date()}
        for r, u, d in keys[keys["run_id"].isin(old)].itertuples(index=False)
        if (r, u, d) not in keep
    ]
    stmt = delete(forecasts).where(
        and_(
            forecasts.c.run_id == bindparam("r"),
            forecasts.c.unique_id == bindparam("u"),
            forecasts.c.ds == bindparam("d"),
        )
    )
    retired = list(runs.loc[runs["status"] == RETIRED, "run_id"])
    with engine.begin() as conn:
        before = conn.execute(select(func.count()).select_from(forecasts)).scalar_one()
        if doomed:
            conn.execute(stmt, doomed)
        after = conn.execute(select(func.count()).select_from(forecasts)).scalar_one()
        artifacts = conn.execute(select(func.count()).select_from(model_artifacts)).scalar_one()
        if retired:
            conn.execute(delete(model_artifacts).where(model_artifacts.c.run_id.in_(retired)))
        artifacts -= conn.execute(select(func.count()).select_from(model_artifacts)).scalar_one()
    return {"forecasts": int(before - after), "model_artifacts": int(artifacts)}
