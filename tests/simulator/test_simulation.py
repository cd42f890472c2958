"""The simulated demand model: determinism, holidays, promotions, orders, oracle."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fcplan.core.panel import validate_panel
from fcplan.simulator import (
    COVARIATES,
    SimulatedPromotion,
    expected_daily,
    expected_hourly,
    generate_order_frame,
    generate_orders,
    make_centers,
    make_promotions,
    sample_daily_counts,
    simulate_daily_panel,
)

SEOUL = ZoneInfo("Asia/Seoul")


def centers_factory(n: int = 3, seed: int = 0, scale: float = 0.2):
    return make_centers(n, seed, scale)


def promotion_factory(**overrides) -> SimulatedPromotion:
    start = datetime(2025, 10, 14, tzinfo=SEOUL)
    fields = {
        "promo_id": "P-1",
        "center_ids": ["FC-BUSAN"],
        "start": start,
        "end": start + timedelta(days=2),
        "kind": "discount",
        "discount_pct": 20.0,
        "status": "active",
        "announced_at": start - timedelta(days=5),
    }
    fields.update(overrides)
    return SimulatedPromotion(**fields)


def by_center_day(frame: pd.DataFrame) -> pd.Series:
    return frame.set_index(["unique_id", "ds"])["mean"]


def test_when_the_seed_is_the_same_then_centers_promotions_and_orders_are_identical():
    def run(seed: int) -> tuple:
        centers = centers_factory(seed=seed)
        promos = make_promotions(centers, "2025-10-01", "2025-10-04", seed)
        return centers, promos, list(generate_orders(centers, promos, "2025-10-01", "2025-10-04", seed))

    first, again, other = run(7), run(7), run(8)
    assert first == again
    assert first[2] != other[2]


def test_when_a_window_is_split_in_two_then_the_orders_are_the_same_as_for_the_whole():
    centers = centers_factory()
    promos = make_promotions(centers, "2025-10-01", "2025-10-03", 3)
    whole = list(generate_orders(centers, promos, "2025-10-01", "2025-10-03", 3))
    cut = "2025-10-02T13:30:00+09:00"
    halves = [
        *generate_orders(centers, promos, "2025-10-01", cut, 3),
        *generate_orders(centers, promos, cut, "2025-10-03", 3),
    ]
    assert halves == whole


def test_when_more_centers_are_made_then_the_first_ones_do_not_change():
    assert make_centers(7, 5)[:5] == make_centers(5, 5)
    sizes = [c.base_daily for c in make_centers(5, 0)]
    assert sizes == sorted(sizes, reverse=True)
    assert [c.center_id for c in make_centers(6, 0)][-1] == "FC-SIM-006"


def test_generated_orders_add_up_to_the_sampled_daily_counts():
    centers = centers_factory()
    promos = make_promotions(centers, "2025-09-28", "2025-10-08", 11)
    frame = generate_order_frame(centers, promos, "2025-09-28", "2025-10-08", 11)
    counts = sample_daily_counts(centers, promos, "2025-09-28", "2025-10-08", 11)
    local_day = frame["ts"].dt.tz_localize(None).dt.normalize().astype("datetime64[ns]")
    totals = frame.groupby([frame["center_id"].rename("unique_id"), local_day.rename("ds")]).size()
    expected = counts.set_index(["unique_id", "ds"])["y"]
    assert totals.reindex(expected.index, fill_value=0).astype(float).tolist() == expected.tolist()


def test_the_order_stream_and_the_order_frame_hold_the_same_orders():
    centers = centers_factory(2)
    stream = pd.DataFrame(list(generate_orders(centers, [], "2025-10-01", "2025-10-02", 2)))
    frame = generate_order_frame(centers, [], "2025-10-01", "2025-10-02", 2)
    assert stream["order_id"].tolist() == frame["order_id"].tolist()
    assert (pd.to_datetime(stream["ts"]) == frame["ts"]).all()


def test_every_order_is_valid_and_lies_inside_its_window_in_time_order():
    centers = centers_factory()
    start = datetime(2025, 10, 6, 10, 30, tzinfo=SEOUL)
    end = datetime(2025, 10, 7, 5, 0, tzinfo=ZoneInfo("UTC"))
    orders = list(generate_orders(centers, [], start, end, 4))
    assert orders
    stamps = [datetime.fromisoformat(o["ts"]) for o in orders]
    assert all(ts.utcoffset() == timedelta(hours=9) for ts in stamps)
    assert all(start <= ts < end for ts in stamps)
    assert stamps == sorted(stamps)
    assert all(o["lines"] >= 1 and o["units"] >= o["lines"] for o in orders)
    assert len({o["order_id"] for o in orders}) == len(orders)
    assert {o["center_id"] for o in orders} == {c.center_id for c in centers}


def test_chuseok_2025_dips_demand_and_the_days_before_it_peak():
    daily = by_center_day(expected_daily(make_centers(5, 0), [], "2025-09-20", "2025-10-12"))
    for center in daily.index.get_level_values(0).unique():
        day = daily.loc[center]
        # Chuseok (Mon Oct 6, Tue Oct 7) against the same weekdays a week before.
        assert day["2025-10-06"] < 0.45 * day["2025-09-29"]
        assert day["2025-10-07"] < 0.45 * day["2025-09-30"]
        # Pre-holiday peak: Thu Oct 2 and Sat Oct 4 against the week before.
        assert day["2025-10-02"] > 1.15 * day["2025-09-25"]
        assert day["2025-10-04"] > 1.15 * day["2025-09-27"]


def test_seollal_dips_demand_and_the_days_before_it_peak():
    daily = by_center_day(expected_daily(make_centers(5, 0), [], "2025-01-10", "2025-02-05"))
    for center in daily.index.get_level_values(0).unique():
        day = daily.loc[center]
        assert day["2025-01-29"] < 0.45 * day["2025-01-22"]  # Seollal, Wednesday
        assert day["2025-01-24"] > 1.15 * day["2025-01-17"]  # Friday before the block


def test_promotions_raise_expected_demand_only_for_their_centers_and_days():
    centers = make_centers(3, 0)
    plain = by_center_day(expected_daily(centers, [], "2025-10-12", "2025-10-18"))
    cancelled = promotion_factory(
        promo_id="P-2",
        center_ids=["FC-SEOUL-1"],
        status="cancelled",
        cancelled_at=datetime(2025, 10, 11, tzinfo=SEOUL),
    )
    lifted = by_center_day(
        expected_daily(centers, [promotion_factory(), cancelled], "2025-10-12", "2025-10-18")
    )
    ratio = (lifted / plain).unstack("ds")
    promo_days = [pd.Timestamp("2025-10-14"), pd.Timestamp("2025-10-15")]
    assert np.allclose(ratio.loc["FC-BUSAN", promo_days], 1.4)
    assert np.allclose(ratio.drop(columns=promo_days).loc["FC-BUSAN"], 1.0)
    assert np.allclose(ratio.drop(index="FC-BUSAN"), 1.0)


def test_a_flash_sale_for_all_centers_lifts_only_its_hours():
    centers = make_centers(2, 0)
    start = datetime(2025, 10, 14, 20, tzinfo=SEOUL)
    sale = promotion_factory(
        center_ids=None, kind="flash_sale", discount_pct=50, start=start, end=start + timedelta(hours=6)
    )
    plain = expected_hourly(centers, [], "2025-10-14", "2025-10-16")
    lifted = expected_hourly(centers, [sale], "2025-10-14", "2025-10-16")
    ratio = lifted["mean"] / plain["mean"]
    inside = (lifted["ds"] >= pd.Timestamp(start)) & (lifted["ds"] < pd.Timestamp(sale.end))
    assert inside.sum() == 2 * 6
    assert np.allclose(ratio[inside], 2.0) and np.allclose(ratio[~inside], 1.0)


def test_expected_hours_add_up_to_expected_days():
    centers = centers_factory()
    promos = make_promotions(centers, "2025-11-01", "2025-11-04", 0)
    hourly = expected_hourly(centers, promos, "2025-11-01", "2025-11-04")
    daily = expected_daily(centers, promos, "2025-11-01", "2025-11-04")
    assert str(hourly["ds"].dt.tz) == "UTC"
    local_day = hourly["ds"].dt.tz_convert("Asia/Seoul").dt.tz_localize(None).dt.normalize()
    sums = hourly.groupby(["unique_id", local_day.astype("datetime64[ns]").rename("ds")])["mean"].sum()
    assert np.allclose(sums.reindex(pd.MultiIndex.from_frame(daily[["unique_id", "ds"]])), daily["mean"])


def test_generated_promotions_are_announced_ahead_and_some_are_cancelled():
    centers = make_centers(5, 0)
    promos = make_promotions(centers, "2025-01-01", "2026-01-01", 0)
    assert 5 * 12 <= len(promos) <= 5 * 12 * 5
    assert any(p.center_ids is None for p in promos)
    assert any(p.status == "cancelled" for p in promos)
    for p in promos:
        assert timedelta(days=3) <= p.start - p.announced_at <= timedelta(days=14)
        assert timedelta(hours=6) <= p.end - p.start <= timedelta(days=5)
        if p.status == "cancelled":
            assert p.announced_at < p.cancelled_at < p.start
    assert promos == make_promotions(centers, "2025-01-01", "2026-01-01", 0)


def test_the_simulated_panel_is_a_valid_panel_with_known_covariates():
    panel, oracle = simulate_daily_panel(2, 60, 0)
    assert list(panel.columns) == ["unique_id", "ds", "y", *COVARIATES]
    pd.testing.assert_frame_equal(panel, validate_panel(panel))
    assert len(panel) == 2 * 60 and panel["ds"].max() == pd.Timestamp("2025-12-31")
    future = oracle.future("2026-01-01", 14)
    assert len(future) == 2 * 14 and list(future.columns) == ["unique_id", "ds", *COVARIATES]
    assert future.loc[future["ds"] == pd.Timestamp("2026-01-01"), "holiday"].eq(1.0).all()


def test_the_future_shows_only_promotions_announced_by_the_forecast_origin():
    _, oracle = simulate_daily_panel(5, 1, 0)
    origin = pd.Timestamp("2025-11-10", tz="Asia/Seoul")
    promos = oracle.promotions(origin, origin + pd.Timedelta(days=28))
    late = [p for p in promos if p.announced_at > origin and p.status == "active"]
    assert late, "the seed should give a promotion announced after the origin"
    known = oracle.future(origin, 28)
    truth = oracle.covariates(origin, origin + pd.Timedelta(days=28))
    assert known["promo_uplift"].sum() != truth["promo_uplift"].sum()


def test_oracle_quantiles_are_monotone_and_the_80pct_interval_covers_about_80pct_of_days():
    panel, oracle = simulate_daily_panel(5, 730, 123)
    quant = oracle.quantiles([0.9, 0.1, 0.5], panel["ds"].min(), panel["ds"].max() + pd.Timedelta(days=1))
    assert list(quant.columns) == ["unique_id", "ds", "model", "0.1", "0.5", "0.9"]
    assert (quant["model"] == "oracle").all()
    merged = panel.merge(quant, on=["unique_id", "ds"], validate="one_to_one")
    assert len(merged) == len(panel) == 5 * 730
    assert ((merged["0.1"] <= merged["0.5"]) & (merged["0.5"] <= merged["0.9"])).all()
    inside = (merged["y"] >= merged["0.1"]) & (merged["y"] <= merged["0.9"])
    # Exact coverage of the discrete interval, slightly above 0.8 (atoms at the ends).
    truth = oracle.expected(panel["ds"].min(), panel["ds"].max() + pd.Timedelta(days=1))
    truth = panel[["unique_id", "ds"]].merge(truth, on=["unique_id", "ds"])
    r, mean = truth["dispersion"].to_numpy(), truth["mean"].to_numpy()
    law = stats.nbinom(r, r / (r + mean))
    exact = float(np.mean(law.cdf(merged["0.9"]) - law.cdf(merged["0.1"] - 1)))
    assert 0.8 <= exact < 0.82
    # 3650 days: the standard error is 0.0066; 0.04 is 6 of them.
    assert abs(inside.mean() - exact) < 0.04
    assert abs(merged["y"].sum() / truth["mean"].sum() - 1) < 0.01


@pytest.mark.parametrize("levels", [[], [0.0, 0.5], [1.2]])
def test_when_quantile_levels_are_outside_0_1_then_the_oracle_says_so(levels):
    _, oracle = simulate_daily_panel(1, 1, 0)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        oracle.quantiles(levels, "2025-12-01", "2025-12-02")


def test_mixture_quantiles_match_the_cdf_of_the_mixture():
    from fcplan.simulator.oracle import mixture_quantiles

    means = np.array([[20.0, 100.0], [20.0, 100.0], [60.0, 100.0], [20.0, 300.0]])  # 4 draws, 2 cells
    sizes = np.array([5.0, 30.0])
    levels = [0.1, 0.5, 0.75, 0.9]
    got = mixture_quantiles(means, sizes, levels)
    grid = np.arange(2000)
    for cell in range(2):
        cdf = np.mean([stats.nbinom.cdf(grid, sizes[cell], sizes[cell] / (sizes[cell] + m)) for m in means[:, cell]], 0)
        want = [grid[np.argmax(cdf >= q)] for q in levels]
        assert got[cell].tolist() == want


def test_the_oracle_at_origin_equals_the_hindsight_oracle_once_everything_is_announced():
    _, oracle = simulate_daily_panel(4, 1, 0)
    start, end = pd.Timestamp("2025-11-03"), pd.Timestamp("2025-11-17")
    levels = [0.1, 0.5, 0.9]
    late = oracle.predictive_quantiles(levels, start, end, as_of=end, samples=20)
    hindsight = oracle.quantiles(levels, start, end)
    pd.testing.assert_frame_equal(late.drop(columns="model"), hindsight.drop(columns="model"))


def test_the_oracle_at_origin_allows_for_promotions_not_yet_announced():
    from fcplan.simulator.demand import local_days
    from fcplan.simulator.expected import daily_matrix

    _, oracle = simulate_daily_panel(4, 1, 0)
    start, end = pd.Timestamp("2025-11-03"), pd.Timestamp("2025-11-17")
    levels = [0.1, 0.5, 0.9]
    at_origin = oracle.predictive_quantiles(levels, start, end, samples=100)
    # without any promotion: every mixture component has at least this mean, so no quantile is lower
    base = daily_matrix(oracle.centers, [], local_days(start, end), oracle.tz, oracle.country).ravel()
    r = np.repeat([c.dispersion for c in oracle.centers], 14)[:, None]
    floor = stats.nbinom.ppf(np.array(levels)[None, :], r, r / (r + base[:, None]))
    values = at_origin[["0.1", "0.5", "0.9"]].to_numpy()
    assert (values >= floor).all()
    # promotions are announced 3 to 14 days ahead: the first 3 days hold no surprise, later
    # days are lifted above what the announced promotions alone give
    from fcplan.simulator.promotions import promotions_known_at

    known = [p for p in promotions_known_at(oracle.promotions(start, end), start, oracle.tz) if p.status == "active"]
    announced = daily_matrix(oracle.centers, known, local_days(start, end), oracle.tz, oracle.country).ravel()
    top = stats.nbinom.ppf(0.9, r[:, 0], r[:, 0] / (r[:, 0] + announced))
    lift = (values[:, 2] / top).reshape(4, 14)
    assert lift[:, :3].max() <= 1.0 < lift[:, 7:].mean()
