import numpy as np
import pandas as pd

from fcplan.models.conformal import fit_conformal
from fcplan.models.flag_widening import COMMON_POINTS, find_flags, flag_prior
from fcplan.models.scales import series_scale

LEVELS = [0.1, 0.5, 0.9]
Z90 = 1.2816


def _history(n_series: int = 20, days: int = 280, event_sd: float = 0.0, seed: int = 0,
             down: bool = False) -> pd.DataFrame:
    """Daily series (weekly pattern + N(0, 1) noise) with two flags: ``event_a`` on 8 days of
    each series, where it moves the level by N(0, ``event_sd``) (``down``: by minus its size),
    and ``event_b``, never active."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        t = np.arange(days)
        a = np.zeros(days)
        a[rng.choice(np.arange(20, days - 20), 8, replace=False)] = 1.0
        effect = rng.normal(0, event_sd, days)
        effect = -np.abs(effect) if down else effect
        y = 50 + 5 * np.sin(2 * np.pi * t / 7) + rng.normal(size=days) + a * effect
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2024-01-01", periods=days),
                                    "y": y, "event_a": a, "event_b": 0.0}))
    return pd.concat(frames, ignore_index=True)


def _points(n: int, scale: float, rng: np.random.Generator, effect_sd: float = 0.0):
    """Forecasts with a median of 0 and a calibrated 80 % band for N(0, 1) noise; actuals
    N(0, 1) plus, on every point, an effect N(0, ``effect_sd``)."""
    pred = np.tile([-Z90, 0.0, Z90], (n, 1))
    y = rng.normal(size=n) + rng.normal(0, effect_sd, n) if effect_sd else rng.normal(size=n)
    return pred, y, np.tile(np.arange(7), n // 7 + 1)[:n], np.full(n, scale), np.repeat(np.arange(6), n // 6 + 1)[:n]


def _coverage(pred: np.ndarray, y: np.ndarray) -> float:
    return float(((y >= pred[:, 0]) & (y <= pred[:, -1])).mean())


def test_a_flag_never_seen_by_the_calibration_with_a_big_effect_gets_about_nominal_coverage():
    # the history has seen events of one kind (event_a) move the level by about 6 noise sds;
    # the backtest saw neither event; the forecast steps all carry the unseen event_b
    history = _history(event_sd=6.0)
    flags = find_flags(history, ["event_a", "event_b"])
    assert flags.columns == ("event_a", "event_b")
    prior = flag_prior(history, flags, 7)
    scale = float(np.mean([series_scale(g.to_numpy(), 7) for _, g in history.groupby("unique_id")["y"]]))
    rng = np.random.default_rng(1)
    pred, y, steps, scales, windows = _points(840, scale, rng)
    cal = fit_conformal(pred, y, LEVELS, steps, scales, windows, flags=np.zeros((840, 2), bool), prior=prior)
    fresh, y_new, steps, scales, _ = _points(840, scale, rng, effect_sd=6.0)
    active = np.tile([False, True], (840, 1))
    before = _coverage(cal.apply(fresh, steps, scales, LEVELS), y_new)  # the flags unknown: as before
    after = _coverage(cal.apply(fresh, steps, scales, LEVELS, flags=active), y_new)
    assert before < 0.35
    assert 0.72 <= after <= 0.92
    # unflagged steps are left as they were
    np.testing.assert_array_equal(cal.apply(fresh, steps, scales, LEVELS, flags=np.zeros_like(active)),
                                  cal.apply(fresh, steps, scales, LEVELS))


def test_when_the_events_seen_lowered_demand_an_unseen_one_widens_the_band_mostly_below():
    history = _history(event_sd=6.0, down=True)
    prior = flag_prior(history, find_flags(history, ["event_a", "event_b"]), 7)
    rng = np.random.default_rng(7)
    pred, y, steps, scales, windows = _points(420, 1.0, rng)
    cal = fit_conformal(pred, y, LEVELS, steps, scales, windows, flags=np.zeros((420, 2), bool), prior=prior)
    out = cal.apply(pred, steps, scales, LEVELS, flags=np.tile([False, True], (420, 1)))
    plain = cal.apply(pred, steps, scales, LEVELS)
    below, above = plain[:, 0] - out[:, 0], out[:, 2] - plain[:, 2]
    assert (below > 3 * above).all() and (below > 2).all()


def test_a_flag_never_active_anywhere_still_widens_its_steps_by_the_conservative_fallback():
    history = _history(event_sd=0.0).drop(columns="event_a")
    flags = find_flags(history, ["event_b"])
    prior = flag_prior(history, flags, 7)
    assert prior.history_points.tolist() == [0] and (prior.variance[0] > 0).all()
    rng = np.random.default_rng(2)
    pred, y, steps, scales, windows = _points(420, 1.0, rng)
    cal = fit_conformal(pred, y, LEVELS, steps, scales, windows, flags=np.zeros((420, 1), bool), prior=prior)
    out = cal.apply(pred, steps, scales, LEVELS, flags=np.ones((420, 1), bool))
    plain = cal.apply(pred, steps, scales, LEVELS)
    assert ((out[:, 2] - out[:, 0]) > 1.5 * (plain[:, 2] - plain[:, 0])).all()
    np.testing.assert_array_equal(out[:, 1], plain[:, 1])  # the median stays


def test_a_flag_common_in_the_backtest_leaves_the_bands_unchanged():
    # a promotion with a big effect in the history, active on many backtest points where the
    # forecasts were calibrated: the conformal offsets already saw it
    history = _history(event_sd=6.0)
    flags = find_flags(history, ["event_a"])
    prior = flag_prior(history, flags, 7)
    rng = np.random.default_rng(3)
    pred, y, steps, scales, windows = _points(840, 1.0, rng)
    active = rng.random((840, 1)) < 0.2
    assert active.sum() >= COMMON_POINTS
    cal = fit_conformal(pred, y, LEVELS, steps, scales, windows, flags=active, prior=prior)
    bare = fit_conformal(pred, y, LEVELS, steps, scales, windows)
    np.testing.assert_array_equal(cal.apply(pred, steps, scales, LEVELS, flags=active),
                                  bare.apply(pred, steps, scales, LEVELS))


def test_a_rare_flag_whose_backtest_points_were_well_forecast_is_widened_less_than_its_prior():
    history = _history(event_sd=6.0)
    flags = find_flags(history, ["event_a", "event_b"])
    prior = flag_prior(history, flags, 7)
    rng = np.random.default_rng(4)
    pred, y, steps, scales, windows = _points(840, 1.0, rng)
    active = np.zeros((840, 2), bool)
    active[:20, 0] = True  # event_a on 20 backtest points, forecast as well as the others
    cal = fit_conformal(pred, y, LEVELS, steps, scales, windows, flags=active, prior=prior)
    assert (cal.widening.variance[0] > 0).all() and (cal.widening.variance[0] < 0.5 * prior.variance[0]).all()


def test_continuous_covariates_are_not_flags_and_a_panel_without_flags_is_not_widened():
    history = _history().assign(price=lambda f: np.random.default_rng(5).uniform(1, 2, len(f)))
    assert find_flags(history, ["price"]).columns == ()
    prior = flag_prior(history, find_flags(history, ["price"]), 7)
    rng = np.random.default_rng(6)
    pred, y, steps, scales, windows = _points(420, 1.0, rng)
    cal = fit_conformal(pred, y, LEVELS, steps, scales, windows, flags=np.zeros((420, 0), bool), prior=prior)
    assert cal.widening is None


def test_the_engine_widens_the_forecast_steps_of_an_event_its_history_never_had(make_panel, make_future):
    from fcplan.models.engine import run_engine

    panel = make_panel(n_series=3, length=120).assign(event=0.0)
    future = make_future(panel, 7, event=0.0)
    flagged = (future["ds"] == future["ds"].min() + pd.Timedelta(days=3)).to_numpy()
    future.loc[flagged, "event"] = 1.0
    cols = ["0.1", "0.5", "0.9"]
    with_event = run_engine(panel, 7, LEVELS, future=future, models=["theta"]).forecast[cols].to_numpy()
    plain = run_engine(panel, 7, LEVELS, future=make_future(panel, 7, event=0.0), models=["theta"]).forecast
    plain = plain[cols].to_numpy()
    width, plain_width = with_event[:, 2] - with_event[:, 0], plain[:, 2] - plain[:, 0]
    assert (width[flagged] > 1.3 * plain_width[flagged]).all()
    np.testing.assert_allclose(with_event[~flagged], plain[~flagged])  # the other steps are as they were
    np.testing.assert_allclose(with_event[:, 1], plain[:, 1])  # and so is every median


def test_the_engine_leaves_a_promotion_common_in_its_backtest_alone(make_panel, make_future):
    from fcplan.models.engine import run_backtest

    panel = make_panel(n_series=20, length=70, promo=True)
    calibration = run_backtest(panel, 7, LEVELS, models=["theta"]).calibration
    assert calibration.widening.flags.columns == ("promo",)
    assert calibration.widening.points[0] >= COMMON_POINTS
    assert calibration.widening.variance.tolist() == [[0.0, 0.0]]


def test_an_unseen_event_is_compared_with_the_events_seen_not_with_a_common_flag():
    history = _history(event_sd=0.0).drop(columns="event_a")
    promo = np.random.default_rng(8).random(len(history)) < 0.3  # a common flag with a big effect
    history = history.assign(promo=promo.astype(float), y=history["y"] + 30 * promo)
    flags = find_flags(history, ["promo", "event_b"])
    assert flags.columns == ("promo", "event_b")
    unseen = flag_prior(history, flags, 7).variance[1]
    scale = float(np.mean([series_scale(g.to_numpy(), 7) for _, g in history.groupby("unique_id")["y"]]))
    promo_size = (30 / scale) ** 2  # the promotion's effect, squared series scales
    assert (unseen > 0).all() and (unseen < 0.1 * promo_size).all()  # the fallback, not the promotion's size


def _missed_window(scales: list[float]) -> tuple:
    """Two series (``scales``) x 6 backtest windows of 14 points; in series 0's newest window every
    point is 6 scales under the forecast, one of them flagged ``event_a``. Returns the arguments of
    :func:`fit_conformal` up to ``windows``, its ``flags``, ``prior`` and ``series``, and that point."""
    history = _history(event_sd=0.0)
    prior = flag_prior(history, find_flags(history, ["event_a", "event_b"]), 7)
    rng = np.random.default_rng(9)
    n = 2 * 6 * 14
    pred = np.tile([-Z90, 0.0, Z90], (n, 1))
    windows = np.tile(np.repeat(np.arange(6), 14), 2)
    series = np.repeat(["s0", "s1"], 6 * 14)
    steps = np.tile(np.arange(14), 12)
    y = rng.normal(size=n)
    shifted = (series == "s0") & (windows == 5)
    y[shifted] -= 6.0
    active = np.zeros((n, 2), bool)
    point = np.flatnonzero(shifted)[3]
    active[point, 0] = True
    return (pred, y, LEVELS, steps, np.repeat(scales, 6 * 14), windows), active, prior, series, point


def test_a_flagged_point_in_a_window_whose_level_the_models_missed_is_not_evidence_of_the_flag():
    # in series 0's newest window every point (the flagged one too) is 6 scales under the forecast: a
    # level shift (a schedule change) the conformal offsets already see, not an effect of the holiday
    args, active, prior, _, point = _missed_window([1.0, 2.0])  # one scale per series
    cal = fit_conformal(*args, flags=active, prior=prior)
    # the flagged point sits at its window's level: about an ordinary point's spread, no extra
    # (counted from the overall level, its 6-scale miss would add about 12 squared scales)
    assert cal.widening.points.tolist() == [1, 0]
    assert (cal.widening.variance[0] < 1.0).all()
    # the same point off its window's level (a real holiday effect) still widens
    pred, y, *rest = args
    y2 = y.copy()
    y2[point] -= 6.0
    cal2 = fit_conformal(pred, y2, *rest, flags=active, prior=prior)
    assert cal2.widening.variance[0, 0] > 3.0


def test_a_windows_level_is_its_own_series_even_where_two_series_share_a_scale():
    # count series' scales coincide (1,000 Poisson series of 200 days: 64-364 distinct scales), and the
    # window level was the median over the series of the same scale: series 0's missed level (6 scales
    # under, every point) was blended with series 1's (none), and its flagged point read as an effect
    args, active, prior, series, _ = _missed_window([1.0, 1.0])  # the same scale for both series
    cal = fit_conformal(*args, flags=active, prior=prior, series=series)
    assert (cal.widening.variance[0] < 1.0).all()
    # told apart by their scale only (evidence recorded without series), the two are one group: 10.2
    blended = fit_conformal(*args, flags=active, prior=prior)
    assert blended.widening.variance[0, 0] > 3.0
