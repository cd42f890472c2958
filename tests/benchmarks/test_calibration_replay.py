"""The calibration replay (benchmarks/calibration_replay.py) on made-up records: it needs no
engine run and no bench-only package."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from calibration_replay import WindowRecord, calibrated, replay, score_window

from fcplan.models import conformal

LEVELS = (0.1, 0.5, 0.9)


def record(widths: float, spread: float, n_windows: int = 6, per_window: int = 20, seed: int = 0) -> WindowRecord:
    """Evidence whose actuals spread ``spread`` around a median of 10 while the forecast's band
    is ``widths`` wide; a forecast of the same kind for the test window."""
    rng = np.random.default_rng(seed)
    n = n_windows * per_window
    pred = np.column_stack([np.full(n, 10 - widths / 2), np.full(n, 10.0), np.full(n, 10 + widths / 2)])
    evidence = dict(pred=pred, actuals=10 + spread * rng.standard_normal(n), levels=list(LEVELS),
                    steps=np.tile(np.arange(per_window), n_windows), scales=np.ones(n),
                    windows=np.repeat(np.arange(n_windows) - n_windows + 2, per_window))
    m = 40
    forecast = dict(values=pred[:m].copy(), steps=np.arange(m) % per_window, scales=np.ones(m), flags=None)
    return WindowRecord(evidence, forecast, 10 + spread * rng.standard_normal(m), LEVELS)


def test_score_window_counts_the_band_and_skips_missing_actuals():
    r = record(2.0, 1.0)
    r.actuals[:] = 10.0
    r.actuals[:5] = 100.0  # above the band
    r.actuals[5] = np.nan  # not scored
    q = r.forecast["values"]
    value, inside, n = score_window(r, q)
    assert n == 39 and inside == 34
    assert value > 0


def test_replay_calibrates_a_too_narrow_band_wider():
    r = record(widths=0.5, spread=2.0)  # the band covers far under 80 % of the evidence
    raw = score_window(r, r.forecast["values"])
    out = calibrated(r)
    assert (out[:, 2] - out[:, 0] > 0.5 + 1e-9).all()
    assert replay([r])["coverage_80"] > raw[1] / raw[2]


def test_replay_uses_the_fit_it_is_given():
    r = record(widths=0.5, spread=2.0)

    def no_offsets(**kw):
        cal = conformal.fit_conformal(**kw)
        return conformal.Calibration(cal.levels, np.zeros_like(cal.offsets), cal.bucket_ends, cal.windows, cal.points,
                                     cal.widening, cal.band)

    raw = score_window(r, r.forecast["values"])
    assert replay([r], no_offsets) == pytest.approx({"wql": raw[0], "coverage_80": raw[1] / raw[2]})
    assert replay([r]) != replay([r], no_offsets)


def test_records_round_trip_through_a_file(tmp_path):
    from calibration_replay import load, save

    r = record(widths=0.5, spread=2.0)
    save([r], tmp_path / "p.pkl")
    back = load(tmp_path / "p.pkl")
    assert isinstance(back[0], WindowRecord)
    assert replay(back) == replay([r])


def test_a_nonnegative_record_is_clipped_at_zero_after_calibrating():
    r = record(widths=0.5, spread=20.0)  # widened far below 0
    assert (calibrated(r)[:, 0] < 0).any()
    r.forecast["nonnegative"] = True
    assert (calibrated(r) >= 0).all()


def test_a_count_record_is_rounded_to_counts_where_rounding_helped_its_backtest():
    from fcplan.models.engine import Evidence

    r = record(widths=2.0, spread=1.0)
    ev = r.evidence
    ev["pred"] = ev["pred"] + 0.3  # a median of 10.3 where the counts centre on 10
    r.forecast["values"] = r.forecast["values"] + 0.3
    y = np.round(ev["actuals"]).clip(0)  # counts: rounding the backtest's quantiles lowers their loss
    r.evidence["actuals"] = y
    n = len(y)
    nested = Evidence(ev["pred"], y, ev["windows"], ev["steps"], ev["scales"], np.zeros((n, 0), dtype=bool))
    r.snap = {"nested": dict(evidence=nested, levels=list(LEVELS), method="conformal"),
              "choose": dict(actuals=y, quantiles=list(LEVELS), groups=ev["windows"], counts=np.ones(n, dtype=bool)),
              "rows": np.arange(len(r.actuals)) % 2 == 0}  # every other forecast row is a count series'
    out = calibrated(r)
    rows = r.snap["rows"]
    np.testing.assert_array_equal(out[rows, 1], 10.0)
    np.testing.assert_allclose(out[~rows, 1], 10.3)  # the other series are left as they are


def test_window_coverage_counts_each_record_and_its_standard_error():
    from calibration_replay import coverage_se, window_coverage

    records = [record(widths=0.5, spread=2.0, seed=s) for s in range(3)]
    counts = window_coverage(records)
    assert [n for _, n in counts] == [40, 40, 40]
    assert sum(i for i, _ in counts) / 120 == pytest.approx(replay(records)["coverage_80"])
    assert coverage_se([(8, 8), (0, 8)]) == pytest.approx(0.5)
    assert coverage_se([(4, 8), (4, 8)]) == 0.0
    assert np.isnan(coverage_se([(4, 8)]))


def test_with_windows_reaches_further_back():
    import pandas as pd
    from calibration_replay import with_windows
    from devsuite import Panel

    frame = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2020-01-06", periods=100, freq="W-MON"),
                          "y": np.arange(100.0)})
    panel = Panel("p", "one weekly series", frame, "W-MON", 8, 3, 52, "made up")
    assert with_windows(panel, None) is panel
    with pytest.raises(ValueError):
        panel.window(10)
    w = with_windows(panel, 10).window(10)
    assert len(w.history) == 100 - 80 and len(w.actuals) == 8


def test_a_variant_replays_with_the_constants_changed_and_puts_them_back():
    from calibration_replay import parse_variant, settings

    name, values = parse_variant("flat:RECENCY_DECAY=1,WINDOW_SHARE=0")
    assert name == "flat" and values == {"RECENCY_DECAY": 1, "WINDOW_SHARE": 0}
    records = [record(widths=0.5, spread=2.0, seed=s) for s in range(2)]
    for r in records:  # the newest windows' errors are smaller: the recency weights matter
        r.evidence["actuals"] = 10 + (r.evidence["actuals"] - 10) * np.where(r.evidence["windows"] > 0, 0.3, 1.0)
    before = replay(records)
    share, decay = conformal.WINDOW_SHARE, conformal.recency_weights.__defaults__
    with settings(values):
        assert (conformal.WINDOW_SHARE, conformal.recency_weights.__defaults__) == (0, (1,))
        flat = replay(records)
    assert (conformal.WINDOW_SHARE, conformal.recency_weights.__defaults__) == (share, decay)
    assert flat["coverage_80"] > before["coverage_80"]  # the older, wider errors weigh as much as the newest
    assert replay(records) == before
    with pytest.raises(KeyError), settings({"NO_SUCH_CONSTANT": 1}):
        pass


def test_compare_prints_each_variant_against_the_constants_as_they_are(tmp_path, capsys):
    from calibration_replay import compare, save

    save([record(widths=0.5, spread=2.0)], tmp_path / "p.pkl")
    compare(["p"], tmp_path, [("share0", {"WINDOW_SHARE": 0.0})])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["panel", "base", "share0"]
    assert lines[1].startswith("p ")
    assert lines[2].split()[-2] == "1.0000"  # base against itself
