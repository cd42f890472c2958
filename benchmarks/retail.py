"""The real panel of the benchmarks: daily orders of the UK and EU regions of an online
retailer (the Online Retail II data, data/online_retail_ii_orders.csv.gz: one row per order,
``ts`` and ``region``). Needs only pandas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fcplan.core.panel import DS, KEYS, UNIQUE_ID, Y

ORDERS = Path(__file__).resolve().parents[1] / "data" / "online_retail_ii_orders.csv.gz"
REGIONS = ("EU", "UK")


def retail_panel(path: Path = ORDERS) -> pd.DataFrame:
    """``unique_id, ds, y``: daily number of orders of the UK and EU regions, closed days as 0.

    The day of the export's last order is left out: the export stops during it (the data end
    on 2011-12-09 at 12:50, so that day holds about half a day's orders), and a plan priced
    on it would be charged idle hours for orders that were never recorded. The day is complete only once
    the data go past it."""
    orders = pd.read_csv(path, usecols=["ts", "region"])
    stamps = pd.to_datetime(orders["ts"])
    day = stamps.dt.normalize()
    complete = (day < day.max()) & orders["region"].isin(REGIONS)
    counts = orders[complete].assign(ds=day[complete]).groupby(["region", DS]).size().rename(Y).reset_index()
    days = pd.date_range(counts[DS].min(), counts[DS].max(), freq="D")
    full = pd.MultiIndex.from_product([list(REGIONS), days], names=[UNIQUE_ID, DS])
    panel = counts.rename(columns={"region": UNIQUE_ID}).set_index(KEYS)[Y].reindex(full, fill_value=0)
    return panel.astype("float64").reset_index()
