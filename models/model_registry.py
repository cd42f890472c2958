"""The run registry in the database: versions, statuses, decisions and fitted artifacts.

Every stored run gets its version (hash of config and data window), its data
window's start and the status ``challenger``; :func:`promote` then applies
:func:`fcplan.models.champion.decide` and logs the decision with its evidence in
``model_decisions``: champion and challengers are scored on exactly their shared
backtest windows (each window named by its calendar cutoff): the members' per-window
wQL under weights common to both runs where both have the same weighted members
(:func:`member_boards`), else the leaderboard's per-window ensemble wQL
(:func:`backtest_boards`). The fitted ensemble is pickled into ``model_artifacts`` so
a restart, a plan or a what-if forecasts again without refitting
(:func:`load_model`). Only runs made by this code base should be loaded: a
pickle runs code when it is read.
"""

from __future__ import annotations

import logging
import pickle
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select, update

from fcplan.models.backtest import window_cutoffs
from fcplan.models.champion import (
    CHALLENGER,
    CHAMPION,
    RETIRED,
    Decision,
    RunInfo,
    backtest_scores,
    decide,
    live_scores,
    member_scores,
    run_version,
)
from fcplan.storage import queries as q
from fcplan.storage import upsert, utcnow
from fcplan.storage.schema import forecast_runs, forecasts, leaderboard, model_artifacts, model_decisions

log = logging.getLogger(__name__)


def register_run(
    engine: Engine, run_id: str, config: Mapping[str, Any], data_start: date, data_end: date, model: object = None
) -> str:
    """Give a stored run its version, data start and the status challenger; keep its
    fitted ``model`` as an artifact. Returns the version."""
    version = run_version(config, data_start, data_end)
    with engine.begin() as conn:
        conn.execute(
            update(forecast_runs)
            .where(forecast_runs.c.run_id == run_id)
            .values(version=version, data_start=data_start, status=CHALLENGER)
        )
        if model is not None:
            blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
            row = {"run_id": run_id, "created_at": utcnow(), "artifact": blob, "bytes": len(blob)}
            upsert(conn, model_artifacts, [row], ["run_id"])
    return version


def load_model(engine: Engine, run_id: str) -> Any:
    """The fitted ensemble of ``run_id`` (``predict_quantiles`` works at once), or None."""
    row = q._first(engine, select(model_artifacts.c.artifact).where(model_artifacts.c.run_id == run_id))
    if row is None or row["artifact"] is None:
        return None
    try:
        return pickle.loads(row["artifact"])
    except Exception as exc:  # not a pickle (text or bytes written by another program): as if none was kept
        log.warning("the model artifact of run %s cannot be read (%s: %s) and is left out",
                    run_id, type(exc).__name__, exc)
        return None


def _run_infos(engine: Engine, statuses: Iterable[str]) -> list[RunInfo]:
    stmt = (
        select(forecast_runs.c.run_id, forecast_runs.c.data_end, forecast_runs.c.status)
        .where(forecast_runs.c.status.in_(list(statuses)))
        .order_by(forecast_runs.c.created_at)
    )
    with engine.connect() as conn:
        runs = q.all_rows(conn, stmt)
        infos = []
        for run_id, data_end, _status in runs:
            cover = q.all_rows(
                conn, select(forecasts.c.unique_id, forecasts.c.ds).where(forecasts.c.run_id == run_id).distinct()
            )
            centers = frozenset(u for u, _ in cover)
            last = max((d for _, d in cover), default=data_end)
            infos.append(RunInfo(run_id, data_end, last, centers))
    return infos


def backtest_boards(engine: Engine, run_ids: Iterable[str]) -> dict[str, dict[str, float]]:
    """Per run: {window cutoff (ISO date) -> the ensemble's wQL on that backtest window}
    (the best-weighted member's where a run has no ensemble rows).

    A run's windows are the cutoffs stored with it (``backtest_cutoffs``: whatever grid, step
    or number of windows made them); a run stored before those were kept falls back to what
    the retrainer did then (:func:`legacy_cutoffs`).
    """
    return _ensemble_boards(_window_boards(engine, run_ids))


def member_boards(
    engine: Engine, run_ids: Iterable[str]
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, dict[str, float]]]:
    """Per run: {window cutoff (ISO date) -> {member -> its wQL there}} and {member -> its weight
    in the run's ensemble}, for :func:`fcplan.models.champion.member_scores` (windows as in
    :func:`backtest_boards`)."""
    return _member_boards(_window_boards(engine, run_ids))


