"""The hourly drift monitor on simulated centers: quiet when calibrated, alarms on a shift, clears."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.models.drift_monitor import CLEARED, DOWN, OPEN, UP, WEEKDAY, DriftMonitor, alert_id
from fcplan.models.sequential import intraday_shares
from fcplan.simulator import expected_daily, make_centers
from fcplan.simulator.hourly import sample_hourly_counts
from fcplan.simulator.shifts import Shift

START = pd.Timestamp("2025-09-01")
LEVELS = [0.1, 0.5, 0.9]


def feed(monitor: DriftMonitor, hourly: pd.DataFrame, quantiles: dict, shares: dict, version=lambda h: "v1") -> list:
    events = []
    for uid, hour, count in zip(hourly[UNIQUE_ID], hourly[DS], hourly[Y], strict=True):
        events += monitor.observe(uid, hour, count, quantiles[(uid, hour.normalize())], shares[uid], version(hour))
    return events


def calibrated(centers, days: int, factor: float = 1.0) -> dict:
    """Exact quantiles of each center-day (levels 0.1/0.5/0.9), times ``factor``."""
    truth = expected_daily(centers, [], START - pd.Timedelta(days=28), START + pd.Timedelta(days=days))
    out = {}
    for uid, ds, mean, r in truth[[UNIQUE_ID, DS, "mean", "dispersion"]].itertuples(index=False):
        values = stats.nbinom.ppf(LEVELS, r, r / (r + mean * factor))
        out[(uid, ds)] = dict(zip(LEVELS, values, strict=True))
    return out


@pytest.fixture(scope="module")
def centers():
    return make_centers(3, seed=4)


@pytest.fixture(scope="module")
def shares(centers) -> dict:
    hist = sample_hourly_counts(centers, [], START - pd.Timedelta(days=28), START, seed=4)
    return {u: intraday_shares(g[DS].dt.hour.to_numpy(), g[Y].to_numpy()) for u, g in hist.groupby(UNIQUE_ID)}


def test_when_forecasts_are_calibrated_then_a_month_raises_at_most_one_alert(centers, shares) -> None:
    """3 centers x 30 days is a quarter center-year: the bound allows 0.25 alarms on average."""
    hourly = sample_hourly_counts(centers, [], START, START + pd.Timedelta(days=30), seed=4)
    monitor = DriftMonitor()
    assert len([e for e in feed(monitor, hourly, calibrated(centers, 30), shares) if e.status == OPEN]) <= 1
    assert monitor.statistic(centers[1].center_id) < monitor.threshold


def test_when_every_forecast_is_20_percent_high_then_every_center_alarms_down(centers, shares) -> None:
    hourly = sample_hourly_counts(centers, [], START, START + pd.Timedelta(days=30), seed=4)
    opened = [e for e in feed(DriftMonitor(), hourly, calibrated(centers, 30, 1.2), shares) if e.status == OPEN]
    assert sorted(e.center_id for e in opened) == sorted(c.center_id for c in centers)
    assert {e.test for e in opened} == {DOWN}


def test_when_demand_rises_40_percent_then_an_alert_opens_with_its_evidence(centers, shares) -> None:
    big = centers[0]
    start = (START + pd.Timedelta(days=5, hours=13)).tz_localize("Asia/Seoul")
    hourly = sample_hourly_counts(
        [big], [], START, START + pd.Timedelta(days=12), 4, shifts=[Shift(big.center_id, start.to_pydatetime(), 1.4)]
    )
    events = feed(DriftMonitor(), hourly, calibrated([big], 12), shares)
    assert [e.status for e in events] == [OPEN]
    alert = events[0]
    assert alert.test == UP and alert.statistic > alert.threshold and alert.model_version == "v1"
    assert alert.window_end > start.tz_localize(None) and alert.window_start >= start.tz_localize(None) - pd.Timedelta(
        days=1
    )
    assert {"ratio_today", "pit_today", "rolling_coverage", "rolling_wql"} <= set(alert.evidence)


def test_when_a_retrain_fits_the_new_level_then_the_alert_clears_after_quiet_hours(centers, shares) -> None:
    big = centers[0]
    start = (START + pd.Timedelta(days=3)).tz_localize("Asia/Seoul")
    hourly = sample_hourly_counts(
        [big], [], START, START + pd.Timedelta(days=14), 4, shifts=[Shift(big.center_id, start.to_pydatetime(), 1.4)]
    )
    old, new = calibrated([big], 14), calibrated([big], 14, factor=1.4)
    retrain_at = START + pd.Timedelta(days=8)
    quantiles = {k: (new if k[1] >= retrain_at else old)[k] for k in old}
    monitor = DriftMonitor(clear_hours=24)
    events = feed(monitor, hourly, quantiles, shares, version=lambda h: "v2" if h >= retrain_at else "v1")
    assert [e.status for e in events] == [OPEN, CLEARED]
    opened, cleared = events
    assert cleared.alert_id == opened.alert_id and cleared.model_version == "v2"
    assert cleared.window_end >= retrain_at + pd.Timedelta(hours=24)


def first_open_delay_h(events: list, start: pd.Timestamp) -> float:
    """Hours from ``start`` (tz-aware local) to the end of the hour of the first opened alert."""
    opened = [e for e in events if e.status == OPEN]
    return (opened[0].window_end - start.tz_localize(None)) / pd.Timedelta(hours=1) if opened else float("inf")


@pytest.mark.parametrize("hour, within_h", [(13, 12), (3, 24)])
def test_a_40_percent_rise_is_seen_within_hours_at_large_centers(centers, shares, hour: int, within_h: int) -> None:
    """Mid-day the rise shows against the morning of the same day; at night it takes the day's level."""
    for center in (centers[0], centers[2]):
        start = (START + pd.Timedelta(days=5, hours=hour)).tz_localize("Asia/Seoul")
        shift = Shift(center.center_id, start.to_pydatetime(), 1.4)
        hourly = sample_hourly_counts([center], [], START, START + pd.Timedelta(days=8), 4, shifts=[shift])
        events = feed(DriftMonitor(), hourly, calibrated([center], 8), shares)
        assert 0 < first_open_delay_h(events, start) <= within_h, center.center_id


