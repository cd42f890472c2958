"""A member (or the ensemble) forecasting NaN (session 18, i28-probe): the engine's final clean-up
turned NaN into 0 without a word, a member's flat baseline was 0 where the history ended in a week
of missing days, and a member that fell back went into the ensemble's average at full weight."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fcplan.models.base import Forecaster
from fcplan.models.engine import _tidy
from fcplan.models.ensemble import EnsembleForecaster

LEVELS = [0.1, 0.5, 0.9]


class _Const(Forecaster):
    """Forecasts ``level`` on every series, NaN on those of ``nan_on``."""

    name = "const"

    def __init__(self, level: float = 10.0, nan_on: tuple[str, ...] = ()) -> None:
        super().__init__(level=level, nan_on=tuple(nan_on))

    def _fit(self, panel):
        pass

    def _predict(self, h, future, quantiles):
        out = np.full((len(self.series_ids_), h, len(quantiles)), float(self.params["level"]))
        out[..., 0] -= 1.0
        out[..., -1] += 1.0
        for i, uid in enumerate(self.series_ids_):
            if uid in self.params["nan_on"]:
                out[i] = np.nan
        return out


def _panel(tail_nan: int = 0) -> pd.DataFrame:
    frames = []
    for uid in ("a", "b"):
        y = np.full(30, 12.0)
        if tail_nan:
            y[-tail_nan:] = np.nan
        frames.append(pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2025-01-01", periods=30), "y": y}))
    return pd.concat(frames, ignore_index=True)


def test_tidy_refuses_a_nan_forecast_naming_the_series() -> None:
    frame = pd.DataFrame({"unique_id": ["a", "b"], "ds": pd.Timestamp("2025-02-01"), "model": "ensemble",
                          "0.1": [1.0, np.nan], "0.5": [2.0, np.nan], "0.9": [3.0, 5.0]})
    with pytest.raises(ValueError, match=r"not a number .* e\.g\. \['b'\]"):
        _tidy(frame, LEVELS)


def test_tidy_sorts_finite_forecasts() -> None:
    frame = pd.DataFrame({"unique_id": ["a"], "ds": pd.Timestamp("2025-02-01"), "model": "ensemble",
                          "0.1": [3.0], "0.5": [2.0], "0.9": [1.0]})
    assert _tidy(frame, LEVELS)[["0.1", "0.5", "0.9"]].to_numpy().tolist() == [[1.0, 2.0, 3.0]]


def test_a_member_forecasting_nan_on_a_series_leaves_it_to_the_finite_members(caplog) -> None:
    members = {"good": _Const(20.0), "nan": _Const(10.0, nan_on=("b",))}
    ensemble = EnsembleForecaster(members, {"good": 0.5, "nan": 0.5}).fit(_panel(), freq="D")
    with caplog.at_level("WARNING"):
        forecast = ensemble.predict_quantiles(3, quantiles=LEVELS)
    b = forecast[forecast["unique_id"] == "b"][["0.1", "0.5", "0.9"]].to_numpy()
    a = forecast[forecast["unique_id"] == "a"][["0.1", "0.5", "0.9"]].to_numpy()
    assert np.allclose(b, [19.0, 20.0, 21.0])  # the good member alone (was 16 = 20 and the flat 12 halved)
    assert np.allclose(a, [14.0, 15.0, 16.0])  # both members where both are finite
    assert "some members fell back to a flat baseline (['nan'])" in caplog.text and "['b']" in caplog.text


def test_a_flat_fallback_after_a_week_of_missing_days_is_the_last_observed_level() -> None:
    member = _Const(10.0, nan_on=("a", "b")).fit(_panel(tail_nan=8), freq="D")
    forecast = member.predict_quantiles(2, quantiles=LEVELS)
    assert np.allclose(forecast[["0.1", "0.5", "0.9"]].to_numpy(), 12.0)  # was 0
    assert member.guarded_.tolist() == [True, True]

