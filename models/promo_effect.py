"""How much a promotion's discount lifts daily orders: one pooled log-linear regression.

Pure: a daily panel in, one row per center out. The dashboard's what-if page
reads the stored result and applies ``uplift(d%) = (1 + effect_per_pct) ** d``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fcplan.core.panel import DS, UNIQUE_ID, Y, validate_panel
from fcplan.core.promotions import EFFECT_PER_PCT, MIN_PROMO_DAYS, PROMO_DAYS
from fcplan.models.promotions import PROMO_DISCOUNT

EFFECT_COLUMNS = [UNIQUE_ID, EFFECT_PER_PCT, PROMO_DAYS]
#: The sane range of the uplift per discount percentage point (0% .. +5% orders per point).
MAX_EFFECT_PER_PCT = 0.05


def estimate_promo_effect(history: pd.DataFrame) -> pd.DataFrame:
    """Multiplicative uplift of daily orders per discount percentage point.

    ``history``: a daily panel ``unique_id, ds, y, promo_discount_frac`` (the largest
    discount running that day, as a fraction 0..1). Fits, pooled over centers,
    ``log1p(y) = a[center, day of week] + beta * discount_pct`` by least squares
    (center x day-of-week fixed effects, discount in percentage points); series
    that are zero throughout are left out of the fit. ``effect_per_pct =
    exp(beta) - 1``, clipped to ``0 .. MAX_EFFECT_PER_PCT``, so a discount of
    ``d`` percent lifts orders by ``(1 + effect_per_pct) ** d = exp(beta * d)``.

    Returns ``unique_id, effect_per_pct, promo_days``: one row per center, all
    with the pooled effect; ``promo_days`` counts the center-days with a
    discount in the fitted panel (the evidence behind the estimate). With fewer
    than ``MIN_PROMO_DAYS`` of them the effect is 0 ("not enough promotions").
    """
    panel = validate_panel(history, "history")
    if PROMO_DISCOUNT not in panel.columns:
        raise ValueError(
            f"history lacks column {PROMO_DISCOUNT!r}; it has {list(panel.columns)}. "
            "Add it with models.promotions.promotion_features (0 on days without a promotion)."
        )
    centers = sorted(panel[UNIQUE_ID].unique())
    if not centers:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(EFFECT_COLUMNS, (str, float, "int64"), strict=True)})
    y = panel[Y].clip(lower=0.0)
    live = y.groupby(panel[UNIQUE_ID]).transform("max") > 0
    fit = panel[live & y.notna()]
    discount = fit[PROMO_DISCOUNT].fillna(0.0).to_numpy(dtype="float64") * 100.0
    promo_days = int((discount > 0).sum())
    beta = _fit_beta(fit, discount) if promo_days >= MIN_PROMO_DAYS else 0.0
    effect = float(np.clip(np.expm1(beta), 0.0, MAX_EFFECT_PER_PCT))
    return pd.DataFrame({UNIQUE_ID: centers, EFFECT_PER_PCT: effect, PROMO_DAYS: promo_days})


def _fit_beta(fit: pd.DataFrame, discount: np.ndarray) -> float:
    """Slope of ``log1p(y)`` on ``discount`` (points) with one intercept per center and weekday."""
    groups = pd.factorize(fit[UNIQUE_ID].astype(str) + "|" + fit[DS].dt.dayofweek.astype(str))[0]
    design = np.zeros((len(fit), groups.max() + 2))
    design[np.arange(len(fit)), groups] = 1.0
    design[:, -1] = discount
    target = np.log1p(fit[Y].clip(lower=0.0).to_numpy(dtype="float64"))
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    beta = float(coef[-1])
    return beta if np.isfinite(beta) else 0.0
