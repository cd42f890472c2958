"""The worker's ``feed_stopped`` on real arrival times: false alarms per week and detection delay of the
rate-aware :class:`fcplan.streams.feed_watch.FeedWatch`, peer = the fixed rule (no order read for
``--minutes``, whatever the hour) in the same replay. ``--closed full`` tells the rate-aware watches the
closed days of ``benchmarks/silence.py``'s centers file (Saturdays, England's holidays, the Christmas
shutdowns), as ``fcplan worker`` is told them by the centers file; ``none`` (default) tells nothing.

Data: ``data/online_retail_ii_orders.csv.gz`` (41,943 real orders, 2009-12 to 2011-12, minute stamps taken
as UTC), one worker reading all three "centers" (regions UK, EU, ROW). The replay feeds each minute's
orders to the watches as one fetch (``fetched``, then ``read`` of their centers) and checks every minute
with the broker up; every hour the rate-aware watches get the rates :func:`~fcplan.streams.feed_watch.rates_from_index`
computes from the hourly counts before that hour (what ``load_feed_rates`` reads from ``center_hourly``).
The replay starts at the data's first order, so the first day (no rates: the fixed rule) is in it.

* false alarms: every ``feed_stopped`` opened on the real feed (nothing stopped), per week, split by
  whether its silence spanned a 03:00 UTC (``overnight``: the night's gap) or not, for several ``alpha``;
* injected stops: ``--trials`` random starts in business hours (weekdays 09:00-16:00) and at night
  (21:00-04:00), 2010-03 to 2011-11: no order from then on (nor in the hourly counts). The replay starts
  two days before (before the last order, for a stop in the Christmas shutdown); delay = hours from the
  stop to the first alarm opened at or after it (an alarm open at the stop counts 0, reported as
  ``open_at_stop``), missed within ``--horizon-days``.

Last line: one JSON object. Run with OMP_NUM_THREADS=1; about a minute.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
from silence import closed_centers

from fcplan.models.silence import ALPHA
from fcplan.streams.feed_watch import OPEN, ClosedHour, FeedWatch, rates_from_index

DATA = Path(__file__).resolve().parents[1] / "data" / "online_retail_ii_orders.csv.gz"
ALPHAS = (1e-4, ALPHA, 1e-8)


def arrivals() -> pd.DataFrame:
    orders = pd.read_csv(DATA, usecols=["ts", "region"], parse_dates=["ts"])
    orders["t"] = orders["ts"].dt.as_unit("s").astype("int64")  # pandas 3 reads "us", pandas 2 "ns"
    return orders.sort_values("t")[["t", "region"]].reset_index(drop=True)


def replay(orders: pd.DataFrame, start: float, end: float, minutes: float, alphas: tuple,
           closed: ClosedHour | None = None) -> dict[str, list]:
    """Replay ``orders`` (``t`` epoch seconds, ``region``) over ``[start, end)``: ``name -> [(opened at, since)]``
    of the fixed rule (``fixed``) and the rate-aware watch at each alpha (``rate_<alpha>``, told the centers'
    ``closed`` hours), each ``[opened at, since, cleared at]``."""
    hourly = orders.assign(h=orders["t"] // 3600).groupby(["h", "region"]).size().reset_index(name="n")
    h_index, h_centers, h_orders = (hourly["h"].to_numpy(), hourly["region"].to_numpy(dtype=object),
                                    hourly["n"].to_numpy(dtype=float))
    watches = {"fixed": FeedWatch(minutes * 60.0)}
    watches |= {f"rate_{a:g}": FeedWatch(minutes * 60.0, alpha=a, closed=closed) for a in alphas}
    alarms: dict[str, list] = {k: [] for k in watches}
    window = orders[(orders["t"] >= start) & (orders["t"] < end)]
    by_minute = window.groupby(window["t"] // 60 * 60)["region"].agg(lambda r: sorted(set(r)))
    counts = window.groupby(window["t"] // 60 * 60).size()
    due = dict(zip(by_minute.index.tolist(), zip(counts.tolist(), by_minute.tolist(), strict=True), strict=True))
    t = float(math.floor(start / 60) * 60)
    while t < end:
        if t % 3600 == 0:
            lo, hi = np.searchsorted(h_index, [t / 3600 - 5 * 168, t / 3600])
            rates = rates_from_index(h_centers[lo:hi], h_index[lo:hi], h_orders[lo:hi], t)
            for name, w in watches.items():
                if name != "fixed":
                    w.set_rates(rates)
        for name, w in watches.items():
            told = w.check(t, True)
            if told is not None and told["status"] == OPEN:
                alarms[name].append([t, told["window_start"].timestamp(), math.inf])
        got = due.get(int(t))
        if got is not None:
            n, regions = got
            for name, w in watches.items():
                if w.fetched(n, t) is not None:
                    alarms[name][-1][2] = t  # cleared: the silence's end
                if name != "fixed":
                    w.read(regions, t)
        t += 60.0
    return alarms


def overnight(since: float, cleared: float) -> bool:
    """Whether the silence ``[since, cleared)`` spans a 03:00 UTC: the night's gap."""
    first = math.ceil((since - 3 * 3600) / 86400.0) * 86400.0 + 3 * 3600
    return first < cleared


