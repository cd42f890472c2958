"""Every registered model passes one contract (AutoGluon's TESTABLE_MODELS)."""

import numpy as np
import pytest

from fcplan.models.registry import MODELS, TEST_PARAMS, get_model

LEVELS = [0.1, 0.5, 0.9]
HORIZON = 4


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_forecasts_awkward_panels_with_sorted_quantiles_and_no_nan(name, make_awkward_panel):
    panel = make_awkward_panel()
    model = get_model(name, **TEST_PARAMS.get(name, {}))
    frame = model.fit(panel, freq="D").predict_quantiles(HORIZON, quantiles=LEVELS)
    ids = set(panel["unique_id"])
    assert list(frame.columns) == ["unique_id", "ds", "model", "0.1", "0.5", "0.9"]
    assert len(frame) == len(ids) * HORIZON
    assert set(frame["unique_id"]) == ids
    assert frame.groupby("unique_id").size().eq(HORIZON).all()
    values = frame[["0.1", "0.5", "0.9"]].to_numpy()
    assert np.isfinite(values).all()
    assert (np.diff(values, axis=1) >= 0).all()
    last = panel.assign(ds=panel["ds"].astype("datetime64[ns]")).groupby("unique_id")["ds"].max()
    first_step = frame.groupby("unique_id")["ds"].min()
    assert (first_step == last.reindex(first_step.index) + np.timedelta64(1, "D")).all()
