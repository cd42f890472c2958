"""Greedy weighted ensemble (Caruana et al. 2004, as AutoGluon's): a pure weight
search over backtest predictions, and a forecaster that averages its members'
quantiles with those weights.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from scipy.stats import norm

from fcplan.core.frequency import season_length
from fcplan.core.panel import KEYS, UNIQUE_ID, Y
from fcplan.core.quantiles import MEDIAN, median_index, quantile_columns
from fcplan.models.base import Forecaster
from fcplan.models.metrics import window_wql
from fcplan.models.scales import panel_scales
from fcplan.models.workers import Submitted, worker

log = logging.getLogger(__name__)


def _greedy(preds: np.ndarray, loss, ensemble_size: int) -> np.ndarray:
    n_models = preds.shape[0]
    counts = np.zeros(n_models)
    total = np.zeros(preds.shape[1:])
    best_loss, best_counts = np.inf, None
    candidate = np.empty(preds.shape[1:])  # one buffer for every candidate ensemble
    for step in range(1, ensemble_size + 1):
        scores = []
        for m in range(n_models):
            np.add(total, preds[m], out=candidate)
            scores.append(loss(np.divide(candidate, step, out=candidate)))
        # a score that is not a number is no score (argmin took NaN for the least); ties: the first
        # (cheapest-listed) model
        pick = int(np.argmin(np.where(np.isfinite(scores), scores, np.inf)))
        counts[pick] += 1
        total += preds[pick]
        if scores[pick] < best_loss - 1e-12:
            best_loss, best_counts = scores[pick], counts.copy()
    if best_counts is None:  # no finite score (e.g. actuals of 5e-324 divide the wQL into inf): no ranking,
        return np.full(n_models, 1.0 / n_models)  # as without actuals (this was an AssertionError, a traceback)
    return best_counts / best_counts.sum()


#: A member whose backtest wQL is over this many times the best member's gets no weight. The
#: greedy search would still give it a step or two (0.02 each) where the others' bands were
#: too narrow on the backtest: a forecast 30 times worse (jfk_daily's untrained-looking MLP and
#: TiDE, 0.1 quantile 0, 0.9 twice the level) widens the band the best way it can. That is the
#: conformal calibration's job, which widens where the evidence says; the outlier's own
#: forecast then carries its noise into every window (jfk_daily's oldest test window: 0.0154
#: uncalibrated against SARIMAX's 0.0075 alone).
OUTLIER_RATIO = 3.0


def eligible_members(preds: np.ndarray, loss) -> np.ndarray:
    """Indices of the members of ``preds`` ``(n_models, n_points, n_q)`` whose ``loss`` alone is
    at most :data:`OUTLIER_RATIO` times the best member's (every member if none is finite)."""
    alone = np.array([loss(p) for p in preds], dtype="float64")
    finite = np.isfinite(alone)
    if not finite.any() or OUTLIER_RATIO <= 0:
        return np.arange(len(preds))
    return np.flatnonzero(finite & (alone <= OUTLIER_RATIO * alone[finite].min()))


def select_weights(
    preds: np.ndarray,
    actuals: np.ndarray,
    quantiles: Sequence[float],
    groups: np.ndarray | None = None,
    ensemble_size: int = 50,
    bagging_rounds: int = 0,
    bag_fraction: float = 0.5,
    seed: int = 0,
) -> np.ndarray:
    """Non-negative weights (summing to 1) over models minimising mean wQL.

    ``preds`` is ``(n_models, n_points, n_q)`` (quantile forecasts of each model on
    the same backtest points), ``actuals`` ``(n_points,)`` (NaN ignored),
    ``groups`` ``(n_points,)`` the backtest window of each point (wQL is averaged
    over windows). Greedy forward selection with replacement over
    ``ensemble_size`` steps, keeping the best prefix; with ``bagging_rounds`` > 0
    the search also runs on random model subsets and the weights are averaged.
    """
    preds = np.asarray(preds, dtype="float64")
    actuals = np.asarray(actuals, dtype="float64")
    if preds.ndim != 3 or preds.shape[1] != actuals.size or preds.shape[2] != len(quantiles):
        raise ValueError(
            f"preds must be (n_models, n_points={actuals.size}, n_q={len(quantiles)}), got {preds.shape}"
        )
    n_models = preds.shape[0]
    if n_models == 0:
        raise ValueError("select_weights needs at least one model's predictions")
    if not np.isfinite(actuals).any():
        return np.full(n_models, 1.0 / n_models)
    loss = window_wql(actuals, quantiles, groups)
    weights = np.zeros(n_models)
    eligible = eligible_members(preds, loss)
    weights[eligible] = _greedy(preds[eligible], loss, ensemble_size)
    if bagging_rounds > 0 and n_models > 2:
        rng = np.random.default_rng(seed)
        runs = [weights]
        size = max(2, round(bag_fraction * n_models))
        for _ in range(bagging_rounds):
            subset = np.intersect1d(rng.choice(n_models, size=size, replace=False), eligible)
            if subset.size == 0:
                continue
            bag = np.zeros(n_models)
            bag[subset] = _greedy(preds[subset], loss, ensemble_size)
            runs.append(bag)
        weights = np.mean(runs, axis=0)
    return weights / weights.sum()


