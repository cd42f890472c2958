"""The true expected demand of simulated fulfillment centers.

Conventions shared by every function of :mod:`fcplan.simulator`:

* windows are half-open, ``[start, end)``;
* a naive ``start``/``end`` is wall-clock time in ``tz`` (default ``Asia/Seoul``);
  a tz-aware one is converted to ``tz``;
* given ``locales`` (:class:`fcplan.core.locales.Locales`, e.g. from the centers file),
  each center lives in its own zone and holiday country instead: its intraday profile,
  weekdays, holidays and local days are its own, and "local days ``[start, end)``"
  are each center's. Centers are simulated a zone group at a time (:func:`zone_groups`);
  without ``locales`` the numbers are exactly the single-zone ones;
* hourly frames have a tz-aware UTC ``ds`` (the hour start); daily frames have a
  tz-naive ``ds`` at local midnight of the local calendar day;
* every random draw comes from a generator keyed by ``(seed, stream, ...)``, so a
  center, a month of promotions or a center-day of orders does not change when
  the window or the number of centers changes.

Expected orders of center *c* in local hour *h* of day *d*::

    base * trend(d) * yearly(d) * weekly[dow(d)] * holiday(d) * intraday[h] * promotions(h)

The daily total is negative binomial with that day's summed mean and the
center's ``dispersion`` (see :mod:`fcplan.simulator.orders`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from fcplan.core.calendar import BLOCK_DAYS, LEAD_DAYS, holiday_dates, holiday_runs
from fcplan.core.locales import Locales
from fcplan.core.panel import UNIQUE_ID

DEFAULT_TZ = "Asia/Seoul"
DEFAULT_COUNTRY = "KR"
NS_PER_HOUR = 3_600_000_000_000
NS_PER_DAY = 24 * NS_PER_HOUR
YEAR_DAYS = 365.2425
MEAN = "mean"
DISPERSION = "dispersion"

# Random streams: the second entry of every generator key.
STREAM_CENTERS, STREAM_PROMOTIONS, STREAM_ORDERS = 1, 2, 3

NAMED_CENTERS: tuple[tuple[str, float], ...] = (
    ("FC-SEOUL-1", 2500.0),
    ("FC-INCHEON", 1500.0),
    ("FC-BUSAN", 900.0),
    ("FC-DAEJEON", 600.0),
    ("FC-GWANGJU", 350.0),
)
_WEEKLY_BASE = np.array([1.20, 1.08, 1.02, 1.00, 0.96, 0.86, 0.88])  # Mon .. Sun
_REF_DAY = int(pd.Timestamp("2025-01-01").as_unit("ns").value // NS_PER_DAY)  # trend 1, yearly phase 0
_YEARLY_PEAK_DAY = 325  # day of year of the Q4 peak (about Nov 21), jittered per center
_PRE_MINOR = 1.05  # the day before a single public holiday
# A major block (Seollal, Chuseok) and its pre-holiday days: the calendar's holiday block.
MAJOR_BLOCK_DAYS = BLOCK_DAYS
PRE_HOLIDAY_DAYS = LEAD_DAYS

TimeLike = datetime | pd.Timestamp | str


@dataclass(frozen=True)
class ZoneGroup:
    """Centers sharing a time zone and holiday country: ``rows`` index the caller's centers."""

    tz: str
    country: str | None
    rows: tuple[int, ...]

    def pick(self, items: Sequence[CenterProfile]) -> list[CenterProfile]:
        return [items[i] for i in self.rows]


def zone_groups(
    centers: Sequence[CenterProfile], locales: Locales | None, tz: str, country: str | None
) -> list[ZoneGroup]:
    """The centers grouped by (zone, holiday country), so each group is simulated at once
    in its own clock. Without ``locales`` every center is in ``tz`` with ``country``."""
    if locales is None:
        return [ZoneGroup(tz, country, tuple(range(len(centers))))]
    groups: dict[tuple[str, str | None], list[int]] = {}
    for i, c in enumerate(centers):
        groups.setdefault((locales.zone(c.center_id), locales.country(c.center_id)), []).append(i)
    return [ZoneGroup(z, k, tuple(rows)) for (z, k), rows in groups.items()]


