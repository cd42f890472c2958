"""Champion and challenger: which forecast run the planner and the drift monitor use.

Pure. Every new run starts as a challenger. Runs are compared on exactly the
same evidence: their backtest windows that share a cutoff (the cutoffs lie on a
calendar grid, :func:`fcplan.models.backtest.window_cutoffs`, a week apart by default, so
runs made days apart share most windows), or, for a pair that shares
none, the complete days after both were made (:func:`live_scores`: each run's
forecasts for those days were issued before the day, so it is out of sample).
On shared windows two runs with the same weighted members are scored as those members under
weights common to both (:func:`member_scores`): each run's ensemble score there is honest for its
own weights only through weights chosen on its other windows, which differ between runs made days
apart, so the same engine's two ensembles differ there by weight noise alone; other pairs are scored
as their ensembles (:func:`backtest_scores`).
A challenger with at least ``min_windows`` shared windows (``min_days`` days)
replaces the champion if its wQL is lower by the relative ``margin``; the
decision names the windows (days) it used. Fresh data counts too: a challenger made on
newer data than the champion's replaces it unless it is worse by the ``margin`` on the
same evidence (``refreshed``: the same engine on shared windows scores the same, and the
plan should not wait a week for the orders of the last days), and a challenger made on
*older* data never replaces a fresher champion on backtest windows (those say nothing of
the days it has not seen; days after both runs, out of sample for both, still can).
A challenger lacking a center the champion covers (or tomorrow) wins neither on
merit nor on fresh data (the plan would lose that center). A stale champion (data older than
``max_age_days``), a broken one (it does not cover every center up to tomorrow)
or one whose forecasts drifted (open alerts) is replaced at once by the newest challenger
(the one that has seen the most recent data).
Every decision carries its evidence.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

import numpy as np
import pandas as pd

from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.models.drift import forecast_levels
from fcplan.models.metrics import wql

CHAMPION, CHALLENGER, RETIRED = "champion", "challenger", "retired"
DAYS, WINDOWS = "days", "backtest windows"


#: How a pair's backtest windows were scored (:attr:`Score.basis`): each run's ensemble as its
#: leaderboard has it (the default), or each run's members weighted alike (:func:`member_scores`).
ENSEMBLE, COMMON_WEIGHTS = "", "members at common weights"


class Score(NamedTuple):
    """A run's wQL on ``n`` days or backtest windows (``unit``), named in ``on`` (ISO dates:
    the days, or the windows' cutoffs); ``basis``: how windows were scored (:data:`COMMON_WEIGHTS`)."""

    wql: float
    n: int
    on: tuple[str, ...] = ()
    unit: str = DAYS
    basis: str = ENSEMBLE


@dataclass(frozen=True)
class RunInfo:
    """What the decision needs to know of a run. ``last_day``: the last day it forecasts;
    ``centers``: the centers it covers."""

    run_id: str
    data_end: date
    last_day: date
    centers: frozenset[str]


#: What a decision rested on (:attr:`Decision.kind`): a challenger won (``merit``) or the
#: champion stayed (``kept_on_merit``) on shared evidence; or no shared evidence
#: (``kept_unmatched``); or the champion was replaced without comparison.
FIRST, MERIT, KEPT_ON_MERIT, KEPT_UNMATCHED = "first", "merit", "kept_on_merit", "kept_unmatched"
BROKEN, DRIFTED, STALE, NO_CHALLENGER = "broken", "drifted", "stale", "no_challenger"
REFRESHED = "refreshed"  # a challenger on newer data, no worse by the margin on the same evidence


@dataclass(frozen=True)
class Decision:
    winner: str | None  # run id to make champion; None keeps the champion
    reason: str
    evidence: dict = field(default_factory=dict)
    kind: str = ""  # one of FIRST, MERIT, ... (counted by the simulated loop)