#: Candidate factors of :func:`calibrate_spread` (1 = the ensemble's own spread).
SPREAD_GRID = np.round(np.arange(0.6, 1.61, 0.05), 2)


def calibrate_spread(
    pred: np.ndarray,
    actuals: np.ndarray,
    quantiles: Sequence[float],
    groups: np.ndarray | None = None,
    grid: Sequence[float] = tuple(SPREAD_GRID),
) -> np.ndarray:
    """Per level, the factor that scales the distance of that quantile from the median
    so as to minimise the backtest wQL (empirical calibration of interval width).

    ``pred`` ``(n_points, n_q)`` (sorted quantiles at ``quantiles``), ``actuals``
    ``(n_points,)`` (NaN ignored), ``groups`` the backtest window of each point.
    Returns ``(n_q,)`` factors from ``grid``; 1 at the median level, and 1 wherever no
    factor beats the ensemble's own spread. Intervals that were too narrow on the
    backtest get a factor above 1, too wide below 1.
    """
    pred = np.asarray(pred, dtype="float64")
    levels = np.asarray(quantiles, dtype="float64")
    factors = np.ones(levels.size)
    if not np.isfinite(actuals).any():
        return factors
    center = pred[:, median_index(levels)]
    for j, q in enumerate(levels):
        if abs(q - MEDIAN) < 1e-12:
            continue
        loss = window_wql(actuals, [q], groups)
        spread = pred[:, j] - center
        scores = {float(f): loss((center + f * spread)[:, None]) for f in grid}
        best = min(scores, key=scores.get)
        factors[j] = best if scores[best] < loss(pred[:, j : j + 1]) - 1e-12 else 1.0
    return factors


def apply_spread(values: np.ndarray, quantiles: Sequence[float], spread: dict[float, float]) -> np.ndarray:
    """Scale each quantile's distance from the median by ``spread[level]`` (levels not in
    ``spread`` are interpolated between the nearest given ones); ``values`` ``(..., n_q)``."""
    if not spread:
        return values
    levels = np.asarray(quantiles, dtype="float64")
    known = np.array(sorted(spread))
    factor = np.interp(levels, known, [spread[k] for k in known])
    center = values[..., median_index(levels)][..., None]
    return center + factor * (values - center)


@dataclass(frozen=True)
class SpreadCalibration:
    """The calibration before conformal quantiles (kept as ``calibration="spread"``):
    each level's distance from the median scaled by a factor of :func:`calibrate_spread`."""

    spread: dict[float, float]

    def apply(
        self, values: np.ndarray, steps: np.ndarray, scales: np.ndarray, levels: Sequence[float],
        flags: np.ndarray | None = None,
    ) -> np.ndarray:
        """``values`` ``(n, n_q)`` rescaled and sorted (``steps``, ``scales`` and ``flags`` unused)."""
        return np.sort(apply_spread(values, levels, self.spread), axis=-1)


class Calibrator(Protocol):
    """What calibrates an ensemble's quantiles ``(n, n_q)`` given each row's horizon step
    and series scale (and, optionally, where each known-ahead flag of its ``flags`` is active):
    :class:`SpreadCalibration` or :class:`fcplan.models.conformal.Calibration`."""

    def apply(
        self, values: np.ndarray, steps: np.ndarray, scales: np.ndarray, levels: Sequence[float],
        flags: np.ndarray | None = None,
    ) -> np.ndarray:
        ...


#: A quantile of a count series is rounded to the nearest count (``ceil(value - SNAP_OFFSET)``).
SNAP_OFFSET = 0.5