def delays_summary(d: list[float], open_at_stop: int, horizon_h: float) -> dict:
    a = np.asarray(d, dtype=float)
    seen = a[a <= horizon_h]
    return {
        "delay_h_median": round(float(np.median(a)), 2) if seen.size * 2 > a.size else None,
        "delay_h_p90": round(float(np.percentile(a, 90)), 2) if np.isfinite(np.percentile(a, 90)) else None,
        "delay_h_max_seen": round(float(seen.max()), 2) if seen.size else None,
        "within_1h": int((a <= 1).sum()), "within_6h": int((a <= 6).sum()), "within_24h": int((a <= 24).sum()),
        "missed": int(a.size - seen.size), "open_at_stop": open_at_stop,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--horizon-days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--closed", choices=("none", "holidays", "full"), default="none",
                        help="closed days the worker is told (benchmarks/silence.py's centers file); none: no file")
    args = parser.parse_args()
    closed = None if args.closed == "none" else closed_centers(args.closed).closed_hours()
    started = time.perf_counter()
    orders = arrivals()
    first, last = float(orders["t"].iloc[0]), float(orders["t"].iloc[-1]) + 60.0
    weeks = (last - first) / (7 * 86400.0)
    alarms = replay(orders, first, last, args.minutes, ALPHAS, closed)
    false = {}
    for name, told in alarms.items():
        nights = sum(overnight(since, cleared) for _, since, cleared in told)
        first_week = sum(t < first + 7 * 86400 for t, _, _ in told)
        false[name] = {"alarms": len(told), "per_week": round(len(told) / weeks, 3), "overnight": nights,
                       "within_a_day": len(told) - nights, "in_first_week": first_week,
                       "when": [pd.Timestamp(t, unit="s").strftime("%Y-%m-%d %H:%M")
                                for t, _, _ in told][:8 if name == "fixed" else 30]}
    result: dict = {"weeks": round(weeks, 1), "orders": len(orders), "minutes": args.minutes, "alpha": ALPHA,
                    "closed": args.closed,
                    "false_alarms": false}
    print("false_alarms", json.dumps(false))
    rng = np.random.default_rng(args.seed)
    hours = pd.date_range("2010-03-01", "2011-11-20", freq="h")
    kinds = {
        "business": [h for h in hours if h.day_of_week < 5 and 9 <= h.hour <= 16],
        "night": [h for h in hours if h.hour >= 21 or h.hour <= 4],
    }
    horizon_h = args.horizon_days * 24.0
    names = ("fixed", f"rate_{ALPHA:g}")
    for kind, pool in kinds.items():
        delays: dict[str, list[float]] = {n: [] for n in names}
        at_stop = dict.fromkeys(names, 0)
        for pick in rng.choice(len(pool), args.trials, replace=False):
            stop = pool[pick].timestamp() + float(rng.integers(0, 60)) * 60.0
            cut = orders[orders["t"] < stop]
            last_order = float(cut["t"].iloc[-1])  # a stop inside a shutdown: the replay starts before it
            runs = replay(cut, min(stop, last_order) - 2 * 86400.0, stop + horizon_h * 3600.0, args.minutes, (ALPHA,),
                          closed)
            for n in names:
                opened = [(t, since) for t, since, _ in runs[n] if t >= stop or since >= last_order]
                # open at the stop: opened before it, on the gap the stop continues (its since is the last order)
                before = [t for t, since in opened if t < stop]
                at_stop[n] += bool(before)
                after = [t for t, _ in opened if t >= stop]
                delays[n].append(0.0 if before else (after[0] - stop) / 3600.0 if after else math.inf)
        result[kind] = {"trials": args.trials} | {
            n: delays_summary(delays[n], at_stop[n], horizon_h) for n in names}
        print(kind, json.dumps(result[kind]))
    result["seconds_load_bound"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