def test_a_reversed_weekday_pattern_is_caught_by_the_weekday_test_and_missed_without_it(centers, shares) -> None:
    """Same weekly mean, Mondays and Sundays swapped: the level tests see ups and downs that cancel."""
    start = (START + pd.Timedelta(days=3)).tz_localize("Asia/Seoul")
    for center in centers[:2]:
        weekly = tuple(np.asarray(center.weekly)[::-1] / np.asarray(center.weekly))
        shift = Shift(center.center_id, start.to_pydatetime(), 1.0, weekly)
        hourly = sample_hourly_counts([center], [], START, START + pd.Timedelta(days=24), 4, shifts=[shift])
        quantiles = calibrated([center], 24)
        events = feed(DriftMonitor(), hourly, quantiles, shares)
        assert events and events[0].status == OPEN and events[0].test == WEEKDAY, center.center_id
        assert 7 * 24 <= first_open_delay_h(events, start) <= 20 * 24  # a pattern needs a week to show
        assert not feed(DriftMonitor(weekday_amplitudes=()), hourly, quantiles, shares)


@pytest.mark.slow
@pytest.mark.parametrize("seed, scale", [(6, 0.3), (7, 3.0)])
def test_stable_small_and_large_centers_raise_no_alert_in_60_days(seed: int, scale: float) -> None:
    """Half a center-year each: the target allows half an alarm on average; none come."""
    centers = make_centers(3, seed=seed, scale=scale)
    hist = sample_hourly_counts(centers, [], START - pd.Timedelta(days=28), START, seed=seed)
    learned = {u: intraday_shares(g[DS].dt.hour.to_numpy(), g[Y].to_numpy()) for u, g in hist.groupby(UNIQUE_ID)}
    hourly = sample_hourly_counts(centers, [], START, START + pd.Timedelta(days=60), seed=seed)
    monitor = DriftMonitor()
    assert feed(monitor, hourly, calibrated(centers, 60), learned) == []
    assert max(monitor.statistic(c.center_id) for c in centers) < monitor.threshold - 2


def test_alert_ids_have_a_fixed_length_whatever_the_center_id() -> None:
    ids = {alert_id("FC-" + "X" * n, UP, pd.Timestamp("2026-01-01 10:00").to_pydatetime()) for n in (1, 40, 200)}
    assert {len(i) for i in ids} == {32} and len(ids) == 3