def by_zone_frame(
    centers: Sequence[CenterProfile],
    groups: Sequence[ZoneGroup],
    frame: Callable[[list[CenterProfile], ZoneGroup], pd.DataFrame],
) -> pd.DataFrame:
    """``frame(centers of the group, group)`` for each group, rows back in center order
    (each group's frame has its rows by center, then ``ds``)."""
    if len(groups) == 1 and groups[0].rows == tuple(range(len(centers))):
        return frame(list(centers), groups[0])
    parts = [frame(g.pick(centers), g) for g in groups]
    rank = {c.center_id: i for i, c in enumerate(centers)}
    out = pd.concat(parts, ignore_index=True)
    order = np.argsort(out[UNIQUE_ID].map(rank).to_numpy(), kind="stable")
    return out.iloc[order].reset_index(drop=True)


def center_key(center_id: str) -> int:
    """A stable integer for a center id, used in random-generator keys."""
    return zlib.crc32(center_id.encode("utf-8"))


@dataclass(frozen=True)
class CenterProfile:
    """Demand parameters of one simulated center.

    ``weekly``: 7 multipliers Mon..Sun with mean 1. ``intraday``: 24 shares of
    local hours 0..23 summing to 1. ``yearly_fourier``: ``(a1, b1, a2, b2)`` of
    ``1 + a1 cos t + b1 sin t + a2 cos 2t + b2 sin 2t`` with ``t`` the phase of the
    year. ``trend_per_year``: relative linear growth (0.04 = +4 %/year from
    2025-01-01). ``dispersion``: negative-binomial size ``r`` of the daily total
    (variance ``mean + mean**2 / r``). Orders have ``1 + Poisson(lines_extra_mean)``
    lines and ``lines + Poisson(units_extra_per_line * lines)`` units.
    """

    center_id: str
    base_daily: float
    weekly: tuple[float, ...]
    intraday: tuple[float, ...]
    yearly_fourier: tuple[float, float, float, float]
    trend_per_year: float
    dispersion: float
    holiday_dip: float = 0.35
    minor_holiday_dip: float = 0.75
    pre_holiday_peak: float = 1.25
    lines_extra_mean: float = 0.8
    units_extra_per_line: float = 0.3

    def __post_init__(self) -> None:
        if len(self.weekly) != 7 or len(self.intraday) != 24:
            raise ValueError(
                f"center {self.center_id!r} needs 7 weekly multipliers and 24 intraday shares; "
                f"got {len(self.weekly)} and {len(self.intraday)}"
            )
        if self.base_daily <= 0 or self.dispersion <= 0:
            raise ValueError(
                f"center {self.center_id!r}: base_daily and dispersion must be > 0; "
                f"got {self.base_daily} and {self.dispersion}"
            )


def _intraday(rng: np.random.Generator) -> np.ndarray:
    """24 hourly shares: a morning and a larger evening peak, a lunch shoulder, low nights."""
    mid = np.arange(24) + 0.5

    def bump(centre: float, width: float) -> np.ndarray:
        dist = (mid - centre + 12.0) % 24.0 - 12.0
        return np.exp(-0.5 * (dist / width) ** 2)

    shape = (
        0.06
        + rng.uniform(0.8, 1.2) * bump(rng.uniform(9.5, 11.5), 2.0)
        + rng.uniform(0.3, 0.6) * bump(14.5, 2.5)
        + rng.uniform(1.0, 1.5) * bump(rng.uniform(20.0, 22.0), 1.8)
    )
    return shape / shape.sum()


