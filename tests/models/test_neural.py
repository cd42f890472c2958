"""Neural global models (models/neural/), with tiny hyperparameters, one thread."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from fcplan.core.panel import PanelError  # noqa: E402
from fcplan.models.neural import DeepAR, MLPQuantile, TiDE  # noqa: E402
from fcplan.models.neural.modules import MLPQuantileNet, negbin_log_prob  # noqa: E402

TINY_MLP = {"epochs": 2, "batches_per_epoch": 3, "batch_size": 16, "hidden": 8, "max_horizon": 7}
TINY_DEEPAR = {"epochs": 2, "batches_per_epoch": 3, "batch_size": 8, "hidden": 8, "n_samples": 20,
               "prediction_length": 7, "context_length": 14}
LEVELS = [0.1, 0.5, 0.9]


def make_panel(seed: int = 0) -> pd.DataFrame:
    """Three count series of different scale and length, awkward ids, a gap, a promo covariate."""
    rng = np.random.default_rng(seed)
    parts = []
    for uid, level, days in [("a b/ç", 5.0, 40), ("1", 500.0, 30), ("big", 20000.0, 45)]:
        ds = pd.date_range(end="2024-03-31", periods=days, freq="D")
        promo = (rng.random(days) < 0.2).astype(float)
        y = rng.poisson(level * (1 + 0.5 * promo)).astype(float)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": y, "promo": promo}))
    return pd.concat(parts, ignore_index=True).drop(index=7).reset_index(drop=True)


def future_frame(panel: pd.DataFrame, h: int) -> pd.DataFrame:
    last = panel.groupby("unique_id")["ds"].max()
    frames = [pd.DataFrame({"unique_id": uid, "ds": pd.date_range(end + pd.Timedelta(days=1), periods=h),
                            "promo": 0.0}) for uid, end in last.items()]
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize(("cls", "params"), [(MLPQuantile, TINY_MLP), (DeepAR, TINY_DEEPAR)])
def test_when_fitted_on_an_awkward_panel_then_forecast_has_every_row_and_no_crossing(cls, params) -> None:
    panel = make_panel()
    forecast = cls(**params).fit(panel).predict_quantiles(9, future_frame(panel, 9), quantiles=LEVELS)
    assert list(forecast.columns) == ["unique_id", "ds", "model", "0.1", "0.5", "0.9"]
    assert len(forecast) == 27 and set(forecast["unique_id"]) == {"a b/ç", "1", "big"}
    values = forecast[["0.1", "0.5", "0.9"]].to_numpy()
    assert np.isfinite(values).all() and (np.diff(values, axis=1) >= 0).all()


@pytest.mark.parametrize(("cls", "params"), [(MLPQuantile, TINY_MLP), (DeepAR, TINY_DEEPAR)])
def test_same_seed_gives_the_same_forecast(cls, params) -> None:
    panel = make_panel()
    first = cls(**params, seed=5).fit(panel).predict_quantiles(3, future_frame(panel, 3))
    second = cls(**params, seed=5).fit(panel).predict_quantiles(3, future_frame(panel, 3))
    pd.testing.assert_frame_equal(first, second)


@pytest.mark.parametrize(("cls", "params"), [(MLPQuantile, TINY_MLP), (DeepAR, TINY_DEEPAR)])
def test_when_series_are_short_constant_or_all_zero_then_fit_and_predict_do_not_crash(cls, params) -> None:
    ds = pd.date_range("2024-01-01", periods=20, freq="D")
    panel = pd.concat([
        pd.DataFrame({"unique_id": "zero", "ds": ds, "y": 0.0}),
        pd.DataFrame({"unique_id": "flat", "ds": ds, "y": 7.0}),
        pd.DataFrame({"unique_id": "short", "ds": ds[-2:], "y": [3.0, 4.0]}),
    ])
    forecast = cls(**params).fit(panel).predict_quantiles(4)
    assert len(forecast) == 12 and np.isfinite(forecast[["0.1", "0.5", "0.9"]].to_numpy()).all()
    one_row = pd.DataFrame({"unique_id": ["x"], "ds": pd.to_datetime(["2024-01-01"]), "y": [2.0]})
    forecast = cls(**params).fit(one_row, freq="D").predict_quantiles(2)
    np.testing.assert_allclose(forecast["0.5"], [2, 2])


def test_negative_binomial_log_prob_matches_scipy() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    y = np.array([0.0, 1.0, 3.0, 10.0, 250.0])
    mu = np.array([0.5, 2.0, 3.0, 8.0, 300.0])
    alpha = np.array([0.1, 1.0, 0.5, 2.0, 0.05])
    got = negbin_log_prob(torch.tensor(y), torch.tensor(mu), torch.tensor(alpha)).numpy()
    r = 1.0 / alpha
    expected = scipy_stats.nbinom(n=r, p=r / (r + mu)).logpmf(y)
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_mlp_quantile_outputs_never_cross_even_untrained() -> None:
    torch.manual_seed(0)
    net = MLPQuantileNet(n_inputs=5, horizon=4, n_levels=6, hidden=8)
    out = net(torch.randn(32, 5))
    assert out.shape == (32, 4, 6) and (out.diff(dim=-1) >= 0).all()


def test_when_counts_are_negative_then_deepar_says_which_models_to_use() -> None:
    panel = make_panel()
    panel.loc[0, "y"] = -1.0
    with pytest.raises(PanelError, match="non-negative"):
        DeepAR(**TINY_DEEPAR).fit(panel)


def test_importing_the_neural_models_does_not_import_torch() -> None:
    code = "import sys, models.neural; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_neural_training_batches_grow_with_the_training_windows_up_to_the_cap() -> None:
    from fcplan.models.neural.training import MIN_BATCHES, step_budget

    small = step_budget(n_windows=100, batch_size=64, epochs=30, batches_per_epoch=50, passes=10.0)
    large = step_budget(n_windows=10_000, batch_size=64, epochs=30, batches_per_epoch=50, passes=10.0)
    huge = step_budget(n_windows=10**7, batch_size=64, epochs=30, batches_per_epoch=50, passes=10.0)
    total = [e * b for e, b in (small, large, huge)]
    assert MIN_BATCHES <= total[0] < total[1] <= total[2]
    assert total[2] <= 30 * 50 + 30 and huge[0] <= 30
    assert step_budget(100, 64, 30, 50, passes=None) == (30, 50)


@pytest.mark.parametrize(("model_cls", "passes"), [(MLPQuantile, 10), (TiDE, 10), (DeepAR, 5)])
def test_networks_see_their_training_windows_about_ten_times(model_cls, passes, monkeypatch) -> None:
    """The default step budget: 10 passes over the windows (5 for DeepAR; 20 and 10 cost a
    mid-size panel's networks twice the batches for no better dev-suite wQL)."""
    from fcplan.models.neural import training

    seen: list[tuple[int, int]] = []

    def budget(n_windows, batch_size, epochs, batches_per_epoch, passes):
        seen.append((n_windows, passes))
        return 1, 1

    monkeypatch.setattr(training, "step_budget", budget)
    tiny = {k: v for k, v in (TINY_DEEPAR if model_cls is DeepAR else TINY_MLP).items()
            if k not in ("epochs", "batches_per_epoch")}
    model_cls(**tiny).fit(make_panel())
    assert len(seen) == 1 and seen[0][0] > 0 and seen[0][1] == passes


def test_when_a_holiday_country_is_set_then_every_holiday_flag_is_a_known_future_input() -> None:
    from fcplan.core.calendar import HOLIDAY_COLUMNS

    model = MLPQuantile(**TINY_MLP, country="KR").fit(make_panel(), freq="D")
    _, known = model._step_features(model.grid_)
    # The promo covariate and every holiday flag travel over the horizon; the calendar
    # encoding alone is taken at the origin.
    assert known.shape[-1] == 1 + len(HOLIDAY_COLUMNS)
    flags = known[..., 1:]
    assert set(np.unique(flags)) <= {0.0, 1.0}


def test_the_mlp_context_is_no_longer_than_the_fitted_history(make_panel):
    from fcplan.models.neural import MLPQuantile

    small = {"epochs": 1, "batches_per_epoch": 2, "hidden": 8, "max_horizon": 4}
    weekly = MLPQuantile(**small).fit(make_panel(n_series=2, length=60, freq="W-SUN"))
    assert weekly._context() == 60  # not four 52-week seasons of padding
    assert MLPQuantile(**small, context_length=80).fit(make_panel(n_series=2, length=60, freq="W-SUN"))._context() == 80
    assert MLPQuantile(**small).fit(make_panel(n_series=2, length=60))._context() == 28


def test_the_training_optimizer_follows_torch_adam_with_cosine_annealing() -> None:
    import torch

    from fcplan.models.neural.training import Adam

    def run(hand_written: bool) -> list[torch.Tensor]:
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        x, y = torch.randn(32, 4), torch.randn(32, 2)
        if hand_written:
            opt = Adam(list(net.parameters()), 0.01, epochs=3)
        else:
            opt = torch.optim.Adam(net.parameters(), lr=0.01)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=3)
        for epoch in range(3):
            for _ in range(5):
                opt.zero_grad()
                ((net(x) - y) ** 2).mean().backward()
                opt.step()
            opt.end_epoch(epoch) if hand_written else sched.step()
        return [p.detach().clone() for p in net.parameters()]

    for ours, torchs in zip(run(True), run(False), strict=True):
        torch.testing.assert_close(ours, torchs, rtol=1e-5, atol=1e-6)


