"""Frequencies of a panel: inferred from the data, and the main season of each."""

from __future__ import annotations

import pandas as pd

from fcplan.core.panel import DS, UNIQUE_ID, PanelError

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

    Daily -> ``"D"``, hourly -> ``"h"``, weekly -> ``"W-<weekday of the data>"``; monthly,
    quarterly and yearly data on the period's last (first) day -> ``"ME"``, ``"QE"``,
    ``"YE"`` (``"MS"``, ``"QS"``, ``"YS"``), whose steps vary in length; any other step
    as a fixed frequency (``"15min"``, ``"2D"``).
    """
    steps = panel.groupby(UNIQUE_ID, sort=False)[DS].diff().dropna()
    if steps.empty:
        raise PanelError("cannot infer the frequency: every series has one row; pass --freq (e.g. D, W, h)")
    step = steps.mode().iloc[0]
    if step == pd.Timedelta(hours=1):
        return "h"
    if step == pd.Timedelta(days=1):
        return "D"
    if step == pd.Timedelta(days=7):
        weekday = panel[DS].iloc[0].day_name()[:3].upper()
        return f"W-{weekday}"
    stamps = pd.DatetimeIndex(panel[DS])
    for shortest, longest, anchor, freq in _CALENDAR:
        if shortest <= step <= longest and bool(getattr(stamps, anchor).all()):
            return freq
    if step % pd.Timedelta(days=1) == pd.Timedelta(0):
        return f"{step.days}D"  # pandas 3 would spell 30 days "720h"
    return pd.tseries.frequencies.to_offset(step).freqstr


def season_length(freq: str) -> int:
    """Main season of a pandas frequency: 7 daily, 24 hourly, 52 weekly, 12 monthly,
    4 quarterly, else 1."""
    offset = pd.tseries.frequencies.to_offset(freq)
    name = offset.name.upper()
    if offset.n != 1:
        return 1
    if name == "D":
        return 7
    if name == "H":
        return 24
    if name.startswith("W"):
        return 52
    if name.startswith("M") and name != "MIN":
        return 12
    if name.startswith(("Q", "BQ")):
        return 4
    return 1
