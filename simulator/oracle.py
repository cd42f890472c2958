"""A simulated daily panel and the oracle that knows its true distribution.

:func:`simulate_daily_panel` gives the history a forecaster sees; the
:class:`Oracle` gives the exact negative-binomial quantiles of every center-day
(the best any forecaster can do) and the known-future covariates a forecaster
may use. The panel's ``y`` equals the daily totals of
:func:`fcplan.simulator.orders.generate_orders` with the same seed, so a
forecaster fed by the order stream sees the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from fcplan.core.calendar import HOLIDAY, PRE_HOLIDAY, holiday_features
from fcplan.core.locales import Locales
from fcplan.core.panel import DS, MODEL, UNIQUE_ID, Y, validate_panel
from fcplan.core.quantiles import check_levels, quantile_columns
from fcplan.simulator.demand import (
    DEFAULT_COUNTRY,
    DEFAULT_TZ,
    DISPERSION,
    MEAN,
    CenterProfile,
    TimeLike,
    local_days,
    make_centers,
    to_instant,
    to_local_day,
    zone_groups,
)
from fcplan.simulator.expected import daily_matrix, expected_daily
from fcplan.simulator.orders import sample_daily_counts
from fcplan.simulator.promotions import (
    SimulatedPromotion,
    cancellation_chance,
    make_promotions,
    promotions_known_at,
)

#: Relative uplift of the day's expected orders from promotions (0 = none); production
#: panels have no such column (their ``promo`` is the share of the day a promotion covers).
PROMO_UPLIFT = "promo_uplift"
DISCOUNT = "discount_pct"  # largest discount of a promotion running that day (0 = none)
#: The panel's holiday flags: the two basic ones (the engine adds the rest of
#: ``fcplan.core.calendar.HOLIDAY_COLUMNS`` when given a country).
HOLIDAYS = [HOLIDAY, PRE_HOLIDAY]
COVARIATES = [PROMO_UPLIFT, DISCOUNT, *HOLIDAYS]
ORACLE_MODEL = "oracle"
PREDICTIVE_MODEL = "oracle_at_origin"
DEFAULT_END = pd.Timestamp("2026-01-01")


def mixture_quantiles(means: np.ndarray, sizes: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """``(cells, n_q)`` quantiles of equal-weight mixtures of negative binomials.

    ``means``: ``(samples, cells)``; ``sizes``: ``(cells,)``, the size ``r`` of each
    cell. Bisection on the integer counts over the distinct means of each cell
    (few: most draws agree on most cells)."""
    samples, cells = means.shape
    cell = np.broadcast_to(np.arange(cells), means.shape).ravel()
    order = np.lexsort((means.ravel(), cell))
    cell, mean = cell[order], means.ravel()[order]
    first = np.r_[True, (np.diff(cell) != 0) | (np.diff(mean) != 0)]
    weight = np.diff(np.r_[np.flatnonzero(first), cell.size]) / samples
    cell, mean = cell[first], mean[first]
    r = sizes[cell][:, None]
    success = r / (r + mean[:, None])
    target = np.asarray(levels, dtype="float64")[None, :]
    lo = np.full((cells, target.size), -1.0)  # cdf(lo) < q <= cdf(hi)
    hi = np.ceil(means.max(axis=0) * 4 + 50)[:, None] + np.zeros_like(target)
    while np.any(hi - lo > 1):
        mid = np.floor((lo + hi) / 2)
        cdf = np.zeros_like(lo)
        np.add.at(cdf, cell, weight[:, None] * stats.nbinom.cdf(mid[cell], r, success))
        ok = cdf >= target
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
    return hi


@dataclass(frozen=True)
class Oracle:
    """The true daily demand of simulated centers, for any local day.

    Promotions are regenerated from ``seed`` on demand, so the oracle also covers
    days after the simulated panel. All windows are local days ``[start, end)``:
    with ``locales`` each center's own (its zone and holiday country).
    """

    centers: tuple[CenterProfile, ...]
    seed: int
    tz: str = DEFAULT_TZ
    country: str | None = DEFAULT_COUNTRY
    locales: Locales | None = None

    def promotions(self, start: TimeLike, end: TimeLike) -> list[SimulatedPromotion]:
        """The promotions (including cancelled ones) touching ``[start, end)``
        (a day of slack either side with ``locales``: local days differ by zone)."""
        lo, hi = to_local_day(start, self.tz), to_local_day(end, self.tz)
        if self.locales is not None:
            lo, hi = lo - pd.Timedelta(days=1), hi + pd.Timedelta(days=1)
        return make_promotions(self.centers, lo, hi, self.seed, self.tz, locales=self.locales)

    def _daily(self, promotions: Sequence[SimulatedPromotion], days: pd.DatetimeIndex) -> np.ndarray:
        return daily_matrix(self.centers, promotions, days, self.tz, self.country, self.locales)

    def expected(self, start: TimeLike, end: TimeLike) -> pd.DataFrame:
        """Columns ``unique_id, ds, mean, dispersion`` (see ``expected_daily``)."""
        return expected_daily(
            self.centers, self.promotions(start, end), start, end, self.tz, self.country, self.locales
        )

    def quantiles(self, levels: Sequence[float], start: TimeLike, end: TimeLike) -> pd.DataFrame:
        """Exact quantiles of each center-day's order count for local days ``[start, end)``.

        Returns the forecast frame: ``unique_id``, ``ds`` (tz-naive local date),
        ``model`` (``"oracle"``), then one float column per level named
        ``f"{q:g}"`` (``"0.1"``, ``"0.5"``...), levels ascending. The values are
        ``scipy.stats.nbinom(r, r / (r + mean)).ppf(q)``.
        """
        qs = check_levels(levels)
        truth = self.expected(start, end)
        mean = truth[MEAN].to_numpy()[:, None]
        r = truth[DISPERSION].to_numpy()[:, None]
        values = stats.nbinom.ppf(np.asarray(qs)[None, :], r, r / (r + mean)).astype(float)
        out = truth[[UNIQUE_ID, DS]].copy()
        out[MODEL] = ORACLE_MODEL
        return pd.concat([out, pd.DataFrame(values, columns=quantile_columns(qs))], axis=1)

    def predictive_quantiles(
        self,
        levels: Sequence[float],
        start: TimeLike,
        end: TimeLike,
        as_of: TimeLike | None = None,
        samples: int = 200,
        seed: int = 0,
    ) -> pd.DataFrame:
        """Quantiles of the true distribution of each center-day's orders given what
        is known at ``as_of`` (default: local midnight starting ``start``): the best a
        forecaster can do at that moment, where :meth:`quantiles` also knows every
        promotion that will run.

        The unknowns are promotions announced after ``as_of`` (independent of the
        announced ones: each month's promotions are a Poisson number of independent
        draws, so the unannounced ones are fresh draws kept when announced later) and
        later cancellations of announced ones (:func:`cancellation_chance`). The
        distribution is the mixture, over ``samples`` Monte Carlo draws of both, of
        the negative binomials; its quantiles are found by bisection on the counts.
        Same frame as :meth:`quantiles`.
        """
        qs = check_levels(levels)
        days = local_days(start, end, self.tz)
        moment = to_instant(to_local_day(start, self.tz) if as_of is None else as_of, self.tz).to_pydatetime()
        known = [p for p in promotions_known_at(self.promotions(start, end), moment, self.tz) if p.status == "active"]
        rng = np.random.default_rng([seed, 7])
        means = np.empty((samples, len(self.centers), len(days)))
        for s in range(samples):
            draw_seed = int(np.random.SeedSequence([self.seed, seed, s]).generate_state(1)[0])
            fresh = make_promotions(self.centers, start, end, draw_seed, self.tz, locales=self.locales)
            unannounced = [p for p in fresh if p.announced_at > moment and p.status == "active"]
            kept = [p for p in known if rng.random() >= cancellation_chance(p, moment)]
            means[s] = self._daily(kept + unannounced, days)
        sizes = np.repeat([c.dispersion for c in self.centers], len(days))
        values = mixture_quantiles(means.reshape(samples, -1), sizes, qs)
        out = pd.DataFrame(
            {
                UNIQUE_ID: np.repeat([c.center_id for c in self.centers], len(days)),
                DS: np.tile(days, len(self.centers)),
                MODEL: PREDICTIVE_MODEL,
            }
        )
        return pd.concat([out, pd.DataFrame(values, columns=quantile_columns(qs))], axis=1)

    def covariates(self, start: TimeLike, end: TimeLike, as_of: TimeLike | None = None) -> pd.DataFrame:
        """Known covariates per center and local day in ``[start, end)``.

        Columns: ``unique_id``, ``ds``, ``promo`` (relative uplift of the day's
        expected orders, 0.0 = none), ``discount_pct`` (largest discount running
        that day), ``holiday``, ``pre_holiday`` (as :func:`fcplan.core.calendar.holiday_features`).
        With ``as_of`` None the promotions are those that really ran; otherwise
        those announced by ``as_of``, still active unless cancelled by then.
        """
        days = local_days(start, end, self.tz)
        promos = self.promotions(start, end)
        if as_of is not None:
            promos = promotions_known_at(promos, as_of, self.tz)
        promos = [p for p in promos if p.status == "active"]
        with_promos = self._daily(promos, days)
        base = self._daily([], days)
        discount = np.zeros_like(base)
        holidays = {col: np.zeros_like(base) for col in HOLIDAYS}
        day_lo = np.asarray(days.as_unit("ns").asi8)
        day_hi = day_lo + pd.Timedelta(days=1).value
        for g in zone_groups(self.centers, self.locales, self.tz, self.country):
            for promo in promos:
                lo = to_instant(promo.start, g.tz).tz_localize(None).as_unit("ns").value
                hi = to_instant(promo.end, g.tz).tz_localize(None).as_unit("ns").value
                touched = (day_lo < hi) & (day_hi > lo)
                for i in g.rows:
                    if promo.applies_to(self.centers[i].center_id):
                        discount[i, touched] = np.maximum(discount[i, touched], promo.discount_pct)
            if g.country:
                hol = holiday_features(days, g.country)
                for col in HOLIDAYS:
                    holidays[col][list(g.rows)] = hol[col].to_numpy(dtype=float)
        n = len(self.centers)
        out = pd.DataFrame(
            {
                UNIQUE_ID: np.repeat([c.center_id for c in self.centers], len(days)),
                DS: np.tile(days, n),
                PROMO_UPLIFT: (with_promos / base - 1.0).ravel(),
                DISCOUNT: discount.ravel(),
            }
        )
        for col in HOLIDAYS:
            out[col] = holidays[col].ravel()
        return out

    def future(self, start: TimeLike, horizon: int, as_of: TimeLike | None = None) -> pd.DataFrame:
        """Known-future covariates for ``horizon`` local days from ``start`` (the
        first forecast day), as a forecaster knows them at ``as_of`` (default: local
        midnight starting ``start``). Columns as :meth:`covariates`."""
        first = to_local_day(start, self.tz)
        moment = first if as_of is None else as_of
        return self.covariates(first, first + pd.Timedelta(days=horizon), as_of=moment)


def simulate_daily_panel(
    n_centers: int = 5,
    days: int = 730,
    seed: int = 0,
    end: TimeLike | None = None,
    *,
    scale: float = 1.0,
    tz: str = DEFAULT_TZ,
    country: str | None = DEFAULT_COUNTRY,
    locales: Locales | None = None,
) -> tuple[pd.DataFrame, Oracle]:
    """``days`` local days of simulated daily orders ending before ``end``
    (exclusive; default 2026-01-01, so the last day is 2025-12-31).

    Returns the panel — ``unique_id``, ``ds`` (tz-naive local date), ``y`` (orders
    that day, float), ``promo``, ``discount_pct``, ``holiday``, ``pre_holiday``
    (the promotions that really ran) — sorted by ``unique_id, ds``, and the
    :class:`Oracle` of the same centers and seed.
    """
    if days < 1:
        raise ValueError(f"days must be >= 1; got {days}")
    last = to_local_day(DEFAULT_END if end is None else end, tz)
    first = last - pd.Timedelta(days=days)
    oracle = Oracle(tuple(make_centers(n_centers, seed, scale)), seed, tz, country, locales)
    counts = sample_daily_counts(
        oracle.centers, oracle.promotions(first, last), first, last, seed, tz, country, locales
    )
    covariates = oracle.covariates(first, last)
    panel = pd.concat([counts[[UNIQUE_ID, DS, Y]], covariates[COVARIATES]], axis=1)
    return validate_panel(panel, name="simulated panel"), oracle