def count_series(panel: pd.DataFrame) -> pd.Series:
    """unique_id -> whether every observed value of the series is a non-negative integer
    (a count: orders, departures), so that each of its quantiles is a count too."""
    y = panel[Y].to_numpy("float64")
    ok = np.isfinite(y)
    whole = ~ok | ((y >= 0) & (y == np.round(y)))
    return pd.Series(whole, index=panel[UNIQUE_ID].to_numpy()).groupby(level=0, sort=False).all()


def snap_counts(values: np.ndarray, quantiles: Sequence[float], snap: dict[float, bool]) -> np.ndarray:
    """``values`` ``(n, n_q)`` with the levels that ``snap`` marks (a level not in ``snap``
    takes the nearest one's mark) rounded to the nearest non-negative integer.

    A count's distribution is discrete: its pinball loss is linear between two counts, so a
    quantile between them loses what the two lose, mixed; rounding keeps the nearer count's
    (the quantile of a series that sells one unit on most days is 1, not 0.8)."""
    if not snap:
        return values
    known = np.array(sorted(snap), dtype="float64")
    levels = np.asarray(quantiles, dtype="float64")
    nearest = known[np.abs(levels[:, None] - known[None, :]).argmin(axis=1)]
    marked = np.array([snap[float(k)] for k in nearest], dtype=bool)
    if not marked.any():
        return values
    out = np.array(values, dtype="float64", copy=True)
    with np.errstate(invalid="ignore"):
        out[:, marked] = np.maximum(np.ceil(out[:, marked] - SNAP_OFFSET), 0.0)
    return out


def choose_snap(
    pred: np.ndarray, actuals: np.ndarray, quantiles: Sequence[float], groups: np.ndarray, counts: np.ndarray
) -> dict[float, bool]:
    """level -> whether rounding to counts (:func:`snap_counts`) lowers that level's backtest
    wQL on the points of count series (``counts`` ``(n,)``; ``pred`` ``(n, n_q)`` the calibrated
    backtest forecasts, ``groups`` each point's window). Empty without count points."""
    pred, actuals = np.asarray(pred, dtype="float64"), np.asarray(actuals, dtype="float64")
    ok = np.asarray(counts, dtype=bool) & np.isfinite(actuals)
    if not ok.any():
        return {}
    levels = [float(q) for q in quantiles]
    raw = pred[ok]
    snapped = snap_counts(raw, levels, dict.fromkeys(levels, True))
    out = {}
    for j, q in enumerate(levels):
        loss = window_wql(actuals[ok], [q], np.asarray(groups)[ok])
        out[q] = bool(loss(snapped[:, j : j + 1]) < loss(raw[:, j : j + 1]) - 1e-12)
    return out


def combine(
    frames: Sequence[np.ndarray], weights: Sequence[float], levels: Sequence[float] | None = None,
    disagreement: float = 0.0,
) -> np.ndarray:
    """Weighted average of same-shaped quantile arrays ``(..., n_q)``, level by level
    (Vincentization), widened by the members' disagreement when ``levels`` are given.

    Averaging quantiles keeps the average width of the members' bands but drops the spread of
    their medians: two members that each forecast a narrow band around different levels give
    a narrow band between them, although the data has not told which (if either) is right. With
    ``levels`` (and a median among them) each level ``q`` moves away from the median by
    ``disagreement * z(q)`` times the weighted standard deviation of the members' medians
    (0, the default: the plain average); members with no weight do not count, one member alone
    (or members that agree) leave the average as it was.
    """
    w = np.asarray(weights, dtype="float64")
    w = w / w.sum()
    stacked = np.stack(frames)
    values = np.tensordot(w, stacked, axes=1)
    factor = float(disagreement)
    if levels is None or factor <= 0 or len(frames) < 2:
        return values
    q = np.asarray(levels, dtype="float64")
    mid = np.flatnonzero(np.abs(q - MEDIAN) < 1e-12)
    if mid.size == 0:
        return values
    medians = stacked[..., mid[0]]
    center = np.tensordot(w, medians, axes=1)
    sd = np.sqrt(np.tensordot(w, (medians - center) ** 2, axes=1))
    return values + factor * norm.ppf(q) * sd[..., None]


