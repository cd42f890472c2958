"""Drift watch: live actuals against the quantiles that were forecast for them.

Pure: the retrainer's runner feeds it the forecasts as issued (for each day,
the newest run made before that day's data was seen) and the actual daily
orders, and stores/publishes the alerts it returns.
"""

from __future__ import annotations

import pandas as pd
from scipy import stats

from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.core.quantiles import quantile_name

OUTSIDE_BAND = "outside_band"
COVERAGE_DRIFT = "coverage_drift"
ALERT_COLUMNS = [UNIQUE_ID, DS, "kind", "message"]


def central_band(levels: list[float], want: tuple[float, float]) -> tuple[float, float] | None:
    """The pair of forecast ``levels`` closest to the central band ``want`` (one level below
    0.5, one above); ``None`` when the levels do not straddle the median."""
    below = [q for q in levels if q < 0.5]
    above = [q for q in levels if q > 0.5]
    if not below or not above:
        return None
    return min(below, key=lambda q: abs(q - want[0])), min(above, key=lambda q: abs(q - want[1]))


def forecast_levels(frame: pd.DataFrame) -> list[float]:
    """The quantile levels of a forecast frame's columns (``"0.1"`` -> 0.1)."""
    levels = []
    for col in frame.columns:
        try:
            q = float(col)
        except (TypeError, ValueError):
            continue
        if 0 < q < 1:
            levels.append(q)
    return sorted(levels)


def check_drift(
    issued: pd.DataFrame,
    actuals: pd.DataFrame,
    band: tuple[float, float] = (0.1, 0.9),
    outer: tuple[float, float] = (0.05, 0.95),
    window: int = 7,
    min_inside: int | None = None,
) -> pd.DataFrame:
    """Alerts ``unique_id, ds, kind, message``.

    ``issued``: ``unique_id, ds`` and quantile columns (any set of levels) as
    forecast before each day; ``actuals``: ``unique_id, ds, y`` for complete days.
    Kinds: ``outside_band`` (the newest day fell outside the outer quantiles) and
    ``coverage_drift`` (over the last ``window`` days fewer than ``min_inside``
    actuals fell inside the ``band``; by default the count below which fewer than
    5 % of windows fall by chance: 4 of 7 for an 80 % band). ``band`` and ``outer`` are
    the nearest levels the forecast has (0.1/0.9 serve for both with levels
    0.1, 0.5, 0.9); with no level on one side of the median there is no check.
    """
    levels = forecast_levels(issued)
    found_band, found_outer = central_band(levels, band), central_band(levels, outer)
    if found_band is None or found_outer is None:
        raise ValueError(
            f"issued forecasts need a quantile level below and one above 0.5 for the drift check; "
            f"got levels {levels}: retrain with e.g. FCPLAN_FORECAST_QUANTILES=0.1,0.5,0.9"
        )
    band, outer = found_band, found_outer
    if min_inside is None:
        min_inside = int(stats.binom.ppf(0.05, window, band[1] - band[0]))
    names = list(dict.fromkeys(quantile_name(q) for q in (*band, *outer)))
    joined = actuals[[UNIQUE_ID, DS, Y]].merge(issued[[UNIQUE_ID, DS, *names]], on=[UNIQUE_ID, DS], how="inner")
    alerts: list[dict] = []
    lo, hi = (quantile_name(q) for q in band)
    olo, ohi = (quantile_name(q) for q in outer)
    for uid, grp in joined.sort_values(DS).groupby(UNIQUE_ID, sort=True):
        last = grp.iloc[-1]
        if not last[olo] <= last[Y] <= last[ohi]:
            side = "above" if last[Y] > last[ohi] else "below"
            alerts.append(
                {
                    UNIQUE_ID: uid,
                    DS: last[DS],
                    "kind": OUTSIDE_BAND,
                    "message": f"{last[DS]:%a %d %b}: {last[Y]:.0f} orders, {side} the forecast "
                    f"{outer[0]:.0%}-{outer[1]:.0%} range {last[olo]:.0f}-{last[ohi]:.0f}",
                }
            )
        recent = grp.tail(window)
        if len(recent) == window:
            inside = int(((recent[Y] >= recent[lo]) & (recent[Y] <= recent[hi])).sum())
            if inside < min_inside:
                bias = "above" if (recent[Y] > recent[hi]).sum() > (recent[Y] < recent[lo]).sum() else "below"
                alerts.append(
                    {
                        UNIQUE_ID: uid,
                        DS: last[DS],
                        "kind": COVERAGE_DRIFT,
                        "message": f"only {inside} of the last {window} days inside the {band[0]:.0%}-{band[1]:.0%} "
                        f"band (expected about {window * (band[1] - band[0]):.0f}); actuals mostly {bias} it: "
                        "demand has shifted, check promotions or retrain",
                    }
                )
    return pd.DataFrame(alerts, columns=ALERT_COLUMNS)


def as_issued(runs: pd.DataFrame) -> pd.DataFrame:
    """From forecasts of many runs (``unique_id, ds, data_end`` + quantiles), keep
    for each series and day the newest run made before that day (``data_end < ds``)."""
    made_before = runs[pd.to_datetime(runs["data_end"]) < pd.to_datetime(runs[DS])]
    newest = made_before.sort_values("data_end").groupby([UNIQUE_ID, DS], as_index=False).tail(1)
    return newest.drop(columns=["data_end"]).reset_index(drop=True)