def _window_boards(engine: Engine, run_ids: Iterable[str]) -> dict[str, pd.DataFrame]:
    """Per run with known cutoffs: its leaderboard rows per window, ``model, cutoff, wql, weight``
    (``cutoff``: the window's ISO date)."""
    ids = list(run_ids)
    cols = forecast_runs.c
    with engine.connect() as conn:
        runs = {
            r[0]: r[1:]
            for r in q.all_rows(
                conn,
                select(cols.run_id, cols.data_start, cols.data_end, cols.horizon, cols.backtest_cutoffs).where(
                    cols.run_id.in_(ids)
                ),
            )
        }
        rows = q.all_rows(conn, select(
            leaderboard.c.run_id, leaderboard.c.model, leaderboard.c.window, leaderboard.c.wql, leaderboard.c.weight
        ).where(leaderboard.c.run_id.in_(ids), leaderboard.c.window >= 0))
    board = pd.DataFrame(rows, columns=["run_id", "model", "window", "wql", "weight"])
    out: dict[str, pd.DataFrame] = {}
    for run_id, part in board.groupby("run_id", sort=False):
        if run_id not in runs or part["wql"].isna().all():
            continue
        data_start, data_end, horizon, stored = runs[run_id]
        part = part.dropna(subset=["wql"])
        best = "ensemble" if (part["model"] == "ensemble").any() else part.sort_values("weight").iloc[-1]["model"]
        n = int(part.loc[part["model"] == best, "window"].max()) + 1  # the windows the registry compares
        if stored:
            try:
                cutoffs = [pd.Timestamp(c) for c in stored]
                if any(pd.isna(c) for c in cutoffs):
                    raise ValueError("a cutoff is empty")
            except (TypeError, ValueError) as exc:  # a damaged row must not stop every decision after it
                log.warning("run %s: its stored backtest_cutoffs %r are not dates (%s); its windows are not compared",
                            run_id, stored, exc)
                continue
        elif data_start is not None:
            cutoffs = legacy_cutoffs(data_start, data_end, horizon, n)
        else:  # stored before the registry: its windows are unknown
            continue
        if len(cutoffs) < n:
            log.warning("run %s has %d backtest windows but %d cutoffs stored; its windows are not compared",
                        run_id, n, len(cutoffs))
            continue
        part = part[part["window"] < len(cutoffs)]
        out[run_id] = part.assign(cutoff=[str(cutoffs[int(w)].date()) for w in part["window"]])[
            ["model", "cutoff", "wql", "weight"]
        ]
    return out


def _ensemble_boards(frames: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for run_id, part in frames.items():
        best = "ensemble" if (part["model"] == "ensemble").any() else part.sort_values("weight").iloc[-1]["model"]
        part = part[part["model"] == best]  # as _window_boards chose it
        out[run_id] = {c: float(v) for c, v in zip(part["cutoff"], part["wql"], strict=True)}
    return out


def _member_boards(
    frames: Mapping[str, pd.DataFrame],
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, dict[str, float]]]:
    boards: dict[str, dict[str, dict[str, float]]] = {}
    weights: dict[str, dict[str, float]] = {}
    for run_id, part in frames.items():
        part = part[part["model"] != "ensemble"]
        if part.empty:
            continue
        boards[run_id] = {
            c: {str(m): float(v) for m, v in zip(g["model"], g["wql"], strict=True)}
            for c, g in part.groupby("cutoff", sort=True)
        }
        weights[run_id] = {
            str(m): float(w) for m, w in part.groupby("model")["weight"].first().items() if pd.notna(w)
        }
    return boards, weights


def legacy_cutoffs(data_start: date, data_end: date, horizon: int, windows: int) -> list[pd.Timestamp]:
    """The backtest cutoffs of a run stored without them (before revision 0006): the
    retrainer then backtested ``horizon + 1`` days on a grid of that many days."""
    return window_cutoffs(pd.Timestamp(data_start), pd.Timestamp(data_end), horizon + 1, windows, "D", grid=True)


def promote(
    engine: Engine,
    tz: str,
    today: date,
    alerted_centers: Iterable[str] = (),
    margin: float = 0.02,
    max_age_days: int = 7,
    min_days: int = 3,
    window_days: int = 14,
    min_windows: int = 1,
    now: datetime | None = None,
) -> Decision:
    """Decide the champion for ``today`` among the champion and the challengers, write the
    statuses and log the decision with its evidence (the backtest windows or days each
    comparison used). ``now`` (tz-aware; default the wall clock) is the decision's ``created_at``."""
    infos = _run_infos(engine, [CHAMPION, CHALLENGER])
    champions = [r for r in infos if r.run_id in _with_status(engine, CHAMPION)]
    champion = champions[-1] if champions else None
    challengers = [r for r in infos if champion is None or r.run_id != champion.run_id]
    since = pd.Timestamp(today) - pd.Timedelta(days=window_days)
    issued = q.issued_forecasts(engine, since.date())
    actuals = q.daily_orders(engine, tz, complete_before=today)
    scores = live_scores(issued.drop(columns=["data_end"], errors="ignore"), actuals, infos, today, window_days)
    windows = _window_boards(engine, [r.run_id for r in infos])
    scores.update(backtest_scores(_ensemble_boards(windows)))  # windows before days
    scores.update(member_scores(*_member_boards(windows)))  # the same members alike weighted, where both have them
    decision = decide(
        champion, challengers, scores, today, alerted_centers, margin, max_age_days, min_days, min_windows
    )
    stale_before = pd.Timestamp(today) - pd.Timedelta(days=window_days)
    with engine.begin() as conn:
        if decision.winner is not None:
            conn.execute(update(forecast_runs).where(forecast_runs.c.status == CHAMPION).values(status=RETIRED))
            conn.execute(update(forecast_runs).where(forecast_runs.c.run_id == decision.winner).values(status=CHAMPION))
        old = [r.run_id for r in challengers if pd.Timestamp(r.data_end) < stale_before and r.run_id != decision.winner]
        if old:
            conn.execute(update(forecast_runs).where(forecast_runs.c.run_id.in_(old)).values(status=RETIRED))
        conn.execute(
            model_decisions.insert(),
            {
                "decision_id": uuid.uuid4().hex,
                "created_at": utcnow(now),
                "challenger_run_id": challengers[-1].run_id if challengers else "",
                "champion_run_id": decision.winner or (champion.run_id if champion else None),
                "promoted": decision.winner is not None,
                "reason": decision.reason,
                "evidence": {**decision.evidence, "kind": decision.kind},
            },
        )
    log.info("registry: %s", decision.reason)
    return decision


def _with_status(engine: Engine, status: str) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(forecast_runs.c.run_id).where(forecast_runs.c.status == status)).scalars())
