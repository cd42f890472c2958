"""A sequential change test on hourly actuals against a forecast day's distribution.

Pure numpy, no state: :mod:`fcplan.models.drift_monitor` keeps the state per center.

The model of a day (it is how :mod:`fcplan.simulator` draws orders, and the
negative binomial every count forecaster here assumes): the day has a level
``G ~ Gamma(shape, 1/shape)`` (mean 1), and its hour ``h`` brings
``Poisson(mean * share[h] * G)`` orders, with ``mean`` and ``shape`` read off the
champion's daily quantiles (:func:`day_distribution`) and ``share`` the center's
learned intraday profile (:func:`intraday_shares`). The day total is then
negative binomial, and a partial day up to hour ``t`` is negative binomial with
the mean scaled by the expected share so far: that is how a partial day is
judged.

The alternative: from some hour ``tau`` on, every hour's rate is multiplied by
``theta``. Its log-likelihood ratio against the forecast, given the day's
cumulative actuals ``X`` and expected orders ``M`` (before ``tau``: ``M_pre``,
since: ``M_post``, ``X_post``)::

    llr = X_post * log(theta) - (shape + X) * log((shape + M_pre + theta * M_post) / (shape + M))

(``G`` integrated out), so the hours of one day share one level error and
are never treated as independent. Days are independent given the forecast, so
the ratios of whole days add up.

The statistic is a Shiryaev-Roberts mixture over the change hour: the sum, over
every candidate start ``tau`` (within today, or carried from earlier days), of
``w_tau * LR_tau`` with ``w_tau`` the expected share of the day's orders in
hour ``tau`` (the learned profile), so the weights of one day sum to 1. For each
``tau`` the likelihood ratio is a martingale with mean 1 under the forecast, so
the statistic grows by at most one per day in expectation and (Doob's
inequality on the submartingale) crosses ``A`` within a year with chance at most
``365.25 / A``: :func:`alarm_level` sets ``log A`` for a target number of false
alarms per year. Candidate starts that give about the same evidence (the hours
of a quiet night, or every hour of the first day of a shift days old) add their
weights, so an old shift is judged against about ``log(365.25 / rate)``, not the
``log(8766 / rate)`` of a maximum over every hour.

:func:`weekday_tilts` are the alternatives of the weekday-pattern test: the
weekly profile tilted by one harmonic (a peak moved to another weekday), mean
level unchanged; each candidate start day carries every tilt's ratio of whole
days, and the statistic mixes tilts (equal prior) and start days (weight 1 a day).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

DAYS_PER_YEAR = 365.25
#: Shape used when the forecast has a single quantile level (no spread to read).
DEFAULT_SHAPE = 30.0
MAX_SHAPE = 1e6  # a Poisson day (no day-level noise beyond counting)


def day_distribution(levels: Sequence[float], values: Sequence[float]) -> tuple[float, float]:
    """``(mean, shape)`` of the day's negative binomial read off its quantiles.

    ``levels``: the quantile levels (any set, e.g. 0.1/0.5/0.9); ``values``: the
    forecast at those levels. A log-normal is fitted to the quantiles (least
    squares of log value on the normal score): its mean is the day's mean and its
    squared coefficient of variation ``cv2`` splits into counting noise
    ``1 / mean`` and day-level noise ``1 / shape``. One level gives the mean
    only (median ~ mean) and :data:`DEFAULT_SHAPE`.
    """
    q = np.asarray(levels, dtype="float64")
    v = np.sort(np.maximum(np.asarray(values, dtype="float64"), 0.5))
    if q.size != v.size or q.size == 0:
        raise ValueError(f"need one forecast value per quantile level; got {q.size} levels and {v.size} values")
    if q.size == 1 or np.ptp(q) == 0:
        return float(v[0]), DEFAULT_SHAPE
    z = stats.norm.ppf(np.sort(q))
    sigma, mu = np.polyfit(z, np.log(v), 1)
    sigma = max(float(sigma), 0.0)
    mean = float(np.exp(mu + sigma**2 / 2))
    extra = np.expm1(sigma**2) - 1.0 / mean
    return mean, float(min(1.0 / extra, MAX_SHAPE)) if extra > 0 else MAX_SHAPE


def intraday_shares(hour_of_day: np.ndarray, counts: np.ndarray, prior: float = 0.5) -> np.ndarray:
    """The learned intraday profile: 24 shares of local hours 0..23 summing to 1.

    ``hour_of_day``: local hour (0..23) of each hourly count; ``counts``: orders
    in that hour (zero-filled hours included). ``prior`` orders per hour keep
    unseen hours above zero.
    """
    totals = np.bincount(np.asarray(hour_of_day, dtype="int64"), weights=np.asarray(counts, float), minlength=24)
    totals = totals[:24] + prior
    return totals / totals.sum()


def change_llr(x_cum: np.ndarray, m_cum: np.ndarray, shape: float, theta: float) -> np.ndarray:
    """Log-likelihood ratios of "rates times ``theta`` since hour ``tau``" for every
    ``tau = 0 .. t-1`` of a day observed up to hour ``t``.

    ``x_cum`` / ``m_cum``: cumulative actual / expected orders at the day's hour
    boundaries, shape ``(t + 1,)``, starting at 0. Returns shape ``(t,)``;
    entry 0 is the whole day so far.
    """
    x_total, m_total = x_cum[-1], m_cum[-1]
    m_pre = m_cum[:-1]
    m_post = m_total - m_pre
    x_post = x_total - x_cum[:-1]
    return x_post * np.log(theta) - (shape + x_total) * np.log((shape + m_pre + theta * m_post) / (shape + m_total))


def day_llr(x: float, m: float, shape: float, thetas: np.ndarray) -> np.ndarray:
    """Log-likelihood ratios of "the whole day so far at ``thetas`` times the forecast":
    ``x`` orders against ``m`` expected, day-level size ``shape``; one entry per theta."""
    thetas = np.asarray(thetas, dtype="float64")
    return x * np.log(thetas) - (shape + x) * np.log((shape + thetas * m) / (shape + m))


def log_sum(log_terms: np.ndarray) -> float:
    """``log(sum(exp(log_terms)))`` without overflow; ``-inf`` for no terms."""
    terms = np.asarray(log_terms, dtype="float64")
    if terms.size == 0 or not np.isfinite(terms.max()):
        return float("-inf")
    top = float(terms.max())
    return top + float(np.log(np.exp(terms - top).sum()))


def roberts(log_carry: float, llr: np.ndarray, log_weights: np.ndarray) -> tuple[float, int]:
    """The log Shiryaev-Roberts statistic of one day so far and its largest term.

    ``log_carry``: the log statistic at the end of the day before (``-inf`` at the
    start); ``llr``: :func:`change_llr` of today (entry 0 is the whole day, which
    extends every earlier start); ``log_weights``: log prior weight of a change at
    each of today's hours. Returns ``(log statistic, index)``: index ``-1`` when the
    carried starts dominate, else the hour of today that does.
    """
    terms = np.r_[log_carry + llr[0], np.asarray(log_weights) + llr]
    return log_sum(terms), int(np.argmax(terms)) - 1


def alarm_level(false_alarms_per_year: float, tests: int = 1) -> float:
    """``log A`` for ``tests`` mixture statistics whose start weights sum to one a day,
    so that all of them together raise at most ``false_alarms_per_year`` false alarms
    a year (union over the tests)."""
    if false_alarms_per_year <= 0 or tests < 1:
        raise ValueError(f"need false_alarms_per_year > 0 and tests >= 1; got {false_alarms_per_year}, {tests}")
    return float(np.log(DAYS_PER_YEAR * tests / false_alarms_per_year))


def weekday_tilts(amplitudes: Sequence[float] = (0.15, 0.3)) -> np.ndarray:
    """Multipliers of a weekday-pattern change, shape ``(len(amplitudes) * 7, 7)`` (Mon..Sun):
    ``exp(a * cos(2 pi (d - peak) / 7))`` for every amplitude ``a`` and peak weekday.
    The log multipliers of a week sum to zero: the level is the level test's business."""
    days = np.arange(7)
    rows = [np.exp(a * np.cos(2 * np.pi * (days - peak) / 7)) for a in amplitudes for peak in range(7)]
    return np.array(rows)


def partial_pit(x: float, expected: float, shape: float) -> float:
    """Mid-PIT of ``x`` orders so far under the partial day's negative binomial
    (mean ``expected``, size ``shape``): 0.5 is on forecast, near 0 or 1 is far off."""
    if expected <= 0:
        return 0.5
    p = shape / (shape + expected)
    return float((stats.nbinom.cdf(x, shape, p) + stats.nbinom.cdf(x - 1, shape, p)) / 2)
