"""Silent feeds on real data: false alarms per center-week and detection delay of the silence watch,
peer = the hourly drift monitor in the same run.

Data: ``data/online_retail_ii_orders.csv.gz`` (a UK online retailer's 41,943 real orders, 2009-12 to
2011-12; see data/README.md), one "center" per region: UK (~52 orders a day), EU (~4.4), ROW (~0.35).
Closed days as its manager would write them in the centers file: Saturdays (``closed_weekdays``),
England's public holidays (``closed_on_holidays``, ``holiday_country = "GB-ENG"``) and, with ``--closed full``
(the default), the Christmas shutdowns and Easter Sundays (``closed_dates``, see :data:`SHUTDOWNS`);
``--closed holidays`` without those dates, ``--closed none`` tells the watch nothing. Hours after the
last order of the data are not judged.

The champion is a plain rolling forecast issued before each local day: the negative binomial of the
same weekday over the 8 weeks before (mean and variance), its quantiles at the default levels. It
knows the calendar only through that history (Saturdays, mostly empty, get a low forecast; a holiday
or the Christmas shutdown gets an ordinary day's): the closed days are the watch's to know. The
intraday profile is learned from the 28 days before (as the
drift loop does). Both monitors see every hour from 2010-02-01 to 2011-12-09:

* false alarms: every alarm on the real feed counts (nothing was silent), per center and pooled, per
  center-week; the peer resets on each alarm (as the retrain it triggers would), the watch clears at
  the next order;
* injected silence: ``--trials`` random open business hours (weekdays 08:00-16:00) from 2010-03 to
  2011-11; from then on the UK center (``center``) or every center (``feed``) has no orders. Delay:
  hours from the silence's start to the end of the hour that alarms (the watch's ``silent_center`` of
  UK, resp. ``feed_silent``; the peer's first alarm of UK, resp. of any center), missed within
  ``--horizon-days``. The drift loop adds its ``settle_hours`` (1) to both.

Last line: one JSON object. Run with OMP_NUM_THREADS=1; about two minutes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from fcplan.core.settings import DEFAULT_QUANTILES
from fcplan.models.drift_monitor import OPEN, DriftMonitor
from fcplan.models.sequential import day_distribution, intraday_shares
from fcplan.models.silence import ALPHA, SilenceWatch
from fcplan.planner.centers import Centers, parse_centers

DATA = Path(__file__).resolve().parents[1] / "data" / "online_retail_ii_orders.csv.gz"
CENTERS = ("UK", "EU", "ROW")
FIRST = pd.Timestamp("2010-02-01")
#: Closed dates a manager lists beyond Saturdays and England's holidays: the Christmas shutdowns and
#: Easter Sundays.
SHUTDOWNS = [*pd.date_range("2009-12-23", "2010-01-04"), *pd.date_range("2010-12-23", "2011-01-04"),
             *pd.to_datetime(["2010-04-04", "2011-04-24"])]


def hourly_panel() -> pd.DataFrame:
    """Orders per region and local hour, zero-filled: index hours, one column per center."""
    orders = pd.read_csv(DATA, usecols=["ts", "region"], parse_dates=["ts"])
    counts = orders.groupby([orders["ts"].dt.floor("h"), "region"]).size().unstack("region", fill_value=0)
    hours = pd.date_range(counts.index.min().normalize(), counts.index.max().normalize() + pd.Timedelta(hours=23),
                          freq="h")
    return counts.reindex(hours, fill_value=0).reindex(columns=list(CENTERS), fill_value=0).astype(float)


def closed_centers(how: str) -> Centers:
    """The centers file its manager would write (``how``: ``full`` or ``holidays``, see the module docstring)."""
    table = {"closed_weekdays": ["Sat"], "closed_on_holidays": True, "holiday_country": "GB-ENG",
             "timezone": "Europe/London"}
    if how == "full":
        table["closed_dates"] = [d.date() for d in SHUTDOWNS]
    return parse_centers({"defaults": table})


def closed_days(days: pd.DatetimeIndex, how: str) -> np.ndarray:
    return closed_centers(how)["UK"].closed(days) if how != "none" else np.zeros(len(days), bool)


def forecasts(hourly: pd.DataFrame, shut: np.ndarray, levels: list[float]) -> dict:
    """``(center, day) -> (quantiles dict, (mean, shape))`` of the rolling same-weekday forecast."""
    daily = hourly.resample("D").sum()
    days = daily.index
    out = {}
    for c in CENTERS:
        y = daily[c].to_numpy()
        for i, day in enumerate(days):
            if day < FIRST:
                continue
            if shut[i]:
                mean, var = 0.0, 0.0
            else:
                past = [y[j] for j in range(i - 7, i - 57, -7) if j >= 0 and not shut[j]]
                mean, var = (float(np.mean(past)), float(np.var(past, ddof=1))) if len(past) >= 3 else (0.0, 0.0)
            if mean <= 0:
                values = [0.0] * len(levels)
            elif var <= mean:
                values = list(stats.poisson.ppf(levels, mean))
            else:
                r = mean**2 / (var - mean)
                values = list(stats.nbinom.ppf(levels, r, r / (r + mean)))
            quantiles = dict(zip(levels, values, strict=True))
            out[(c, day)] = (quantiles, day_distribution(levels, values))
    return out


def profiles(hourly: pd.DataFrame) -> dict:
    """``(center, day) -> 24 shares`` learned from the 28 days before."""
    out = {}
    hours = hourly.index.hour.to_numpy()
    for day in pd.date_range(FIRST, hourly.index.max().normalize(), freq="D"):
        window = (hourly.index >= day - pd.Timedelta(days=28)) & (hourly.index < day)
        for c in CENTERS:
            out[(c, day)] = intraday_shares(hours[window], hourly[c].to_numpy()[window])
    return out


def run(hourly: pd.DataFrame, fc: dict, shares: dict, shut_by_day: dict, first: pd.Timestamp, last: pd.Timestamp,
        log_alpha: float, peer: bool = True) -> dict[str, list[pd.Timestamp]]:
    """Both monitors over ``[first, last)``: alarm hour ends, keyed ``silence:<c>``, ``feed``, ``peer:<c>``."""
    watch, monitor, version = SilenceWatch(log_alpha), DriftMonitor(), dict.fromkeys(CENTERS, 0)
    alarms: dict[str, list[pd.Timestamp]] = {}
    span = hourly.loc[first : last - pd.Timedelta(hours=1)]
    for hour, row in zip(span.index, span.to_numpy(), strict=True):
        day = hour.normalize()
        end = hour + pd.Timedelta(hours=1)
        for c, count in zip(CENTERS, row, strict=True):
            quantiles, dist = fc[(c, day)]
            share = float(shares[(c, day)][hour.hour])
            for e in watch.observe(c, hour, count, dist, share, "v", shut_by_day[day]):
                if e.status == OPEN:
                    alarms.setdefault(f"silence:{c}", []).append(end)
            if peer:
                events = monitor.observe(c, hour, count, quantiles, shares[(c, day)], f"v{version[c]}")
                if any(e.status == OPEN for e in events):
                    alarms.setdefault(f"peer:{c}", []).append(end)
                    version[c] += 1
        for e in watch.feed(list(CENTERS), hour):
            if e.status == OPEN:
                alarms.setdefault("feed", []).append(end)
    return alarms


def delays_summary(delays: list[float], horizon_h: float) -> dict:
    d = np.asarray(delays, dtype=float)
    seen = d[d <= horizon_h]
    return {
        "detection_delay_h_median": float(np.median(d)) if seen.size * 2 > d.size else None,
        "detection_delay_h_p90": float(np.percentile(d, 90)) if np.isfinite(np.percentile(d, 90)) else None,
        "detected_within_6h": int((d <= 6).sum()),
        "detected_within_24h": int((d <= 24).sum()),
        "missed": int(d.size - seen.size),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--horizon-days", type=int, default=7)
    parser.add_argument("--closed", choices=("full", "holidays", "none"), default="full")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    levels = list(DEFAULT_QUANTILES)
    hourly = hourly_panel()
    days = pd.date_range(hourly.index.min(), hourly.index.max().normalize(), freq="D")
    shut = closed_days(days, args.closed)
    shut_by_day = dict(zip(days, shut, strict=True))
    fc = forecasts(hourly, closed_days(days, "none"), levels)  # the forecast knows only the history
    shares = profiles(hourly)
    last = hourly.index[hourly.sum(axis=1).to_numpy() > 0].max() + pd.Timedelta(hours=1)
    weeks = (last - FIRST) / pd.Timedelta(days=7)
    result: dict = {"center_weeks": round(weeks * len(CENTERS), 1), "closed": args.closed}
    stable: dict = {}
    for alpha in (1e-4, ALPHA, 1e-8):
        alarms = run(hourly, fc, shares, shut_by_day, FIRST, last, float(np.log(alpha)), peer=alpha == ALPHA)
        key = f"silence_alpha_{alpha:g}"
        stable[key] = {c: len(alarms.get(f"silence:{c}", [])) for c in CENTERS} | {"feed": len(alarms.get("feed", []))}
        stable[key]["per_center_week"] = round(sum(stable[key][c] for c in CENTERS) / (weeks * len(CENTERS)), 4)
        stable[key]["when"] = [f"{c} {h:%Y-%m-%d %H:00}" for c in CENTERS for h in alarms.get(f"silence:{c}", [])][:12]
        if alpha == ALPHA:
            stable["peer"] = {c: len(alarms.get(f"peer:{c}", [])) for c in CENTERS}
            peer_total = sum(stable["peer"][c] for c in CENTERS)
            stable["peer"]["per_center_week"] = round(peer_total / (weeks * len(CENTERS)), 4)
    result["false_alarms"] = stable
    print("false_alarms", json.dumps(stable))
    rng = np.random.default_rng(args.seed)
    business = [h for h in hourly.loc["2010-03-01":"2011-11-20"].index
                if 8 <= h.hour <= 16 and not shut_by_day[h.normalize()] and h.dayofweek < 5]
    horizon_h = args.horizon_days * 24.0
    for case in ("center", "feed"):
        mine, peer, pre = [], [], 0
        for start in rng.choice(np.array(business, dtype="datetime64[ns]"), args.trials, replace=False):
            start = pd.Timestamp(start)
            silent = hourly.copy()
            cols = ["UK"] if case == "center" else list(CENTERS)
            silent.loc[start:, cols] = 0.0
            first = start - pd.Timedelta(days=7)
            alarms = run(silent, fc, shares, shut_by_day, first, start + pd.Timedelta(days=args.horizon_days),
                         float(np.log(ALPHA)))
            key = "silence:UK" if case == "center" else "feed"
            pre += sum(h <= start for h in alarms.get(key, []))
            after = [h for h in alarms.get(key, []) if h > start]
            mine.append((after[0] - start) / pd.Timedelta(hours=1) if after else np.inf)
            peers = [h for c in cols for h in alarms.get(f"peer:{c}", []) if h > start]
            peer.append((min(peers) - start) / pd.Timedelta(hours=1) if peers else np.inf)
        result[case] = {"trials": args.trials, "watch": delays_summary(mine, horizon_h),
                        "peer": delays_summary(peer, horizon_h), "watch_alarms_before_the_silence": pre}
        print(case, json.dumps(result[case]))
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