def fit_members(
    members: dict[str, Forecaster], panel: pd.DataFrame, freq: str, limits: dict[str, float]
) -> dict[str, Forecaster | str]:
    """``name -> the fitted member``, or why it failed (module level, so that a worker
    process can run it)."""
    out: dict[str, Forecaster | str] = {}
    for name, member in members.items():
        try:
            out[name] = member.fit(panel, freq=freq, time_limit=limits.get(name))
        except Exception as exc:  # one member failing must not sink the ensemble
            out[name] = f"{type(exc).__name__}: {exc}"
    return out


def _moved(prefitted: dict[str, Forecaster], panel: pd.DataFrame, freq: str) -> dict[str, Forecaster]:
    """``prefitted`` moved to ``panel`` (:meth:`Forecaster.with_history`), less those that cannot
    be (logged: they are refit)."""
    out = {}
    for name, model in prefitted.items():
        try:
            out[name] = model.with_history(panel, freq)
        except Exception as exc:
            log.info("ensemble member %s refit: its fitted model cannot move to the panel (%s)", name, exc)
    return out


class EnsembleForecaster(Forecaster):
    """Weighted average, level by level, of member forecasters' quantiles.

    Params: ``members`` (name -> unfitted forecaster), ``weights`` (name ->
    weight) and an optional ``calibration`` (a :class:`Calibrator`, applied to the
    average with each series' scale on the fitted panel) or, as before conformal
    calibration, ``spread`` (level -> factor of :func:`calibrate_spread`). Only members
    with positive weight are fitted; a member that fails to fit is dropped and the
    others' weights renormalised (logged). The members named in ``in_worker`` are fitted
    in a worker process while this one fits the others (the same fits, on two cores).
    ``prefitted`` (name -> a fitted member, e.g. on the newest backtest window's training
    data) are not refit by the next :meth:`fit`: they forecast from its panel
    (:meth:`Forecaster.with_history`; one that cannot is fitted as the others). They are not
    among the params, nor kept after that fit (the pickled ensemble holds its members only).
    ``fitted`` (name -> a member already fitted on the panel the next :meth:`fit` is given, or why
    its fit failed, as :func:`fit_members` gives them): taken as they are by that fit, which
    fits only the others (the engine fits them beside the calibration windows' fits); like
    ``prefitted``, not kept after it.
    ``snap`` (level -> bool): the levels whose calibrated quantiles are rounded to counts on the
    series whose history is all counts (:func:`snap_counts`, :func:`count_series`).
    ``disagreement``: how much of the spread of the members' medians widens the average
    (:func:`combine`; 0, the default: none).
    """

    name = "ensemble"
    uses_covariates = True

    def __init__(
        self,
        members: dict[str, Forecaster],
        weights: dict[str, float],
        spread: dict[float, float] | None = None,
        time_limits: dict[str, float] | None = None,
        calibration: Calibrator | None = None,
        in_worker: Sequence[str] = (),
        prefitted: dict[str, Forecaster] | None = None,
        snap: dict[float, bool] | None = None,
        disagreement: float = 0.0,
        fitted: dict[str, Forecaster | str] | None = None,
    ) -> None:
        super().__init__(
            members=members, weights=weights, spread=spread, time_limits=time_limits, calibration=calibration,
            in_worker=tuple(in_worker), snap=dict(snap or {}), disagreement=disagreement,
        )
        self._prefitted = dict(prefitted or {})
        self._fitted = dict(fitted or {})

    def _fit(self, panel: pd.DataFrame) -> None:
        members: dict[str, Forecaster] = self.params["members"]
        weights: dict[str, float] = self.params["weights"]
        limits = self.params["time_limits"] or {}
        wanted = {n: members[n] for n, w in weights.items() if w > 0}
        prefitted, self._prefitted = getattr(self, "_prefitted", {}), {}
        given, self._fitted = getattr(self, "_fitted", {}), {}
        moved = _moved({n: m for n, m in prefitted.items() if n in wanted}, panel, self.freq_)
        given = {n: m for n, m in given.items() if n in wanted and n not in moved}
        done = {*moved, *given}
        away = {n: m for n, m in wanted.items() if n in self.params.get("in_worker", ()) and n not in done}
        pool = worker() if away else None
        try:
            pending = Submitted(pool, fit_members, away, panel, self.freq_, limits) if pool is not None else None
            outcome = fit_members({n: m for n, m in wanted.items() if n not in away and n not in done}, panel,
                                  self.freq_, limits)
            outcome.update(moved)
            outcome.update(given)
            if pending is not None:
                outcome.update(pending.result())
        finally:
            if pool is not None:
                pool.shutdown()
        fitted: dict[str, Forecaster] = {}
        for name in wanted:
            result = outcome[name]
            if isinstance(result, str):
                log.warning("ensemble member %s failed to fit (%s); dropped", name, result)
            else:
                fitted[name] = result
        if not fitted:
            raise RuntimeError(f"every ensemble member failed to fit: {sorted(weights)}")
        total = sum(weights[n] for n in fitted)
        self.members_ = fitted
        self.weights_ = {n: weights[n] / total for n in fitted}
        self.fallbacks_: dict[str, dict[str, str]] = {
            n: dict(getattr(m, "fallbacks_", {})) for n, m in fitted.items()
        }
        scales = panel_scales(panel, season_length(self.freq_))
        self.series_scales_ = scales.reindex(self.series_ids_).to_numpy("float64")
        self.count_series_ = count_series(panel).reindex(self.series_ids_, fill_value=False).to_numpy(bool)

    def _predict(self, h: int, future: pd.DataFrame, quantiles: list[float]) -> np.ndarray:
        cols = quantile_columns(quantiles)
        arrays, weights, guarded = [], [], []
        n_series = len(self.series_ids_)
        for name, member in self.members_.items():
            given = future if member.uses_covariates else future[KEYS]
            frame = member.predict_quantiles(h, future=given, quantiles=quantiles)
            arrays.append(frame[cols].to_numpy("float64").reshape(n_series, h, len(cols)))
            weights.append(self.weights_[name])
            guard = getattr(member, "guarded_", None)
            guarded.append(np.zeros(n_series, bool) if guard is None or len(guard) != n_series else guard)
        disagreement = self.params.get("disagreement", 0.0)
        values = combine(arrays, weights, quantiles, disagreement)
        values = self._without_fallen_back(values, arrays, weights, np.stack(guarded), quantiles, disagreement)
        spread = self.params.get("spread")
        calibration = self.params.get("calibration") or (SpreadCalibration(spread) if spread else None)
        if calibration is None:
            return self._snapped(values, quantiles)
        n_series = len(self.series_ids_)
        steps = np.tile(np.arange(h), n_series)
        flat = values.reshape(n_series * h, -1)
        scales = np.repeat(self.series_scales_, h)
        spec = getattr(calibration, "flags", None)
        active = spec.active(future) if spec is not None else None  # future: series x steps, in order
        flat = calibration.apply(flat, steps, scales, quantiles, flags=active)
        return self._snapped(flat.reshape(values.shape), quantiles)

    def _without_fallen_back(
        self, values: np.ndarray, arrays: list[np.ndarray], weights: list[float], guarded: np.ndarray,
        quantiles: list[float], disagreement: float,
    ) -> np.ndarray:
        """``values`` with each series on which some members fell back to their flat baseline
        (their forecast was NaN, infinite or far outside the history: :meth:`Forecaster._guard`)
        averaged over the other members only, at their weights renormalised. Before, those members'
        flat baselines went into the average at full weight; where every member fell back the
        baseline stays (each member logged it)."""
        some = guarded.any(axis=0) & ~guarded.all(axis=0)
        if not some.any():
            return values
        out = values.copy()
        for pattern in np.unique(guarded[:, some], axis=1).T:
            rows = some & (guarded == pattern[:, None]).all(axis=0)
            keep = np.flatnonzero(~pattern)
            out[rows] = combine([arrays[i][rows] for i in keep], [weights[i] for i in keep], quantiles, disagreement)
        names = list(self.members_)
        log.warning(
            "ensemble: on %d series (e.g. %s) some members fell back to a flat baseline (%s); those series are "
            "forecast by the other members", int(some.sum()), [self.series_ids_[i] for i in np.flatnonzero(some)[:3]],
            sorted({names[i] for i in np.flatnonzero(guarded[:, some].any(axis=1))}),
        )
        return out

    def _snapped(self, values: np.ndarray, quantiles: list[float]) -> np.ndarray:
        """``values`` ``(n_series, h, n_q)`` with the count series' quantiles at the levels of
        ``snap`` rounded to counts (ensembles pickled before ``snap`` are left as they are)."""
        snap = self.params.get("snap") or {}
        counts = getattr(self, "count_series_", None)
        if not snap or counts is None or not counts.any():
            return values
        out = values.copy()
        out[counts] = snap_counts(values[counts].reshape(-1, values.shape[-1]), quantiles, snap).reshape(
            values[counts].shape
        )
        return out
