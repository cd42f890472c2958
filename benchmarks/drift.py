"""Drift alerts on the simulator: false alarms and detection delay, new monitor vs the old rules.

The champion is the simulator's own daily distribution (perfectly calibrated
quantiles: the exact negative binomial of each center-day), so every alarm on
stable days is false. Centers from ``make_centers``; no promotions (a flash
sale starting mid-day is a within-day change the monitor would flag: it would
need promotion-aware hourly expectations). The intraday profile is learned from
the ``--learn-days`` days before monitoring starts.

* ``monitor``: :class:`fcplan.models.drift_monitor.DriftMonitor` fed every hour; an
  alarm resets the center (as the retrain it triggers would) and counts once.
* ``baseline``: the two whole-day rules of :func:`fcplan.models.drift.check_drift`
  (newest day outside 5-95 %; fewer than 4 of 7 days inside 10-90 %), run after
  each complete local day; each stored alert counts (the retrainer stores one
  per center, day and kind). Its delay is counted to the end of the local day
  (the retrain interval after it is not added).

(a) ``--days`` stable days x ``--centers`` centers: false alarms per center-year,
for ``--seed`` at the usual sizes and for ``--stable-seeds`` further seeds with
small (``scale`` 0.1) and large (``scale`` 5) centers; the headline figure pools
every stable case (per-case figures in ``stable`` and ``stable_by_case``).
(b) ``--trials`` trials each of a +40 % level shift, a -30 % level shift and a
weekday-pattern change (the center's weekday multipliers reversed, Mon <-> Sun),
each on a random center at a random hour 7-14 days into monitoring; detection
delay in hours (from the shift's start to the end of the hour that alarms) and
shifts missed within ``--horizon-days``. ``known_change``: a test that knows
the shift's hour and size (likelihood ratio from that hour at the monitor's
threshold minus log 2): no monitor that must find the hour can beat it by much.
``known_change_by_level``: the same oracle at lower alarm levels (log A), down to
levels at which any monitor that must find the hour would raise tens of false
alarms a year (its bound is about 365 / A a year per test): how low the level must go
before even the oracle's p90 delay reaches a given target.

Last line: one JSON object. Run with OMP_NUM_THREADS=1; about four minutes.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
from scipy import stats

from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.core.quantiles import quantile_columns
from fcplan.core.settings import DEFAULT_QUANTILES
from fcplan.models.drift import check_drift
from fcplan.models.drift_monitor import OPEN, DriftMonitor
from fcplan.models.sequential import change_llr, day_distribution, intraday_shares
from fcplan.simulator import expected_daily, make_centers
from fcplan.simulator.demand import CenterProfile
from fcplan.simulator.hourly import sample_hourly_counts
from fcplan.simulator.shifts import Shift

HOURS_PER_YEAR = 8766.0
#: Alarm levels (log A) of the oracle sweep: log(365.25) (one test, one start a day,
#: 1 false alarm a year), then lower; at log A = 2 a monitor's bound is ~50 a year.
ORACLE_LEVELS = (float(np.log(365.25)), 4.0, 3.0, 2.0)
ORACLE_KEYS = ("detection_delay_h_median", "detection_delay_h_p90", "detected_within_24h")
START = pd.Timestamp("2025-09-01")
TZ = "Asia/Seoul"


def champion_quantiles(
    centers: list[CenterProfile], start: pd.Timestamp, days: int, levels: list[float]
) -> pd.DataFrame:
    """Exact daily quantiles (no shift): ``unique_id, ds`` + one column per level."""
    truth = expected_daily(centers, [], start, start + pd.Timedelta(days=days), TZ)
    r = truth["dispersion"].to_numpy()[:, None]
    mean = truth["mean"].to_numpy()[:, None]
    values = stats.nbinom.ppf(np.asarray(levels)[None, :], r, r / (r + mean))
    return pd.concat([truth[[UNIQUE_ID, DS]], pd.DataFrame(values, columns=quantile_columns(levels))], axis=1)


def learned_profiles(centers: list[CenterProfile], start: pd.Timestamp, learn_days: int, seed: int) -> dict:
    hist = sample_hourly_counts(centers, [], start - pd.Timedelta(days=learn_days), start, seed, TZ)
    return {
        uid: intraday_shares(grp[DS].dt.hour.to_numpy(), grp[Y].to_numpy())
        for uid, grp in hist.groupby(UNIQUE_ID, sort=False)
    }


def run_monitor(
    hourly: pd.DataFrame, quantiles: pd.DataFrame, profiles: dict, levels: list[float], after: dict | None = None
) -> dict[str, list[pd.Timestamp]]:
    """Feed every hour; returns each center's alarm hours (alarm resets the center).
    ``after``: per center, ignore alarms before this instant except to count them."""
    monitor = DriftMonitor()
    cols = quantile_columns(levels)
    by_day = {
        (u, d): dict(zip(levels, row, strict=True))
        for u, d, *row in quantiles[[UNIQUE_ID, DS, *cols]].itertuples(index=False)
    }
    alarms: dict[str, list[pd.Timestamp]] = {}
    for uid, grp in hourly.groupby(UNIQUE_ID, sort=False):
        version = 0
        for hour, count in zip(grp[DS], grp[Y], strict=True):
            events = monitor.observe(uid, hour, count, by_day[(uid, hour.normalize())], profiles[uid], f"v{version}")
            if any(e.status == OPEN for e in events):
                alarms.setdefault(uid, []).append(hour + pd.Timedelta(hours=1))
                version += 1
    return alarms


def run_baseline(hourly: pd.DataFrame, quantiles: pd.DataFrame) -> pd.DataFrame:
    """Alerts of the old rules, run after each complete day (``unique_id, ds, kind``)."""
    daily = hourly.assign(**{DS: hourly[DS].dt.normalize()}).groupby([UNIQUE_ID, DS], as_index=False)[Y].sum()
    found = []
    for day in sorted(daily[DS].unique()):
        alerts = check_drift(quantiles[quantiles[DS] <= day], daily[daily[DS] <= day])
        found.append(alerts[alerts[DS] == day])
    return pd.concat(found, ignore_index=True)


def stable(
    args: argparse.Namespace, levels: list[float], seed: int | None = None, scale: float = 1.0, baseline: bool = True
) -> dict:
    seed = args.seed if seed is None else seed
    centers = make_centers(args.centers, seed=seed, scale=scale)
    hourly = sample_hourly_counts(centers, [], START, START + pd.Timedelta(days=args.days), seed, TZ)
    quantiles = champion_quantiles(centers, START, args.days, levels)
    profiles = learned_profiles(centers, START, args.learn_days, seed)
    years = args.centers * args.days / 365.25
    alarms = run_monitor(hourly, quantiles, profiles, levels)
    out = {"center_years": round(years, 2), "monitor_alarms": sum(map(len, alarms.values()))}
    out["monitor_false_alarms_per_center_year"] = round(out["monitor_alarms"] / years, 3)
    if baseline and {0.05, 0.1, 0.9, 0.95} <= set(levels):
        base = run_baseline(hourly, quantiles)
        out["baseline_alerts"] = len(base)
        out["baseline_false_alarms_per_center_year"] = round(len(base) / years, 2)
        out["baseline_by_kind"] = base["kind"].value_counts().to_dict()
    return out


def known_change_delay(
    grp: pd.DataFrame, shares: np.ndarray, dist: dict, start: pd.Timestamp, theta: float, threshold: float
) -> float:
    """Hours until the likelihood ratio from the true start, at the true size, crosses ``threshold``."""
    carry = 0.0
    for day, hours in grp[grp[DS] >= start.normalize()].groupby(grp[DS].dt.normalize()):
        mean, shape = dist[day]
        tau = int((hours[DS] < start).sum())
        x = np.r_[0.0, np.cumsum(hours[Y].to_numpy())]
        m = np.r_[0.0, np.cumsum(mean * shares[hours[DS].dt.hour.to_numpy()])]
        for t in range(tau + 1, len(x)):
            if carry + change_llr(x[: t + 1], m[: t + 1], shape, theta)[tau] > threshold:
                return (hours[DS].iloc[t - 1] + pd.Timedelta(hours=1) - start) / pd.Timedelta(hours=1)
        carry += change_llr(x, m, shape, theta)[tau]
    return np.inf


def trials(args: argparse.Namespace, case: str, levels: list[float]) -> dict:
    rng = np.random.default_rng([args.seed, {"up40": 1, "down30": 2, "weekday": 3}[case]])
    panel = make_centers(args.centers, seed=args.seed)
    days = 14 + args.horizon_days
    delays, base_delays, known, pre_alarms = [], [], [], 0
    threshold = DriftMonitor().threshold - np.log(2)
    by_level: dict[float, list[float]] = {level: [] for level in ORACLE_LEVELS}
    for _ in range(args.trials):
        center = panel[int(rng.integers(len(panel)))]
        start = (START + pd.Timedelta(hours=int(rng.integers(7 * 24, 14 * 24)))).tz_localize(TZ)
        factor, weekly = {"up40": (1.4, None), "down30": (0.7, None)}.get(case, (1.0, None))
        if case == "weekday":
            weekly = tuple(np.asarray(center.weekly)[::-1] / np.asarray(center.weekly))
        shift = Shift(center.center_id, start.to_pydatetime(), factor, weekly)
        hourly = sample_hourly_counts([center], [], START, START + pd.Timedelta(days=days), args.seed, TZ, [shift])
        quantiles = champion_quantiles([center], START, days, levels)
        profiles = learned_profiles([center], START, args.learn_days, args.seed)
        local_start = start.tz_localize(None)
        hits = run_monitor(hourly, quantiles, profiles, levels).get(center.center_id, [])
        pre_alarms += sum(h <= local_start for h in hits)
        after = [h for h in hits if h > local_start]
        delays.append((after[0] - local_start) / pd.Timedelta(hours=1) if after else np.inf)
        base = run_baseline(hourly, quantiles)
        base_days = sorted(d for d in base[DS] if d >= local_start.normalize())
        base_delays.append(
            (base_days[0] + pd.Timedelta(days=1) - local_start) / pd.Timedelta(hours=1) if base_days else np.inf
        )
        if weekly is None:
            dist = {
                d: day_distribution(levels, row)
                for d, *row in quantiles[[DS, *quantile_columns(levels)]].itertuples(index=False)
            }
            shares = profiles[center.center_id]
            known.append(known_change_delay(hourly, shares, dist, local_start, factor, threshold))
            for level, found in by_level.items():
                found.append(known_change_delay(hourly, shares, dist, local_start, factor, level))
    out = {"trials": args.trials, "pre_shift_false_alarms": pre_alarms, **summary(delays, args.horizon_days)}
    out["baseline"] = summary(base_delays, args.horizon_days)
    if known:
        out["known_change"] = summary(known, args.horizon_days)
        out["known_change_by_level"] = {
            f"{level:g}": {k: summary(found, args.horizon_days)[k] for k in ORACLE_KEYS}
            for level, found in by_level.items()
        }
    return out


def summary(delays: list[float], horizon_days: int) -> dict:
    d = np.asarray(delays, dtype=float)
    seen = d[np.isfinite(d) & (d <= horizon_days * 24)]
    missed = int(d.size - seen.size)
    full = np.where(np.isfinite(d), d, np.inf)
    return {
        "detection_delay_h_median": float(np.median(full)) if seen.size else None,
        "detection_delay_h_p90": float(np.percentile(full, 90)) if np.isfinite(np.percentile(full, 90)) else None,
        "detected_within_12h": int((d <= 12).sum()),
        "detected_within_24h": int((d <= 24).sum()),
        "missed": missed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--centers", type=int, default=50)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--learn-days", type=int, default=28)
    parser.add_argument("--horizon-days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stable-seeds", type=int, default=2, help="further seeds of small and large centers")
    args = parser.parse_args()
    started = time.perf_counter()
    levels = list(DEFAULT_QUANTILES)
    result: dict = {"stable": stable(args, levels)}
    result["stable_0.1_0.5_0.9"] = {k: v for k, v in stable(args, [0.1, 0.5, 0.9]).items() if k.startswith("monitor")}
    # Other seeds and center sizes (scale 0.1: ~15-300 orders a day; scale 5: ~750-15000).
    result["stable_by_case"] = {
        f"seed{seed}_scale{scale:g}": stable(args, levels, seed, scale, baseline=False)
        for seed in range(args.seed + 1, args.seed + 1 + args.stable_seeds)
        for scale in (0.1, 5.0)
    }
    cases = [result["stable"], *result["stable_by_case"].values()]
    pooled_years = sum(c["center_years"] for c in cases)
    pooled_alarms = sum(c["monitor_alarms"] for c in cases)
    for case in ("up40", "down30", "weekday"):
        result[case] = trials(args, case, levels)
        print(case, json.dumps(result[case]))
    print("stable", json.dumps(result["stable"]), json.dumps(result["stable_0.1_0.5_0.9"]))
    up = result["up40"]
    final = {
        "false_alarms_per_center_year": round(pooled_alarms / pooled_years, 3),
        "false_alarm_center_years": round(pooled_years, 2),
        "detection_delay_h_median": up["detection_delay_h_median"],
        "detection_delay_h_p90": up["detection_delay_h_p90"],
        "missed": up["missed"],
        "known_change_detection_delay_h_p90": up.get("known_change", {}).get("detection_delay_h_p90"),
        "baseline_false_alarms_per_center_year": result["stable"].get("baseline_false_alarms_per_center_year"),
        **result,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(final))


if __name__ == "__main__":
    main()
