"""Frequencies of a panel: inferred from the data, and the main season of each."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from fcplan.core.panel import DS, UNIQUE_ID, PanelError

log = logging.getLogger(__name__)

_FREQ_ALIASES = {"D": "D", "H": "h", "h": "h", "W": "W"}


#: Calendar frequencies, whose steps vary in length (a month is 28-31 days): ``(shortest
#: step, longest step, the anchor every timestamp must sit on, frequency)``, tried in order.
_CALENDAR = (
    (pd.Timedelta(days=28), pd.Timedelta(days=31), "is_month_end", "ME"),
    (pd.Timedelta(days=28), pd.Timedelta(days=31), "is_month_start", "MS"),
    (pd.Timedelta(days=89), pd.Timedelta(days=92), "is_quarter_end", "QE"),
    (pd.Timedelta(days=89), pd.Timedelta(days=92), "is_quarter_start", "QS"),
    (pd.Timedelta(days=365), pd.Timedelta(days=366), "is_year_end", "YE"),
    (pd.Timedelta(days=365), pd.Timedelta(days=366), "is_year_start", "YS"),
)


def infer_freq(panel: pd.DataFrame) -> str:
    """Infer a pandas frequency from the most common step between timestamps.

    Daily -> ``"D"`` (``"B"`` when no timestamp falls on a weekend and the data spans
    weekends), hourly -> ``"h"``, weekly -> ``"W-<weekday of the data>"`` (``"7D"``
    when series sit on different weekdays, so that each keeps its own); monthly,
    quarterly and yearly data on the period's last (first) day -> ``"ME"``, ``"QE"``,
    ``"YE"`` (``"MS"``, ``"QS"``, ``"YS"``), whose steps vary in length; any other step
    as a fixed frequency (``"15min"``, ``"2D"``).
    """
    if panel.empty:
        raise PanelError("the history has no rows; give it one row per series and timestamp (unique_id, ds, y)")
    steps = panel.groupby(UNIQUE_ID, sort=False)[DS].diff().dropna()
    if steps.empty:
        raise PanelError("cannot infer the frequency: every series has one row; pass --freq (e.g. D, W, h)")
    step = steps.mode().iloc[0]
    stamps = pd.DatetimeIndex(panel[DS])
    if step == pd.Timedelta(hours=1):
        return "h"
    if step == pd.Timedelta(days=1):
        return "B" if _business_days(stamps, steps) else "D"
    if step == pd.Timedelta(days=7):
        weekdays = stamps.day_of_week.unique()
        if len(weekdays) > 1:  # series on different weekdays: each keeps its own
            return "7D"
        return f"W-{stamps[0].day_name()[:3].upper()}"
    for shortest, longest, anchor, freq in _CALENDAR:
        if shortest <= step <= longest and bool(getattr(stamps, anchor).all()):
            return freq
    same_day = bool((stamps.day == stamps[0].day).all() or stamps.is_month_end.all())
    if same_day and steps.nunique() > 1:  # calendar steps off the usual anchors
        quarterly = step <= pd.Timedelta(days=92)
        if pd.Timedelta(days=89) <= step <= pd.Timedelta(days=366):
            for freq in _anchored(stamps)[:2] if quarterly else _anchored(stamps)[2:]:
                if all(pd.tseries.frequencies.to_offset(freq).is_on_offset(t) for t in stamps.unique()):
                    return freq
        if pd.Timedelta(days=28) <= step <= pd.Timedelta(days=31) and not stamps.is_month_end.all():
            raise PanelError(
                f"monthly data on day {stamps[0].day} of each month has no pandas frequency; date each month's "
                "row on its first day (2025-01-01, read as MS) or its last day (2025-01-31, ME)"
            )
    if step % pd.Timedelta(days=1) == pd.Timedelta(0):
        return f"{step.days}D"  # pandas 3 would spell 30 days "720h"
    return pd.tseries.frequencies.to_offset(step).freqstr


def _anchored(stamps: pd.DatetimeIndex) -> list[str]:
    """Quarterly and yearly frequencies anchored on the first stamp's month (``QS-FEB``,
    ``YS-JUL``, ``YE-JUN``): the candidates for data on other months than January."""
    month = pd.Timestamp(stamps[0]).strftime("%b").upper()
    quarter = pd.Timestamp(2001, (stamps[0].month - 1) % 3 + 1, 1).strftime("%b").upper()
    quarter_end = pd.Timestamp(2001, (stamps[0].month - 1) % 3 + 10, 1).strftime("%b").upper()
    return [f"QS-{quarter}", f"QE-{quarter_end}", f"YS-{month}", f"YE-{month}"]


def _business_days(stamps: pd.DatetimeIndex, steps: pd.Series) -> bool:
    """Daily data on weekdays only, over two weekends at least (Friday to Monday steps)."""
    weekend = stamps.day_of_week >= 5
    return not weekend.any() and int((steps == pd.Timedelta(days=3)).sum()) >= 2


#: Sub-daily data has a daily season of this many steps at most (5-minute data: 288); finer
#: data (minutes, seconds) has none: a season of thousands of steps is more than the
#: seasonal models' states and the seasonal lags can use.
MAX_DAILY_STEPS = 288


def season_length(freq: str) -> int:
    """Main season of a pandas frequency: 7 daily, 5 business-daily, 24 hourly, one day of
    steps for other sub-daily steps that divide a day (48 half-hourly, 96 for 15 minutes,
    12 for 2 hours; at most :data:`MAX_DAILY_STEPS`), 52 weekly (``7D`` too), 12 monthly,
    4 quarterly, else 1."""
    offset = pd.tseries.frequencies.to_offset(freq)
    name = offset.name.upper()
    if name == "D" and offset.n == 7:  # weekly series on different weekdays
        return 52
    step = fixed_step_ns(offset)
    day = int(pd.Timedelta(days=1).value)
    if 0 < step < day and day % step == 0 and day // step <= MAX_DAILY_STEPS:
        return day // step  # half-hourly data had a season of 1: no daily cycle in any model
    if offset.n != 1:
        return 1
    if name == "D":
        return 7
    if name == "B":
        return 5
    if name == "H":
        return 24
    if name.startswith("W"):
        return 52
    if name.startswith("M") and name != "MIN":
        return 12
    if name.startswith(("Q", "BQ")):
        return 4
    return 1


def season_is_a_year(freq: str) -> bool:
    """Whether :func:`season_length` of ``freq`` is a year's cycle (monthly, quarterly)."""
    offset = pd.tseries.frequencies.to_offset(freq)
    return season_length(freq) in (4, 12) and fixed_step_ns(offset) == 0


