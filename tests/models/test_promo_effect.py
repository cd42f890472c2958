from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fcplan.models.promo_effect import MAX_EFFECT_PER_PCT, estimate_promo_effect
from fcplan.models.retrain import store_promo_effect
from fcplan.storage import make_engine
from fcplan.storage import queries as q


def _panel(effect_per_pct: float, promo_share: float, seed: int = 0, days: int = 240) -> pd.DataFrame:
    """Three centers with weekly seasonality; promotion days with 10..40% discounts lift
    Poisson demand by ``(1 + effect_per_pct) ** discount_pct``."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2025-01-01", periods=days, freq="D")
    frames = []
    for i, level in enumerate((400.0, 900.0, 1500.0)):
        weekly = np.where(ds.dayofweek >= 5, 0.7, 1.0) * (1 + 0.05 * np.sin(ds.dayofweek.to_numpy() + i))
        on = rng.random(days) < promo_share
        discount = np.where(on, rng.choice([0.1, 0.2, 0.3, 0.4], days), 0.0)
        mean = level * weekly * (1 + effect_per_pct) ** (discount * 100)
        frames.append(pd.DataFrame({"unique_id": f"FC-{i}", "ds": ds, "y": rng.poisson(mean).astype(float),
                                    "promo": on.astype(float), "promo_discount_frac": discount}))
    return pd.concat(frames, ignore_index=True)


def test_when_promotions_lift_demand_then_the_effect_per_point_is_recovered() -> None:
    effects = estimate_promo_effect(_panel(0.012, promo_share=0.1))
    assert list(effects.columns) == ["unique_id", "effect_per_pct", "promo_days"]
    assert sorted(effects["unique_id"]) == ["FC-0", "FC-1", "FC-2"]
    assert effects["effect_per_pct"].to_numpy() == pytest.approx(0.012, abs=0.0015)
    assert (effects["promo_days"] > 20).all()


def test_when_a_series_is_all_zero_then_it_does_not_bias_the_estimate() -> None:
    panel = _panel(0.012, promo_share=0.1)
    dead = panel[panel["unique_id"] == "FC-0"].assign(unique_id="FC-dead", y=0.0)
    effects = estimate_promo_effect(pd.concat([panel, dead], ignore_index=True))
    assert effects.set_index("unique_id")["effect_per_pct"].to_numpy() == pytest.approx(0.012, abs=0.0015)


def test_when_there_are_no_promotions_then_the_effect_is_zero() -> None:
    effects = estimate_promo_effect(_panel(0.012, promo_share=0.0))
    assert (effects["effect_per_pct"] == 0.0).all()
    assert (effects["promo_days"] == 0).all()


def test_when_there_are_too_few_promotion_days_then_the_effect_is_zero() -> None:
    panel = _panel(0.012, promo_share=0.0)
    panel.loc[panel.index[:3], "promo_discount_frac"] = 0.3
    effects = estimate_promo_effect(panel)
    assert (effects["effect_per_pct"] == 0.0).all()
    assert (effects["promo_days"] == 3).all()


def test_when_the_effect_is_absurd_then_it_is_clipped() -> None:
    effects = estimate_promo_effect(_panel(0.2, promo_share=0.1))
    assert (effects["effect_per_pct"] == MAX_EFFECT_PER_PCT).all()


def test_when_history_lacks_the_discount_then_the_error_says_how_to_add_it() -> None:
    with pytest.raises(ValueError, match="promotion_features"):
        estimate_promo_effect(_panel(0.0, 0.1).drop(columns="promo_discount_frac"))


def test_when_the_retrainer_stores_the_effect_then_the_query_reads_it_back(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fc.db'}")
    store_promo_effect(engine, "run-1", _panel(0.012, promo_share=0.1))
    store_promo_effect(engine, "run-1", _panel(0.012, promo_share=0.1))  # idempotent
    stored = q.promo_effects(engine, "run-1")
    assert stored["unique_id"].tolist() == ["FC-0", "FC-1", "FC-2"]
    assert stored["effect_per_pct"].to_numpy() == pytest.approx(0.012, abs=0.0015)
    assert q.promo_effects(engine, "other").empty
