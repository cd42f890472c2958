"""Promotion effects per center and kind, partially pooled across centers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fcplan.models.promo_kinds import KIND_EFFECT_COLUMNS, estimate_kind_effects, kind_discounts

#: Effect per discount point by center and kind: flash sales lift more, FC-BIG reacts twice as much.
TRUE = {("FC-BIG", "flash_sale"): 0.03, ("FC-BIG", "discount"): 0.01}
DEFAULT = {"flash_sale": 0.015, "discount": 0.01}


def panel(seed: int = 0, days: int = 365, sparse: str = "FC-SPARSE") -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2025-01-01", periods=days, freq="D")
    hist, disc = [], []
    for i, center in enumerate(["FC-BIG", "FC-A", "FC-B", "FC-C", sparse]):
        level = 1500.0 if center == "FC-BIG" else 600.0 + 100 * i
        weekly = np.where(ds.dayofweek >= 5, 0.7, 1.0)
        lift = np.zeros(days)
        for kind in ("discount", "flash_sale"):
            share = 0.01 if center == sparse else 0.12
            on = rng.random(days) < share
            d = np.where(on, rng.choice([0.1, 0.2, 0.3], days), 0.0)
            effect = TRUE.get((center, kind), DEFAULT[kind])
            if center == sparse and kind == "flash_sale":
                effect = 0.05  # few days: its own estimate is noisy and pulled to the pool
            lift += np.log1p(effect) * d * 100
            disc.append(pd.DataFrame({"unique_id": center, "ds": ds, "kind": kind, "discount": d}))
        y = rng.poisson(level * weekly * np.exp(lift)).astype(float)
        hist.append(pd.DataFrame({"unique_id": center, "ds": ds, "y": y}))
    return pd.concat(hist, ignore_index=True), pd.concat(disc, ignore_index=True)


def test_each_center_and_kind_gets_its_own_effect_when_the_evidence_is_strong() -> None:
    hist, disc = panel()
    effects = estimate_kind_effects(hist, disc).set_index(["unique_id", "kind"])
    assert list(effects.reset_index().columns) == KIND_EFFECT_COLUMNS
    assert effects.loc[("FC-BIG", "flash_sale"), "effect_per_pct"] == pytest.approx(0.03, abs=0.004)
    assert effects.loc[("FC-A", "flash_sale"), "effect_per_pct"] == pytest.approx(0.015, abs=0.004)
    assert effects.loc[("FC-A", "discount"), "effect_per_pct"] == pytest.approx(0.01, abs=0.004)
    # The kinds differ: one pooled number for every promotion would be wrong for both.
    assert effects.loc[("FC-A", "flash_sale"), "pooled_effect_per_pct"] > effects.loc[
        ("FC-A", "discount"), "pooled_effect_per_pct"]


def test_a_center_with_few_promotion_days_leans_on_the_other_centers() -> None:
    hist, disc = panel()
    effects = estimate_kind_effects(hist, disc).set_index(["unique_id", "kind"])
    sparse = effects.loc[("FC-SPARSE", "flash_sale")]
    assert sparse["promo_days"] < 10
    assert abs(sparse["effect_per_pct"] - sparse["pooled_effect_per_pct"]) < abs(0.05 - sparse["pooled_effect_per_pct"])


def test_no_promotions_gives_no_rows_and_a_rare_kind_gives_zero() -> None:
    hist, disc = panel()
    assert estimate_kind_effects(hist, disc.iloc[0:0]).empty
    rare = disc.assign(discount=0.0)
    rare.loc[rare.index[:2], "discount"] = 0.2
    effects = estimate_kind_effects(hist, rare)
    assert (effects["effect_per_pct"] == 0).all()


def test_kind_discounts_split_the_calendar_by_kind() -> None:
    calendar = pd.DataFrame({
        "center_ids": [None, ["FC-1"]], "start": [pd.Timestamp("2025-01-01 15:00"), pd.Timestamp("2025-01-02 15:00")],
        "end": [pd.Timestamp("2025-01-02 15:00"), pd.Timestamp("2025-01-03 15:00")],
        "kind": ["discount", "flash_sale"], "discount_pct": [10.0, 30.0], "status": ["active", "active"],
    })
    out = kind_discounts(calendar, ["FC-1", "FC-2"], pd.date_range("2025-01-02", periods=2), "Asia/Seoul")
    got = out.set_index(["unique_id", "ds", "kind"])["discount"]
    assert got[("FC-1", pd.Timestamp("2025-01-02"), "discount")] == pytest.approx(0.1)
    assert got[("FC-1", pd.Timestamp("2025-01-03"), "flash_sale")] == pytest.approx(0.3)
    assert got[("FC-2", pd.Timestamp("2025-01-03"), "flash_sale")] == 0.0


def test_the_retrainer_stores_the_effects_per_center_and_kind(sqlite_url: str) -> None:
    from datetime import datetime

    from fcplan.models.promo_kinds import store_kind_effects
    from fcplan.storage import make_engine
    from fcplan.storage import queries as q
    from fcplan.storage.schema import promotions

    engine = make_engine(sqlite_url)
    ds = pd.date_range("2025-01-01", periods=120, freq="D")
    promo_days = ds[::10]
    with engine.begin() as conn:
        conn.execute(promotions.insert(), [
            {"promo_id": f"p{i}", "center_ids": ["FC-1"], "start": (d - pd.Timedelta(hours=9)).to_pydatetime(),
             "end": (d + pd.Timedelta(hours=15)).to_pydatetime(), "kind": "flash_sale", "discount_pct": 20.0,
             "status": "active", "updated_at": datetime(2025, 1, 1)}
            for i, d in enumerate(promo_days)
        ])
    rng = np.random.default_rng(1)
    hist = pd.concat([
        pd.DataFrame({"unique_id": c, "ds": ds,
                      "y": rng.poisson(500 * np.where(ds.isin(promo_days) & (c == "FC-1"), 1.5, 1.0)).astype(float)})
        for c in ("FC-1", "FC-2")
    ])
    store_kind_effects(engine, "run-1", hist, "Asia/Seoul")
    stored = q.promo_kind_effects(engine, "run-1").set_index(["unique_id", "kind"])
    assert stored.loc[("FC-1", "flash_sale"), "promo_days"] == len(promo_days)
    assert stored.loc[("FC-1", "flash_sale"), "effect_per_pct"] == pytest.approx(1.5 ** (1 / 20) - 1, abs=0.005)
    assert stored.loc[("FC-2", "flash_sale"), "promo_days"] == 0