def fixed_step_ns(offset: pd.DateOffset) -> int:
    """Nanoseconds between consecutive timestamps of ``offset`` when fixed (hours, days,
    weeks, anchored or not); 0 for calendar offsets (months, quarters)."""
    if isinstance(offset, pd.offsets.Week):
        return int(pd.Timedelta(weeks=offset.n).value)
    try:
        return int(pd.Timedelta(offset).value)
    except (ValueError, TypeError):
        return 0


def weekly_anchor(panel: pd.DataFrame, freq: str) -> str:
    """A weekly ``freq`` the user gave (``W`` is pandas' W-SUN) anchored on the weekday the series of
    ``panel`` fall on: ``W-MON`` for Monday data, ``7D`` where series sit on different weekdays (each
    keeps its own, as :func:`infer_freq` has it); any other ``freq`` as it is. ``--freq W`` on Monday
    data passed the grid check (7-day steps) but dated every forecast on Sundays, a day before or six
    after the series' own, and scored no backtest step (no actual there: equal weights)."""
    offset = pd.tseries.frequencies.to_offset(freq)
    if not isinstance(offset, pd.offsets.Week) or offset.weekday is None or panel.empty:
        return freq
    stamps = pd.DatetimeIndex(panel[DS])
    weekdays = pd.unique(stamps.day_of_week)
    if len(weekdays) == 1 and weekdays[0] == offset.weekday:
        return freq
    week = pd.Timedelta(days=7)
    if not (stamps.normalize() == stamps).all() or not (panel.groupby(UNIQUE_ID, sort=False)[DS].diff().dropna()
                                                         % week == pd.Timedelta(0)).all():
        return freq  # not weeks (daily data, times of day): the grid check says so
    names = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
    count = str(offset.n) if offset.n > 1 else ""
    fitted = f"{count}W-{names[weekdays[0]]}" if len(weekdays) == 1 else f"{7 * offset.n}D"
    full = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    days = ", ".join(full[d] for d in sorted(weekdays))
    log.warning(
        "--freq %s means weeks on %ss, but the history's dates fall on %s: forecasting at %s instead, so that each "
        "series keeps its own weekday (pass --freq %s%s to say so)", freq, full[offset.weekday], days, fitted, fitted,
        "" if len(weekdays) == 1 else ", or leave --freq out,",
    )
    return fitted