def test_fitting_a_network_does_not_import_torch_dynamo() -> None:
    """Constructing ``torch.optim.Adam`` imports ``torch._dynamo`` (about 2 s a process)."""
    code = (
        "import sys, numpy as np, pandas as pd\n"
        "from fcplan.models.neural import MLPQuantile\n"
        "ds = pd.date_range('2024-01-01', periods=80, freq='D')\n"
        "panel = pd.DataFrame({'unique_id': 'a', 'ds': ds, 'y': np.arange(80.0) % 7})\n"
        "MLPQuantile(max_horizon=7, epochs=2, batches_per_epoch=3, hidden=8).fit(panel, freq='D')\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def _reference_samples(model, grid, steps, scales, rows, origins):
    """The MLP's samples gathered cell by cell from the unpadded grid (NaN outside it)."""
    from fcplan.models.features import take

    calendar, known_steps = steps
    context, horizon = model._context(), model.params["max_horizon"]
    scale = scales[rows, origins]
    ctx = origins[:, None] - np.arange(context - 1, -1, -1)[None, :]
    tgt = origins[:, None] + 1 + np.arange(horizon)[None, :]
    r = rows[:, None]
    lags = take(grid.y, r, ctx) / scale[:, None]
    parts = [
        np.nan_to_num(lags), np.isfinite(lags).astype(float),
        np.nan_to_num(take(grid.x, r, ctx)).reshape(len(rows), -1),
        np.nan_to_num(take(known_steps, r, tgt)).reshape(len(rows), -1),
        np.nan_to_num(take(calendar, rows, origins + 1)),
        np.log1p(scale)[:, None],
    ]
    target = take(grid.y, r, tgt) / scale[:, None]
    return np.concatenate(parts, axis=1), scale, np.nan_to_num(target), np.isfinite(target).astype(float)


@pytest.mark.parametrize("context_length", [None, 50])
def test_mlp_samples_are_the_grid_cells_nan_outside_it(context_length) -> None:
    """The padded gather of the training samples (and of the prediction grid) gives exactly
    the cells of the grid, with the steps before a series starts and after its end unobserved."""
    from fcplan.models.features import series_scale
    from fcplan.models.neural.windows import origin_pairs, prediction_grid

    panel = make_panel()
    model = MLPQuantile(**{**TINY_MLP, "context_length": context_length}).fit(panel)
    steps = model._step_features(model.grid_)
    scales = series_scale(model.grid_.y)
    pairs = origin_pairs(model.grid_)
    got = model._samples(model.grid_, steps, scales, pairs[:, 0], pairs[:, 1])
    want = _reference_samples(model, model.grid_, steps, scales, pairs[:, 0], pairs[:, 1])
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)
    grid = prediction_grid(model, 7, future_frame(panel, 7))
    steps, scales = model._step_features(grid), series_scale(grid.y)
    rows = np.arange(len(model.series_ids_))
    origins = np.full(len(rows), grid.n_past - 1)
    for a, b in zip(model._samples(grid, steps, scales, rows, origins),
                    _reference_samples(model, grid, steps, scales, rows, origins), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cls", [MLPQuantile, TiDE])
def test_a_fitted_network_moved_to_a_longer_history_forecasts_from_its_end_without_refitting(cls) -> None:
    panel = make_panel()
    short = panel[panel.groupby("unique_id").cumcount(ascending=False) >= 7].reset_index(drop=True)
    model = cls(**TINY_MLP).fit(short)
    before = model.predict_quantiles(7, future=future_frame(short, 7), quantiles=LEVELS)
    moved = model.with_history(panel)
    assert moved is not model and moved.net_ is model.net_ and moved.context_ == model.context_
    forecast = moved.predict_quantiles(7, future=future_frame(panel, 7), quantiles=LEVELS)
    ends = panel.groupby("unique_id")["ds"].max()
    assert (forecast.groupby("unique_id")["ds"].min() == ends + pd.Timedelta(days=1)).all()
    assert np.isfinite(forecast[["0.1", "0.5", "0.9"]].to_numpy()).all()
    # the original is untouched, and moving to the panel it was fitted on changes nothing
    assert model.predict_quantiles(7, future=future_frame(short, 7), quantiles=LEVELS).equals(before)
    assert model.with_history(short).predict_quantiles(7, future=future_frame(short, 7), quantiles=LEVELS).equals(
        before)


def test_a_network_does_not_move_to_a_panel_with_other_covariates() -> None:
    panel = make_panel()
    model = MLPQuantile(**TINY_MLP).fit(panel)
    with pytest.raises(ValueError, match="covariates"):
        model.with_history(panel.drop(columns="promo"))


def test_the_quantile_head_gives_the_strided_softplus_values() -> None:
    from torch.nn import functional as F

    from fcplan.models.neural.modules import monotone_levels

    raw = torch.randn(64, 7, 13)
    expected = torch.cat([raw[..., :1], raw[..., :1] + torch.cumsum(F.softplus(raw[..., 1:]), dim=-1)], dim=-1)
    torch.testing.assert_close(monotone_levels(raw), expected)
