"""TiDE: shapes, non-crossing quantiles, and that it uses known-future covariates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from fcplan.models.neural import TiDE  # noqa: E402
from fcplan.models.neural.modules import TiDENet  # noqa: E402

TINY = {"epochs": 2, "batches_per_epoch": 3, "batch_size": 16, "hidden": 8, "max_horizon": 7}


def _promo_panel(n_series: int = 8, length: int = 150, seed: int = 0) -> pd.DataFrame:
    """Daily series lifted by 40 on the days of a known promotion flag."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        promo = (rng.random(length) < 0.2).astype(float)
        y = rng.poisson(20, length) + 40.0 * promo
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2024-01-01", periods=length),
                                    "y": y, "promo": promo}))
    return pd.concat(frames, ignore_index=True)


def test_tide_forecasts_every_step_with_ordered_quantiles(make_panel):
    panel = make_panel(n_series=3, length=60, promo=True)
    model = TiDE(**TINY).fit(panel)
    future = panel.groupby("unique_id").tail(7).assign(ds=lambda f: f["ds"] + pd.Timedelta(days=7))
    frame = model.predict_quantiles(7, future=future[["unique_id", "ds", "promo"]], quantiles=[0.1, 0.5, 0.9])
    assert len(frame) == 21
    values = frame[["0.1", "0.5", "0.9"]].to_numpy()
    assert np.isfinite(values).all() and (np.diff(values, axis=1) >= 0).all()


def test_tide_net_quantiles_never_cross_even_untrained():
    torch.manual_seed(0)
    net = TiDENet(n_inputs=40, horizon=4, n_levels=5, known_start=20, n_known=2, context=10, hidden=8)
    out = net(torch.randn(6, 40) * 10)
    assert out.shape == (6, 4, 5) and bool((out.diff(dim=-1) >= 0).all())


def test_tide_forecasts_a_flag_driven_series_better_with_the_flag_than_without():
    full = _promo_panel()
    ends = full.groupby("unique_id")["ds"].transform("max")
    past = full[full["ds"] <= ends - pd.Timedelta(days=7)]
    test = full[full["ds"] > ends - pd.Timedelta(days=7)]
    params = {**TINY, "epochs": 10, "batches_per_epoch": 20, "batch_size": 64, "hidden": 32, "learning_rate": 3e-3}
    with_flag = TiDE(**params).fit(past).predict_quantiles(7, future=test[["unique_id", "ds", "promo"]])
    without = TiDE(**params).fit(past.drop(columns="promo")).predict_quantiles(7)
    err_with = np.abs(with_flag["0.5"].to_numpy() - test["y"].to_numpy()).mean()
    err_without = np.abs(without["0.5"].to_numpy() - test["y"].to_numpy()).mean()
    assert err_with < 0.7 * err_without


def test_tide_is_deterministic_under_a_seed(make_panel):
    panel = make_panel(n_series=2, length=50)
    first = TiDE(**TINY, seed=3).fit(panel).predict_quantiles(7)
    again = TiDE(**TINY, seed=3).fit(panel).predict_quantiles(7)
    pd.testing.assert_frame_equal(first, again)