def check_on_grid(panel: pd.DataFrame, freq: str, name: str = "history") -> None:
    """:class:`PanelError` when a row of a validated, sorted panel is off its series' ``freq``
    grid (the steps of ``freq`` from the series' first timestamp): the models would drop it."""
    offset = pd.tseries.frequencies.to_offset(freq)
    ds = pd.DatetimeIndex(panel[DS]).as_unit("ns")
    ids = panel[UNIQUE_ID].to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.array([], dtype=int)
    ends = np.r_[starts[1:], len(ids)]
    step = fixed_step_ns(offset)
    if step > 0:  # fixed steps (weeks included): one vectorised modulo
        first = np.repeat(ds.asi8[starts], ends - starts)
        off = (ds.asi8 - first) % step != 0
    else:
        off = np.zeros(len(ds), dtype=bool)
        for a, b in zip(starts, ends, strict=True):
            grid = pd.date_range(ds[a], ds[b - 1], freq=offset).as_unit("ns")
            off[a:b] = grid.get_indexer(ds[a:b]) < 0
    if off.any():
        rows = panel.loc[off, [UNIQUE_ID, DS]].head(3).to_dict("records")
        raise PanelError(
            f"{name} has {int(off.sum())} row(s) off the {freq} grid of their series (steps of {freq} from "
            f"the series' first timestamp), e.g. {rows}; the models would drop them. Put every timestamp of "
            f"a series on one grid (e.g. the same time of day), or pass the data's frequency with --freq"
        )


#: Below this share of its grid's steps filled, a history is on a coarser grid than the ``--freq`` given.
MIN_FILLED = 0.5


def check_fills_grid(panel: pd.DataFrame, freq: str, name: str = "history") -> None:
    """:class:`PanelError` when a ``freq`` given by the user is finer than the data's own: a
    validated, sorted panel that fills fewer than :data:`MIN_FILLED` of the ``freq`` steps its
    series span while its own (inferred) step is at least twice as long (daily rows with
    ``--freq h`` were forecast as hours, 23 of every 24 of them missing)."""
    step = fixed_step_ns(pd.tseries.frequencies.to_offset(freq))
    if step <= 0 or panel.empty:
        return
    ds = pd.DatetimeIndex(panel[DS]).as_unit("ns").asi8
    span = pd.Series(ds).groupby(panel[UNIQUE_ID].to_numpy(), sort=False).agg(["min", "max"])
    steps = int(((span["max"] - span["min"]) // step + 1).sum())
    if len(panel) >= MIN_FILLED * steps:
        return
    try:
        own = infer_freq(panel)
    except PanelError:
        return
    own_step = fixed_step_ns(pd.tseries.frequencies.to_offset(own))
    if own_step and own_step < 2 * step:
        return
    raise PanelError(
        f"{name} fills {len(panel)} of the {steps} steps of --freq {freq} its series span: its own frequency looks "
        f"like {own}. Pass --freq {own} (or leave --freq out); if the missing steps are real steps without "
        "orders, add them with y = 0"
    )


#: A series needs this many steps between its rows, all alike, before :func:`check_series_steps`
#: judges that it is on a coarser grid than the panel's.
MIN_COARSE_STEPS = 3


def check_series_steps(panel: pd.DataFrame, freq: str, name: str = "history") -> None:
    """:class:`PanelError` naming the series of a validated, sorted panel whose rows are all
    the same whole number (two or more) of ``freq`` steps apart: a weekly series in a daily
    panel was forecast as days (its next 3 "days" at the level of a week's total) and its
    six missing days of each week weighed on the others' models, without a word."""
    step = fixed_step_ns(pd.tseries.frequencies.to_offset(freq))
    if step <= 0 or panel.empty:
        return
    ds = pd.Series(pd.DatetimeIndex(panel[DS]).as_unit("ns").asi8, index=panel.index)
    diffs = ds.groupby(panel[UNIQUE_ID].to_numpy(), sort=False).diff().dropna()
    if diffs.empty:
        return
    by_series = diffs.groupby(panel.loc[diffs.index, UNIQUE_ID].to_numpy(), sort=False).agg(["min", "max", "size"])
    coarse = by_series[(by_series["size"] >= MIN_COARSE_STEPS) & (by_series["min"] == by_series["max"])
                       & (by_series["min"] >= 2 * step) & (by_series["min"] % step == 0)]
    if coarse.empty:
        return
    uid = coarse.index[0]
    gap = pd.Timedelta(int(coarse["min"].iloc[0]), unit="ns")
    whole_days = gap % pd.Timedelta(days=1) == pd.Timedelta(0)
    own = f"{gap.days}D" if whole_days else pd.tseries.frequencies.to_offset(gap).freqstr
    raise PanelError(
        f"{name}: {len(coarse)} series with every row {own} apart while the panel's frequency is {freq}, e.g. "
        f"{list(coarse.index[:5])} (series {uid!r} would be forecast in steps of {freq}). Forecast series of "
        f"different frequencies in separate files (each gets its own), or, if the steps between are real "
        "steps without orders, add them with y = 0"
    )
