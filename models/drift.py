"""Drift watch: live actuals against the quantiles that were forecast for them.

Pure: the retrainer's runner feeds it the forecasts as issued (for each day,
the newest run made before that day's data was seen) and the actual daily
orders, and stores/publishes the alerts it returns.
"""

from __future__ import annotations

import pandas as pd

from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.core.quantiles import quantile_name

OUTSIDE_BAND = "outside_band"
COVERAGE_DRIFT = "coverage_drift"
ALERT_COLUMNS = [UNIQUE_ID, DS, "kind", "message"]


def check_drift(
    issued: pd.DataFrame,
    actuals: pd.DataFrame,
    band: tuple[float, float] = (0.1, 0.9),
    outer: tuple[float, float] = (0.05, 0.95),
    window: int = 7,
    min_inside: int = 4,
) -> pd.DataFrame:
    """Alerts ``unique_id, ds, kind, message``.

    ``issued``: ``unique_id, ds`` and quantile columns (at least the ``band`` and
    ``outer`` levels) as forecast before each day; ``actuals``: ``unique_id, ds, y``
    for complete days. Kinds: ``outside_band`` (the newest day fell outside the
    outer quantiles) and ``coverage_drift`` (over the last ``window`` days fewer
    than ``min_inside`` actuals fell inside the ``band``: with an 80% band that
    happens by chance about 3% of the time).
    """
    names = [quantile_name(q) for q in (*band, *outer)]
    missing = [c for c in names if c not in issued.columns]
    if missing:
        raise ValueError(f"issued forecasts lack quantile column(s) {missing}; retrain with those quantiles")
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
