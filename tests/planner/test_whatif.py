"""What-if factors: per-kind effects, never stacked on promotions the forecast holds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fcplan.planner.whatif import existing_promotions, promotion_factors

DAYS = pd.date_range("2026-03-02", periods=5)
HELD = pd.DataFrame({"kind": ["sale"], "discount_pct": [30.0],
                     "start": [pd.Timestamp("2026-03-03 00:00")], "end": [pd.Timestamp("2026-03-05 00:00")]})


def test_existing_promotions_mark_the_days_they_touch_with_their_largest_discount() -> None:
    small = pd.DataFrame({"kind": ["flash"], "discount_pct": [10.0], "start": [pd.Timestamp("2026-03-04 12:00")],
                          "end": [pd.Timestamp("2026-03-05 12:00")]})
    held = existing_promotions(pd.concat([HELD, small]), DAYS)
    assert held["discount_pct"].tolist() == [0, 30, 30, 10, 0]
    assert held["kind"].tolist() == ["", "sale", "sale", "flash", ""]


def test_the_kind_picks_the_effect_and_days_off_the_promotion_are_untouched() -> None:
    effects = {"flash": 0.03, "free_shipping": 0.0}
    f = promotion_factors(DAYS, DAYS[:2], "flash", 20, effects)
    np.testing.assert_allclose(f, [1.03**20, 1.03**20, 1, 1, 1])
    assert (promotion_factors(DAYS, DAYS[:2], "free_shipping", 20, effects) == 1).all()
    assert promotion_factors(DAYS, DAYS[:1], "new_kind", 10, effects, default=0.01)[0] == pytest.approx(1.01**10)


def test_a_promotion_is_not_stacked_on_one_the_forecast_already_holds() -> None:
    effects = {"sale": 0.01, "flash": 0.03}
    held = existing_promotions(HELD, DAYS)
    f = promotion_factors(DAYS, DAYS, "flash", 20, effects, held)
    # Days 2 and 3 already carry the 30% sale (1.01**30): only the extra lift of the flash sale is added.
    np.testing.assert_allclose(f, [1.03**20, 1.03**20 / 1.01**30, 1.03**20 / 1.01**30, 1.03**20, 1.03**20])
    weaker = promotion_factors(DAYS, DAYS, "sale", 10, effects, held)
    np.testing.assert_allclose(weaker, [1.01**10, 1, 1, 1.01**10, 1.01**10])
