"""Frequencies of a panel: inferred from the data, and the main season of each."""

from __future__ import annotations

import pandas as pd

from fcplan.core.panel import DS, UNIQUE_ID, PanelError

_FREQ_ALIASES = {"D": "D", "H": "h", "h": "h", "W": "W"}


def infer_freq(panel: pd.DataFrame) -> str:
    """Infer a pandas frequency from the most common step between timestamps.

    Daily -> ``"D"``, hourly -> ``"h"``, weekly -> ``"W-<weekday of the data>"``.
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
    offset = pd.tseries.frequencies.to_offset(step)
    return offset.freqstr


def season_length(freq: str) -> int:
    """Main season of a pandas frequency: 7 daily, 24 hourly, 52 weekly, 12 monthly, else 1."""
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
    if name.startswith("M"):
        return 12
    return 1