def test_hours_that_come_again_or_out_of_order_are_ignored(centers, shares) -> None:
    monitor = DriftMonitor()
    uid = centers[0].center_id
    q = {0.1: 80.0, 0.5: 100.0, 0.9: 120.0}
    hour = pd.Timestamp("2025-09-01 10:00")
    monitor.observe(uid, hour, 5000, q, shares[uid], "v1")
    before = monitor.statistic(uid)
    assert monitor.observe(uid, hour, 5000, q, shares[uid], "v1") == []
    assert monitor.statistic(uid) == before


def test_theta_must_be_a_rise() -> None:
    with pytest.raises(ValueError, match="must be > 1"):
        DriftMonitor(theta=0.8)


def test_partial_days_are_judged_through_the_intraday_profile(centers, shares) -> None:
    """Half a day on the profile is no evidence; half a day at 1.6 times it is an alarm."""
    uid = centers[0].center_id
    q = {0.1: 900.0, 0.5: 1000.0, 0.9: 1100.0}
    stats_at = {}
    for factor in (1.0, 1.6):
        monitor = DriftMonitor()
        for h in range(12):
            monitor.observe(uid, START + pd.Timedelta(hours=h), factor * 1000.0 * shares[uid][h], q, shares[uid], "v1")
        stats_at[factor] = monitor.statistic(uid)
    assert stats_at[1.0] <= 0 < monitor.threshold < stats_at[1.6]


def test_an_alert_event_is_a_valid_forecast_alerts_record(centers, shares) -> None:
    from datetime import UTC, datetime

    from fcplan.core.contracts import ForecastAlert
    from fcplan.models.drift_monitor import alert_payload

    big = centers[0]
    start = (START + pd.Timedelta(days=2, hours=9)).tz_localize("Asia/Seoul")
    shift = Shift(big.center_id, start.to_pydatetime(), 1.4)
    hourly = sample_hourly_counts([big], [], START, START + pd.Timedelta(days=8), 4, shifts=[shift])
    event = feed(DriftMonitor(), hourly, calibrated([big], 8), shares)[0]
    record = ForecastAlert.model_validate(alert_payload(event, datetime.now(UTC)))
    assert record.status == OPEN and record.kind == UP and record.alert_id == event.alert_id
    assert "retrain triggered" in record.message and record.evidence["theta"] == pytest.approx(1.3)
    assert "cusum_up log statistic" in record.message
    assert ForecastAlert.model_validate_json(record.model_dump_json()) == record


def test_a_forecast_twice_too_high_from_the_first_hour_alarms_within_hours_to_two_days(centers, shares) -> None:
    """A new model off from its first hour: the large center alarms the same morning (the
    start "since the first hour" has its own weight); the noisiest (day-level size 32) within
    two days, as its own day-level noise allows."""
    hourly = sample_hourly_counts(centers, [], START, START + pd.Timedelta(days=3), seed=4)
    events = feed(DriftMonitor(), hourly, calibrated(centers, 3, factor=2.0), shares)
    first = {e.center_id: e for e in reversed(events) if e.status == OPEN}
    assert sorted(first) == sorted(c.center_id for c in centers)
    assert all(e.test == DOWN and e.window_end <= START + pd.Timedelta(hours=50) for e in first.values())
    assert first[centers[0].center_id].window_end <= START + pd.Timedelta(hours=12)


def test_a_champion_change_without_an_open_alert_keeps_the_evidence(centers, shares) -> None:
    """Daily promotions must not wipe a week of evidence: the alert opens as under one long-lived
    version (after it, the version change is the retrain it triggered, and restarts the tests)."""
    center = centers[1]
    start = (START + pd.Timedelta(days=3)).tz_localize("Asia/Seoul")
    weekly = tuple(np.asarray(center.weekly)[::-1] / np.asarray(center.weekly))
    shift = Shift(center.center_id, start.to_pydatetime(), 1.0, weekly)
    hourly = sample_hourly_counts([center], [], START, START + pd.Timedelta(days=16), 4, shifts=[shift])
    quantiles = calibrated([center], 16)
    steady = feed(DriftMonitor(), hourly, quantiles, shares)
    daily = feed(DriftMonitor(), hourly, quantiles, shares, version=lambda h: f"v{h.day}")
    assert steady and steady[0].status == OPEN and steady[0].test == WEEKDAY
    assert daily and (daily[0].status, daily[0].test, daily[0].window_end) == (OPEN, WEEKDAY, steady[0].window_end)