def run_version(config: Mapping[str, object], data_start: date, data_end: date) -> str:
    """The version of a run: a hash of its configuration and data window (16 hex)."""
    text = json.dumps({"config": config, "data": [str(data_start), str(data_end)]}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def backtest_scores(boards: Mapping[str, Mapping[str, float]]) -> dict[tuple[str, str], Score]:
    """wQL of pairs of runs on their shared backtest windows.

    ``boards``: run id -> {window cutoff (ISO date) -> the run's wQL on that window}.
    For each ordered pair ``(a, b)`` sharing at least one cutoff: a's mean wQL over
    exactly the shared windows.
    """
    out: dict[tuple[str, str], Score] = {}
    for a, mine in boards.items():
        for b, theirs in boards.items():
            shared = tuple(sorted(set(mine) & set(theirs)))
            if shared:
                out[(a, b)] = Score(float(np.mean([mine[c] for c in shared])), len(shared), shared, WINDOWS)
    return out


def member_scores(
    members: Mapping[str, Mapping[str, Mapping[str, float]]], weights: Mapping[str, Mapping[str, float]]
) -> dict[tuple[str, str], Score]:
    """wQL of pairs of runs on their shared backtest windows, each window scored as the
    members' wQL there under weights common to both runs (:data:`COMMON_WEIGHTS`).

    ``members``: run id -> {window cutoff -> {member -> its wQL there}}; ``weights``: run id ->
    {member -> its weight in the run's ensemble}. For a pair ``(a, b)`` the common weights are the
    mean of the two runs' (each summing to 1); a pair is scored only if every member with weight in
    either run has a wQL in both runs on every shared window (else the runs are not the same pool,
    and :func:`backtest_scores` stands). Why: each run's ensemble score on a window is honest
    for its weights only when they are chosen on its *other* windows, and two runs made days
    apart have other windows of their own (the calendar grid rolls a week at a time), so the same
    engine's ensembles score a window differently (by 4 %, in the simulated loop) with nothing
    but the weight choice between them. The same members under the same weights score the same on
    the same window; a member that forecasts worse in one run still shows, in proportion to its weight.
    """
    out: dict[tuple[str, str], Score] = {}
    ids = [r for r in members if r in weights]
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            shared = tuple(sorted(set(members[a]) & set(members[b])))
            common = _common_weights(weights[a], weights[b])
            if not shared or not common:
                continue
            try:
                mine, theirs = (
                    [sum(w * _finite(members[r][c][m]) for m, w in common.items()) for c in shared] for r in (a, b)
                )
            except (KeyError, ValueError):  # a weighted member not scored on a shared window in one run
                continue
            out[(a, b)] = Score(float(np.mean(mine)), len(shared), shared, WINDOWS, COMMON_WEIGHTS)
            out[(b, a)] = Score(float(np.mean(theirs)), len(shared), shared, WINDOWS, COMMON_WEIGHTS)
    return out


def _common_weights(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    """The mean of two runs' member weights, each run's normalised to sum 1 ({} if either has none)."""
    sums = [sum(w for w in x.values() if w > 0) for x in (a, b)]
    if not all(s > 0 for s in sums):
        return {}
    names = {m for x in (a, b) for m, w in x.items() if w > 0}
    return {m: (max(a.get(m, 0.0), 0.0) / sums[0] + max(b.get(m, 0.0), 0.0) / sums[1]) / 2 for m in sorted(names)}


def _finite(value: float) -> float:
    if value is None or not np.isfinite(value):
        raise ValueError("no wQL")
    return float(value)


def live_scores(
    forecasts: pd.DataFrame, actuals: pd.DataFrame, runs: Sequence[RunInfo], today: date, window_days: int = 14
) -> dict[tuple[str, str], Score]:
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
            on = tuple(str(d.date()) for d in sorted(days[DS].unique()))
            out[(a.run_id, b.run_id)] = Score(wql(days[Y].to_numpy(), days[cols].to_numpy(), levels), len(on), on)
    return out


def decide(
    champion: RunInfo | None,
    challengers: Sequence[RunInfo],
    scores: Mapping[tuple[str, str], Score],
    today: date,
    alerted_centers: Iterable[str] = (),
    margin: float = 0.02,
    max_age_days: int = 7,
    min_days: int = 3,
    min_windows: int = 1,
) -> Decision:
    """The champion for ``today`` (see the module docstring). ``challengers``: newest last."""
    if not challengers:
        return Decision(None, "no challenger", {}, NO_CHALLENGER)
    newest = max(reversed(challengers), key=lambda c: c.data_end)  # the most recent data, then the latest made
    if champion is None:
        return Decision(newest.run_id, "no champion yet: the first run becomes champion", {}, FIRST)
    evidence: dict = {"champion": champion.run_id, "champion_data_end": str(champion.data_end)}
    fresh = [c for c in challengers if (pd.Timestamp(today) - pd.Timestamp(c.data_end)).days <= max_age_days]
    ranked = _ranked(champion, fresh, scores, {DAYS: min_days, WINDOWS: min_windows})
    evidence["comparisons"] = [
        {"challenger": r, "wql": round(c.wql, 5), "champion_wql": round(ch.wql, 5), c.unit: list(c.on)}
        | ({"scored": c.basis} if c.basis else {})
        for r, c, ch in ranked
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
        return Decision(newest.run_id, reason, evidence, BROKEN)
    if alerted:
        return Decision(
            newest.run_id, f"champion's forecasts drifted (open alerts for {alerted})", evidence, DRIFTED
        )
    if age > max_age_days:
        reason = f"champion stale: its data ends {age} days ago (limit {max_age_days})"
        return Decision(newest.run_id, reason, evidence, STALE)
    data_end = {c.run_id: c.data_end for c in challengers}
    # A challenger that would break the plan (a center the champion covers, or tomorrow, missing: a
    # fresher run after a center's outage) does not replace a sound champion on scores; it still
    # can once the champion is stale, broken or drifted (above).
    lacking = {
        c.run_id: sorted(champion.centers - c.centers) or (["tomorrow"] if pd.Timestamp(c.last_day) < tomorrow else [])
        for c in challengers
    }
    if any(lacking[r] for r, _, _ in ranked):
        evidence["incomplete"] = {r: lacking[r] for r, _, _ in ranked if lacking[r]}
    ranked = [r for r in ranked if not lacking[r[0]]]
    for run_id, chall, champ in ranked:
        older = data_end[run_id] < champion.data_end
        if chall.wql <= champ.wql * (1 - margin) and not (older and chall.unit == WINDOWS):
            return Decision(
                run_id,
                f"challenger beat the champion on the same {_evidence(chall)}: "
                f"wQL {chall.wql:.4f} vs {champ.wql:.4f} (margin {margin:.0%})",
                evidence,
                MERIT,
            )
    newer = [r for r in ranked if data_end[r[0]] > champion.data_end and r[1].wql <= r[2].wql * (1 + margin)]
    if newer:
        run_id, chall, champ = max(newer, key=lambda r: data_end[r[0]])  # the newest; the best of ties
        return Decision(
            run_id,
            f"challenger on newer data (to {data_end[run_id]}, the champion's to {champion.data_end}) is no worse "
            f"by {margin:.0%} on the same {_evidence(chall)}: wQL {chall.wql:.4f} vs {champ.wql:.4f}",
            evidence,
            REFRESHED,
        )
    # Orders that end before the champion's data (a database restored from an older backup, a feed
    # outage): the kept champion was said to be "not beaten" without a word on why nothing newer came.
    behind = newest.data_end < champion.data_end
    if behind:
        evidence["challengers_data_end"] = str(newest.data_end)
    note = (
        f"; every challenger's data ends {newest.data_end}, before the champion's ({champion.data_end}): "
        "the stored orders stop there (a database restored from an older backup, or a feed outage?)"
        if behind else ""
    )
    if ranked:  # compared on merit: say on what, and how close the best came
        _, chall, champ = ranked[0]
        return Decision(
            None,
            f"champion kept: no challenger beat it by {margin:.0%}; the best, on the same {_evidence(chall)}: "
            f"wQL {chall.wql:.4f} vs {champ.wql:.4f}{note}",
            evidence,
            KEPT_ON_MERIT,
        )
    if "incomplete" in evidence:
        return Decision(
            None,
            f"champion kept: the challengers compared with it lack what it covers ({evidence['incomplete']}){note}",
            evidence,
            KEPT_ON_MERIT,
        )
    return Decision(
        None,
        f"champion kept: no challenger beat it by {margin:.0%} on at least {min_windows} shared backtest "
        f"windows or {min_days} days (none shares that many with it){note}",
        evidence,
        KEPT_UNMATCHED,
    )


def _evidence(score: Score) -> str:
    """``3 backtest windows (2026-03-01, ...)`` or ``4 days (2026-03-01..2026-03-04)``."""
    on = ", ".join(score.on) if score.unit == WINDOWS else f"{score.on[0]}..{score.on[-1]}"
    return f"{score.n} {score.unit} ({on}{'; ' + score.basis if score.basis else ''})"


def _ranked(
    champion: RunInfo, challengers: Sequence[RunInfo], scores: Mapping[tuple[str, str], Score], need: Mapping[str, int]
) -> list[tuple[str, Score, Score]]:
    """Challengers scored on the same (and enough) windows or days as the champion:
    ``(run_id, its score, the champion's)``, best first."""
    rows = []
    for c in challengers:
        mine, theirs = scores.get((c.run_id, champion.run_id)), scores.get((champion.run_id, c.run_id))
        same = mine and theirs and mine[2:] == theirs[2:]  # the same windows (days), scored alike
        if same and mine.n >= need[mine.unit]:
            rows.append((c.run_id, mine, theirs))
    return sorted(rows, key=lambda r: r[1].wql / r[2].wql if r[2].wql > 0 else np.inf)
