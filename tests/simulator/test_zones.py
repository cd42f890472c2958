"""Each simulated center in its own time zone and holiday country (the centers file's)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fcplan.core.locales import Locales
from fcplan.simulator import (
    Oracle,
    expected_daily,
    expected_hourly,
    generate_order_frame,
    generate_orders,
    make_centers,
    make_promotions,
    sample_daily_counts,
)
from fcplan.simulator.hourly import sample_hourly_counts
from fcplan.simulator.shifts import parse_shift

SYDNEY_ID, SYDNEY = "FC-GWANGJU", "Australia/Sydney"  # as in centers.example.toml
LOCALES = Locales("Asia/Seoul", "KR", {SYDNEY_ID: SYDNEY}, {SYDNEY_ID: "AU"})
CENTERS = make_centers(5, seed=3)


def sydney_local(ts: pd.Series) -> pd.Series:
    return ts.dt.tz_convert(SYDNEY).dt.tz_localize(None)


def test_a_single_zone_run_gives_the_numbers_it_gave_before_zones() -> None:
    """Pinned from the simulator before per-center zones: seeds and callers keep their numbers."""
    promos = make_promotions(CENTERS, "2025-12-01", "2026-01-20", seed=3)
    daily = sample_daily_counts(CENTERS, promos, "2026-01-02", "2026-01-05", 11)
    assert daily["y"].astype(int).tolist() == [
        3047, 2326, 2470, 1971, 1551, 1275, 1111, 927, 1065, 783, 534, 524, 493, 303, 469
    ]
    assert daily["mean"].iloc[:2].round(3).tolist() == [3445.389, 2506.116]
    frame = generate_order_frame(CENTERS, promos, "2026-01-02", "2026-01-03", 11)
    assert frame.groupby("center_id")["units"].sum().to_dict() == {
        "FC-BUSAN": 2920, "FC-DAEJEON": 2054, "FC-GWANGJU": 1360, "FC-INCHEON": 4603, "FC-SEOUL-1": 8111
    }
    assert (frame["order_id"].iloc[0], frame["order_id"].iloc[-1]) == (
        "FC-SEOUL-1-20260102-000001", "FC-GWANGJU-20260102-000493"
    )
    hourly = sample_hourly_counts(CENTERS, promos, "2026-01-02", "2026-01-03", 11)
    assert hourly.loc[hourly["unique_id"] == SYDNEY_ID, "y"].astype(int).tolist() == [
        1, 1, 1, 0, 1, 6, 7, 11, 29, 21, 35, 30, 32, 32, 18, 20, 17, 22, 26, 43, 56, 36, 35, 13
    ]
    one_zone = Locales("Asia/Seoul", "KR")
    pd.testing.assert_frame_equal(
        sample_daily_counts(CENTERS, promos, "2026-01-02", "2026-01-05", 11, locales=one_zone), daily
    )


def test_centers_of_the_default_zone_are_unchanged_by_a_second_zone() -> None:
    promos = make_promotions(CENTERS, "2025-12-01", "2026-01-20", seed=3, locales=LOCALES)
    alone = sample_hourly_counts(CENTERS[:4], promos, "2026-01-02", "2026-01-06", 11)
    both = sample_hourly_counts(CENTERS, promos, "2026-01-02", "2026-01-06", 11, locales=LOCALES)
    assert both["unique_id"].unique().tolist() == [c.center_id for c in CENTERS]  # center order kept
    pd.testing.assert_frame_equal(both[both["unique_id"] != SYDNEY_ID].reset_index(drop=True), alone)


def test_the_sydney_center_peaks_in_sydney_hours_and_its_days_are_sydney_days() -> None:
    sydney = CENTERS[4]
    frame = generate_order_frame(CENTERS, [], "2026-01-05", "2026-01-19", 5, locales=LOCALES)
    assert frame["ts"].is_monotonic_increasing and frame["order_id"].is_unique
    orders = frame[frame["center_id"] == SYDNEY_ID]
    local = sydney_local(orders["ts"])
    share = np.bincount(local.dt.hour, minlength=24) / len(orders)
    profile = np.asarray(sydney.intraday)
    assert np.corrcoef(share, profile)[0, 1] > 0.95  # its own profile on Sydney's clock ...
    seoul_hour = np.bincount(orders["ts"].dt.tz_convert("Asia/Seoul").dt.hour, minlength=24) / len(orders)
    assert np.abs(share - profile).sum() < 0.5 * np.abs(seoul_hour - profile).sum()  # ... not on Seoul's
    # Local day boundaries are Sydney's: the order id's date is the Sydney date of its time.
    dates = orders["order_id"].str.split("-").str[-2]
    assert (dates == local.dt.strftime("%Y%m%d")).all()
    hourly = sample_hourly_counts(CENTERS, [], "2026-01-05", "2026-01-07", 5, locales=LOCALES, utc=True)
    first = hourly.groupby("unique_id")["ds"].min()
    assert first[SYDNEY_ID] == pd.Timestamp("2026-01-05", tz=SYDNEY)  # 2026-01-04 13:00 UTC (AEDT)
    assert first["FC-BUSAN"] == pd.Timestamp("2026-01-05", tz="Asia/Seoul")
    # The ISO times carry each center's own offset.
    stream = list(generate_orders(CENTERS, [], "2026-01-05", "2026-01-06", 5, locales=LOCALES))
    offsets = {o["center_id"]: o["ts"][-6:] for o in stream}
    assert offsets[SYDNEY_ID] == "+11:00" and offsets["FC-BUSAN"] == "+09:00"


def test_each_center_dips_on_its_own_country_s_holidays() -> None:
    # Australia Day (Mon 2026-01-26) is not a Korean holiday; Seollal (2026-02-16..18) is not Australian.
    days = expected_daily(CENTERS, [], "2026-01-19", "2026-02-23", locales=LOCALES).set_index(["unique_id", "ds"])
    mean = days["mean"]

    def ratio(center: str, day: str, week_before: str) -> float:
        return mean[(center, pd.Timestamp(day))] / mean[(center, pd.Timestamp(week_before))]

    assert ratio(SYDNEY_ID, "2026-01-26", "2026-01-19") < 0.85
    assert ratio("FC-BUSAN", "2026-01-26", "2026-01-19") > 0.95
    assert ratio("FC-BUSAN", "2026-02-17", "2026-02-10") < 0.5
    assert ratio(SYDNEY_ID, "2026-02-17", "2026-02-10") > 0.95


def test_the_oracle_agrees_with_the_generated_orders_per_local_day() -> None:
    oracle = Oracle(tuple(CENTERS), seed=9, locales=LOCALES)
    start, end = "2026-01-05", "2026-01-19"
    promos = oracle.promotions(start, end)
    truth = oracle.expected(start, end)
    counts = sample_daily_counts(oracle.centers, promos, start, end, 9, locales=LOCALES)
    np.testing.assert_allclose(truth["mean"], counts["mean"], rtol=1e-12)
    assert (truth["ds"] == counts["ds"]).all() and (truth["unique_id"] == counts["unique_id"]).all()
    # The orders of each center's local day are exactly that day's drawn total.
    frame = generate_order_frame(
        oracle.centers, promos, pd.Timestamp(start, tz=SYDNEY), pd.Timestamp(end, tz="Asia/Seoul"), 9,
        locales=LOCALES,
    )
    zone = frame["center_id"].map(LOCALES.zone)
    day = pd.Series(
        [t.tz_convert(z).tz_localize(None).normalize() for t, z in zip(frame["ts"], zone, strict=True)]
    )
    per_day = frame.groupby([frame["center_id"], day]).size()
    drawn = counts.set_index(["unique_id", "ds"])["y"]
    assert (per_day.reindex(drawn.index).to_numpy() == drawn.to_numpy()).all()
    # Over two weeks, the drawn totals are the expected ones within sampling noise.
    ratio = drawn.groupby(level=0).sum() / truth.groupby("unique_id")["mean"].sum()
    assert ratio.between(0.9, 1.1).all(), ratio
    hourly = expected_hourly(
        oracle.centers, promos, pd.Timestamp(start, tz=SYDNEY), pd.Timestamp(end, tz=SYDNEY), locales=LOCALES
    )
    sydney = hourly[hourly["unique_id"] == SYDNEY_ID]
    per_local_day = sydney.groupby(sydney_local(sydney["ds"]).dt.normalize())["mean"].sum()
    np.testing.assert_allclose(per_local_day.to_numpy(), truth.loc[truth["unique_id"] == SYDNEY_ID, "mean"])
    quantiles = oracle.quantiles([0.5], start, end)
    assert (quantiles["ds"] == truth["ds"]).all()


def test_a_shift_day_is_the_center_s_local_day() -> None:
    shift = parse_shift(f"{SYDNEY_ID}:+40%@2026-03-10", locales=LOCALES)
    assert pd.Timestamp(shift.start) == pd.Timestamp("2026-03-10", tz=SYDNEY)
    assert pd.Timestamp(parse_shift("FC-BUSAN:+40%@2026-03-10", locales=LOCALES).start) == pd.Timestamp(
        "2026-03-10", tz="Asia/Seoul"
    )
    hourly = sample_hourly_counts(
        CENTERS, [], "2026-03-09", "2026-03-11", 5, shifts=[shift], locales=LOCALES
    )
    sydney = hourly[hourly["unique_id"] == SYDNEY_ID].set_index("ds")["mean"]
    base = sample_hourly_counts(CENTERS, [], "2026-03-09", "2026-03-11", 5, locales=LOCALES)
    before = base[base["unique_id"] == SYDNEY_ID].set_index("ds")["mean"]
    lift = sydney / before
    assert lift[: "2026-03-09 23:00"].eq(1.0).all() and lift["2026-03-10":].round(9).eq(1.4).all()


@pytest.mark.parametrize("zone", ["Australia/Sydney", "America/New_York"])
def test_a_daylight_saving_day_keeps_every_hour_once(zone: str) -> None:
    locales = Locales("Asia/Seoul", "KR", {SYDNEY_ID: zone}, {SYDNEY_ID: None})
    day = "2026-04-05" if zone == "Australia/Sydney" else "2026-11-01"  # clocks go back: 25 hours
    hourly = sample_hourly_counts(CENTERS, [], day, pd.Timestamp(day) + pd.Timedelta(days=1), 1,
                                  locales=locales, utc=True)
    mine = hourly[hourly["unique_id"] == SYDNEY_ID]
    assert len(mine) == 25 and mine["ds"].is_unique
