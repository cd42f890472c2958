"""Champion and challenger: which forecast run the planner and the drift monitor use.

Pure. Every new run starts as a challenger. Runs are compared on the same days:
the complete days after both were made (each run's forecasts for those days
were issued before the day, so the comparison is out of sample and the windows
are fixed by the calendar, not by each run's own backtest). A challenger with
at least ``min_days`` such days replaces the champion if its wQL is lower by
the relative ``margin``; a stale champion (data older than ``max_age_days``), a
broken one (it does not cover every center up to tomorrow) or one whose
forecasts drifted (open alerts) is replaced at once by the newest challenger
(the one that has seen the most recent data).
Every decision carries its evidence.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.models.drift import forecast_levels
from fcplan.models.metrics import wql

CHAMPION, CHALLENGER, RETIRED = "champion", "challenger", "retired"


@dataclass(frozen=True)
class RunInfo:
    """What the decision needs to know of a run. ``last_day``: the last day it forecasts;
    ``centers``: the centers it covers."""

    run_id: str
    data_end: date
    last_day: date
    centers: frozenset[str]


@dataclass(frozen=True)
class Decision:
    winner: str | None  # run id to make champion; None keeps the champion
    reason: str
    evidence: dict = field(default_factory=dict)


def run_version(config: Mapping[str, object], data_start: date, data_end: date) -> str:
    """The version of a run: a hash of its configuration and data window (16 hex)."""
    text = json.dumps({"config": config, "data": [str(data_start), str(data_end)]}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def live_scores(
    forecasts: pd.DataFrame, actuals: pd.DataFrame, runs: Sequence[RunInfo], today: date, window_days: int = 14
) -> dict[tuple[str, str], tuple[float, int]]:
    """wQL of pairs of runs on the same complete days.

    ``forecasts``: ``run_id, unique_id, ds`` + quantile columns; ``actuals``:
    ``unique_id, ds, y`` (complete days). For each ordered pair ``(a, b)`` of
    ``runs``, the days after both runs' data, before ``today``, within the last
    ``window_days``: ``(wQL of a on them, number of days)``; ``(a, a)`` is a's own.
    """
    levels = forecast_levels(forecasts)
    cols = [f"{q:g}" for q in levels]
    joined = forecasts.merge(actuals[[UNIQUE_ID, DS, Y]], on=[UNIQUE_ID, DS], how="inner")
    first_day = pd.Timestamp(today) - pd.Timedelta(days=window_days)
    joined = joined[(joined[DS] < pd.Timestamp(today)) & (joined[DS] >= first_day)]
    by_run = {run_id: grp for run_id, grp in joined.groupby("run_id")}
    out: dict[tuple[str, str], tuple[float, int]] = {}
    for a in runs:
        for b in runs:
            grp = by_run.get(a.run_id)
            if grp is None:
                continue
            after = pd.Timestamp(max(a.data_end, b.data_end))
            days = grp[grp[DS] > after]
            if days.empty:
                continue
            out[(a.run_id, b.run_id)] = (
                wql(days[Y].to_numpy(), days[cols].to_numpy(), levels),
                int(days[DS].nunique()),
            )
    return out


def decide(
    champion: RunInfo | None,
    challengers: Sequence[RunInfo],
    scores: Mapping[tuple[str, str], tuple[float, int]],
    today: date,
    alerted_centers: Iterable[str] = (),
    margin: float = 0.02,
    max_age_days: int = 7,
    min_days: int = 3,
) -> Decision:
    """The champion for ``today`` (see the module docstring). ``challengers``: newest last."""
    if not challengers:
        return Decision(None, "no challenger", {})
    newest = max(reversed(challengers), key=lambda c: c.data_end)  # the most recent data, then the latest made
    if champion is None:
        return Decision(newest.run_id, "no champion yet: the first run becomes champion", {})
    evidence: dict = {"champion": champion.run_id, "champion_data_end": str(champion.data_end)}
    fresh = [c for c in challengers if (pd.Timestamp(today) - pd.Timestamp(c.data_end)).days <= max_age_days]
    ranked = _ranked(champion, fresh, scores, min_days)
    evidence["comparisons"] = [
        {"challenger": r, "wql": round(c, 5), "champion_wql": round(ch, 5), "days": n} for r, c, ch, n in ranked
    ]
    missing = sorted(newest.centers - champion.centers)
    tomorrow = pd.Timestamp(today) + pd.Timedelta(days=1)
    alerted = sorted(set(alerted_centers) & champion.centers)
    age = (pd.Timestamp(today) - pd.Timestamp(champion.data_end)).days
    evidence["champion_age_days"] = age
    if missing or pd.Timestamp(champion.last_day) < tomorrow:
        reason = (
            f"champion broken: it lacks centers {missing}" if missing else "champion broken: no forecast for tomorrow"
        )
        return Decision(newest.run_id, reason, evidence)
    if alerted:
        return Decision(newest.run_id, f"champion's forecasts drifted (open alerts for {alerted})", evidence)
    if age > max_age_days:
        return Decision(newest.run_id, f"champion stale: its data ends {age} days ago (limit {max_age_days})", evidence)
    for run_id, chall, champ, days in ranked:
        if chall <= champ * (1 - margin):
            return Decision(
                run_id,
                f"challenger beat the champion on the same {days} days: wQL {chall:.4f} vs {champ:.4f} "
                f"(margin {margin:.0%})",
                evidence,
            )
    return Decision(None, f"champion kept: no challenger beat it by {margin:.0%} on at least {min_days} days", evidence)


def _ranked(
    champion: RunInfo, challengers: Sequence[RunInfo], scores: Mapping, min_days: int
) -> list[tuple[str, float, float, int]]:
    """Challengers with enough shared days: ``(run_id, its wQL, champion's wQL, days)``, best first."""
    rows = []
    for c in challengers:
        mine, theirs = scores.get((c.run_id, champion.run_id)), scores.get((champion.run_id, c.run_id))
        if mine and theirs and mine[1] >= min_days and mine[1] == theirs[1]:
            rows.append((c.run_id, mine[0], theirs[0], mine[1]))
    return sorted(rows, key=lambda r: r[1] / r[2] if r[2] > 0 else np.inf)