def make_centers(n: int = 5, seed: int = 0, scale: float = 1.0) -> list[CenterProfile]:
    """``n`` centers of different sizes; the first five are the named Korean ones.

    Center ``i`` depends only on ``(seed, i, scale)``, so ``make_centers(3)`` is a
    prefix of ``make_centers(5)``. ``scale`` multiplies every base daily volume.
    """
    if n < 1 or scale <= 0:
        raise ValueError(f"need n >= 1 centers and scale > 0; got n={n}, scale={scale}")
    centers = []
    for i in range(n):
        rng = np.random.default_rng([seed, STREAM_CENTERS, i])
        if i < len(NAMED_CENTERS):
            center_id, base = NAMED_CENTERS[i]
        else:
            center_id, base = (
                f"FC-SIM-{i + 1:03d}",
                float(np.clip(rng.lognormal(np.log(600.0), 0.6), 150, 3000)),
            )
        weekly = _WEEKLY_BASE * np.exp(rng.normal(0.0, 0.04, 7))
        weekly /= weekly.mean()
        peak = 2 * np.pi * (_YEARLY_PEAK_DAY + rng.uniform(-10, 10)) / YEAR_DAYS
        amp1, amp2 = rng.uniform(0.08, 0.15), rng.uniform(0.02, 0.05)
        fourier = (amp1 * np.cos(peak), amp1 * np.sin(peak), amp2 * np.cos(2 * peak), amp2 * np.sin(2 * peak))
        centers.append(
            CenterProfile(
                center_id=center_id,
                base_daily=float(base * scale),
                weekly=tuple(float(w) for w in weekly),
                intraday=tuple(float(s) for s in _intraday(rng)),
                yearly_fourier=tuple(float(f) for f in fourier),  # type: ignore[arg-type]
                trend_per_year=float(rng.uniform(0.02, 0.06)),
                dispersion=float(rng.uniform(25.0, 80.0)),
                holiday_dip=float(rng.uniform(0.30, 0.40)),
                minor_holiday_dip=float(rng.uniform(0.70, 0.80)),
                pre_holiday_peak=float(rng.uniform(1.20, 1.30)),
                lines_extra_mean=float(rng.uniform(0.5, 1.2)),
                units_extra_per_line=float(rng.uniform(0.2, 0.5)),
            )
        )
    return centers


# --- time helpers ---------------------------------------------------------------------------


def to_instant(x: TimeLike, tz: str = DEFAULT_TZ) -> pd.Timestamp:
    """A tz-aware timestamp in ``tz``; a naive ``x`` is wall-clock time in ``tz``."""
    ts = pd.Timestamp(x)
    return ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)


def to_local_day(x: TimeLike, tz: str = DEFAULT_TZ) -> pd.Timestamp:
    """The tz-naive local midnight of the calendar day containing ``x``."""
    ts = pd.Timestamp(x)
    if ts.tzinfo is not None:
        ts = ts.tz_convert(tz).tz_localize(None)
    return ts.normalize().as_unit("ns")


def day_number(days: pd.DatetimeIndex) -> np.ndarray:
    """Days since 1970-01-01 of tz-naive timestamps (int64)."""
    return days.as_unit("ns").asi8 // NS_PER_DAY


def local_days(start: TimeLike, end: TimeLike, tz: str = DEFAULT_TZ) -> pd.DatetimeIndex:
    """Local calendar days ``[start, end)``, tz-naive at midnight."""
    return pd.date_range(to_local_day(start, tz), to_local_day(end, tz), freq="D", inclusive="left").as_unit(
        "ns"
    )


def day_hours(days: pd.DatetimeIndex, tz: str = DEFAULT_TZ) -> pd.DatetimeIndex:
    """All local hour starts of consecutive local ``days`` (tz-aware in ``tz``)."""
    if len(days) == 0:
        return pd.DatetimeIndex([], tz=tz).as_unit("ns")
    lo = days[0].tz_localize(tz)
    hi = (days[-1] + pd.Timedelta(days=1)).tz_localize(tz)
    return pd.date_range(lo, hi, freq="h", inclusive="left").as_unit("ns")


