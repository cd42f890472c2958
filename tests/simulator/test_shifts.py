"""Demand shifts in the simulator and hourly counts drawn without orders."""

from __future__ import annotations

import pandas as pd
import pytest

from fcplan.simulator import generate_order_frame, make_centers
from fcplan.simulator.hourly import sample_hourly_counts
from fcplan.simulator.shifts import Shift, parse_shift

TZ = "Asia/Seoul"


def hourly_of(orders: pd.DataFrame) -> pd.Series:
    hour = orders["ts"].dt.tz_localize(None).dt.floor("h")
    return orders.groupby([orders["center_id"], hour]).size()


@pytest.mark.parametrize(
    "shifts", [(), (Shift("FC-INCHEON", pd.Timestamp("2025-03-02 14:00", tz=TZ).to_pydatetime(), 1.4),)]
)
def test_hourly_counts_are_exactly_the_hourly_counts_of_the_generated_orders(shifts) -> None:
    centers = make_centers(3)
    counts = sample_hourly_counts(centers, [], "2025-03-01", "2025-03-04", seed=7, tz=TZ, shifts=shifts)
    orders = generate_order_frame(centers, [], "2025-03-01", "2025-03-04", seed=7, tz=TZ, shifts=shifts)
    got = counts.set_index(["unique_id", "ds"])["y"]
    assert (hourly_of(orders).reindex(got.index, fill_value=0) == got).all()


def test_a_40_percent_shift_raises_the_expected_orders_from_its_hour_on() -> None:
    centers = make_centers(2)
    start = pd.Timestamp("2025-03-02 14:00", tz=TZ)
    base = sample_hourly_counts(centers, [], "2025-03-01", "2025-03-04", tz=TZ)
    shifted = sample_hourly_counts(
        centers, [], "2025-03-01", "2025-03-04", tz=TZ, shifts=[parse_shift("FC-INCHEON:+40%@2025-03-02T14:00")]
    )
    ratio = shifted["mean"] / base["mean"]
    after = (shifted["unique_id"] == "FC-INCHEON") & (shifted["ds"] >= start.tz_localize(None))
    assert ratio[after].round(9).eq(1.4).all() and ratio[~after].round(9).eq(1.0).all()


def test_a_weekday_pattern_shift_multiplies_each_weekday() -> None:
    weekly = (0.5, 1, 1, 1, 1, 1, 2.0)
    shift = Shift("FC-SEOUL-1", pd.Timestamp("2025-03-01", tz=TZ).to_pydatetime(), weekly=weekly)
    base = sample_hourly_counts(make_centers(1), [], "2025-03-01", "2025-03-11", tz=TZ)
    moved = sample_hourly_counts(make_centers(1), [], "2025-03-01", "2025-03-11", tz=TZ, shifts=[shift])
    ratio = (moved["mean"] / base["mean"]).groupby(moved["ds"].dt.day_of_week).first()
    assert ratio.round(9).tolist() == [0.5, 1, 1, 1, 1, 1, 2.0]


@pytest.mark.parametrize(
    ("spec", "factor", "start"),
    [("FC-BUSAN:+40%@2026-03-10", 1.4, "2026-03-10 00:00"), ("FC-A:-30%@2026-03-10T14:00", 0.7, "2026-03-10 14:00")],
)
def test_shift_specs_are_read_in_local_time(spec: str, factor: float, start: str) -> None:
    shift = parse_shift(spec, TZ)
    assert shift.factor == pytest.approx(factor)
    assert pd.Timestamp(shift.start) == pd.Timestamp(start, tz=TZ)


@pytest.mark.parametrize("spec", ["FC-A:40", "FC-A:+40%", "FC-A:-100%@2026-03-10"])
def test_a_bad_shift_spec_says_what_is_expected(spec: str) -> None:
    with pytest.raises(ValueError, match="--shift"):
        parse_shift(spec, TZ)