# --- calendar -------------------------------------------------------------------------------

NORMAL, MINOR, MAJOR, PRE_MINOR, PRE_MAJOR = range(5)


def holiday_codes(days: np.ndarray, country: str | None = DEFAULT_COUNTRY) -> np.ndarray:
    """Per day number: NORMAL, MINOR (public holiday), MAJOR (in a run of >= 3
    consecutive holidays: Seollal, Chuseok), PRE_MAJOR (one of the 3 non-holiday
    days before a major run) or PRE_MINOR (the non-holiday day before a minor one).
    ``country`` None: every day is NORMAL."""
    codes = np.full(len(days), NORMAL, dtype=np.int8)
    if len(days) == 0 or not country:
        return codes
    epoch = pd.Timestamp("1970-01-01")
    lo = epoch + pd.Timedelta(days=int(days.min()) - 7)
    hi = epoch + pd.Timedelta(days=int(days.max()) + 14)
    hol = np.array(sorted(day_number(pd.DatetimeIndex(holiday_dates(country, lo, hi)))), dtype=np.int64)
    runs = holiday_runs(hol)
    if not runs:
        return codes
    major = {int(d) for run in runs if len(run) >= MAJOR_BLOCK_DAYS for d in run}
    holidays = set(hol.tolist())
    pre_major = {
        int(run[0]) - k
        for run in runs
        if len(run) >= MAJOR_BLOCK_DAYS
        for k in range(1, PRE_HOLIDAY_DAYS + 1)
    } - holidays
    pre_minor = {int(run[0]) - 1 for run in runs if len(run) < MAJOR_BLOCK_DAYS} - holidays - pre_major
    lookup = {**dict.fromkeys(pre_minor, PRE_MINOR), **dict.fromkeys(pre_major, PRE_MAJOR)}
    lookup.update(dict.fromkeys(holidays - major, MINOR))
    lookup.update(dict.fromkeys(major, MAJOR))
    return np.array([lookup.get(int(d), NORMAL) for d in days], dtype=np.int8)


# --- expected demand ------------------------------------------------------------------------


def base_hourly_matrix(
    centers: Sequence[CenterProfile], hours: pd.DatetimeIndex, country: str | None = DEFAULT_COUNTRY
) -> np.ndarray:
    """Expected orders without promotions, shape ``(len(centers), len(hours))``.

    ``hours``: tz-aware local hour starts (e.g. from :func:`day_hours`).
    """
    local = hours.tz_localize(None).as_unit("ns")
    day = local.asi8 // NS_PER_DAY
    hour = np.asarray(local.hour)
    dow = np.asarray(local.dayofweek)
    udays, inv = np.unique(day, return_inverse=True)
    codes = holiday_codes(udays, country)
    years = (udays - _REF_DAY) / YEAR_DAYS
    phase = 2 * np.pi * years
    out = np.empty((len(centers), len(hours)))
    for i, c in enumerate(centers):
        a1, b1, a2, b2 = c.yearly_fourier
        yearly = 1 + a1 * np.cos(phase) + b1 * np.sin(phase) + a2 * np.cos(2 * phase) + b2 * np.sin(2 * phase)
        trend = np.maximum(1 + c.trend_per_year * years, 0.2)
        holiday = np.array([1.0, c.minor_holiday_dip, c.holiday_dip, _PRE_MINOR, c.pre_holiday_peak])[codes]
        per_day = c.base_daily * trend * yearly * holiday
        out[i] = per_day[inv] * np.asarray(c.weekly)[dow] * np.asarray(c.intraday)[hour]
    return out


def day_starts(hours: pd.DatetimeIndex) -> np.ndarray:
    """Index of the first hour of each local day in ``hours`` (for ``np.add.reduceat``)."""
    day = hours.tz_localize(None).as_unit("ns").asi8 // NS_PER_DAY
    return np.flatnonzero(np.r_[True, day[1:] != day[:-1]])
