"""Promotion effects per center and per kind, partially pooled across centers.

A free-shipping week and a flash sale with the same discount do not lift orders
alike, nor does one discount lift every center alike. :func:`estimate_kind_effects`
fits, for each promotion kind ``k``, a slope of ``log1p(orders)`` on the discount
(in percentage points) with center x weekday effects, pooled over centers
(``b_k``); then each center's own deviation ``u_ck`` from its residuals, shrunk
towards 0 by how much evidence it has (empirical Bayes: ``u_ck * tau_k^2 /
(tau_k^2 + se_ck^2)`` with ``tau_k^2`` the spread of the centers' deviations
beyond their noise). A center with few promotion days of a kind gets nearly
the pooled effect; one with many gets its own. No clipping: the pooling is the
guard against noise. Pure: frames in, frame out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from fcplan.core.locales import Locales
from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.core.promotions import EFFECT_PER_PCT, MIN_PROMO_DAYS, PROMO_DAYS
from fcplan.models.promotions import PROMO_DISCOUNT, promotion_features

KIND = "kind"
DISCOUNT = "discount"
POOLED = "pooled_effect_per_pct"
KIND_EFFECT_COLUMNS = [UNIQUE_ID, KIND, EFFECT_PER_PCT, POOLED, PROMO_DAYS]


def kind_discounts(calendar: pd.DataFrame, centers: Sequence[str], days: pd.DatetimeIndex, tz: str) -> pd.DataFrame:
    """``unique_id, ds, kind, discount`` (largest discount of that kind running that local
    day, as a fraction) for every center, day and kind of the calendar (see
    :func:`fcplan.models.promotions.promotion_features` for the calendar's columns)."""
    frames = []
    kinds = sorted(calendar[KIND].astype(str).unique()) if len(calendar) else []
    for kind in kinds:
        feats = promotion_features(calendar[calendar[KIND].astype(str) == kind], centers, days, tz)
        frames.append(feats[[UNIQUE_ID, DS]].assign(**{KIND: kind, DISCOUNT: feats[PROMO_DISCOUNT].to_numpy()}))
    if not frames:
        return pd.DataFrame({UNIQUE_ID: pd.Series(dtype=str), DS: pd.Series(dtype="datetime64[ns]"),
                             KIND: pd.Series(dtype=str), DISCOUNT: pd.Series(dtype=float)})
    return pd.concat(frames, ignore_index=True)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({UNIQUE_ID: pd.Series(dtype=str), KIND: pd.Series(dtype=str),
                         EFFECT_PER_PCT: pd.Series(dtype=float), POOLED: pd.Series(dtype=float),
                         PROMO_DAYS: pd.Series(dtype="int64")})


def estimate_kind_effects(history: pd.DataFrame, discounts: pd.DataFrame) -> pd.DataFrame:
    """Effect per discount point of each promotion kind at each center.

    ``history``: ``unique_id, ds, y`` daily orders; ``discounts``: ``unique_id, ds,
    kind, discount`` (:func:`kind_discounts`; fraction 0..1, missing = 0). Returns
    :data:`KIND_EFFECT_COLUMNS`: one row per center and kind, ``effect_per_pct`` the
    center's partially pooled effect, ``pooled_effect_per_pct`` the kind's effect over
    all centers, ``promo_days`` the center's days with that kind. A kind with fewer
    than ``MIN_PROMO_DAYS`` days over all centers has effect 0.
    """
    if history.empty or discounts.empty:
        return _empty()
    frame = history[[UNIQUE_ID, DS, Y]].copy()
    frame[UNIQUE_ID] = frame[UNIQUE_ID].astype(str)
    frame[DS] = pd.to_datetime(frame[DS])
    wide = discounts.assign(**{UNIQUE_ID: discounts[UNIQUE_ID].astype(str), DS: pd.to_datetime(discounts[DS])})
    wide = wide.pivot_table(index=[UNIQUE_ID, DS], columns=KIND, values=DISCOUNT, aggfunc="max", fill_value=0.0)
    kinds = [str(k) for k in wide.columns]
    frame = frame.merge(wide.reset_index(), on=[UNIQUE_ID, DS], how="left").fillna({k: 0.0 for k in kinds})
    y = frame[Y].clip(lower=0.0)
    frame = frame[(y.groupby(frame[UNIQUE_ID]).transform("max") > 0) & y.notna()].reset_index(drop=True)
    if frame.empty:
        return _empty()
    points = frame[kinds].to_numpy("float64") * 100.0
    days = (points > 0).sum(axis=0)
    used = days >= MIN_PROMO_DAYS
    target = np.log1p(frame[Y].clip(lower=0.0).to_numpy("float64"))
    groups = pd.factorize(frame[UNIQUE_ID] + "|" + frame[DS].dt.dayofweek.astype(str))[0]
    design = np.zeros((len(frame), groups.max() + 1 + int(used.sum())))
    design[np.arange(len(frame)), groups] = 1.0
    design[:, groups.max() + 1:] = points[:, used]
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    pooled = np.zeros(len(kinds))
    pooled[used] = np.nan_to_num(coef[groups.max() + 1:])
    resid = target - design @ coef
    centers = sorted(frame[UNIQUE_ID].unique())
    codes = pd.Index(centers).get_indexer(frame[UNIQUE_ID])
    dev = np.zeros((len(centers), len(kinds)))
    se2 = np.full((len(centers), len(kinds)), np.inf)
    n_days = np.zeros((len(centers), len(kinds)), dtype="int64")
    for c in range(len(centers)):
        rows = codes == c
        sigma2 = float(np.var(resid[rows])) if rows.sum() > 1 else 0.0
        for k in np.flatnonzero(used):
            x = points[rows, k]
            sxx = float(x @ x)
            if sxx > 0:
                dev[c, k] = float(x @ resid[rows]) / sxx
                se2[c, k] = max(sigma2, 1e-12) / sxx
    effects = np.tile(pooled, (len(centers), 1))
    for k in np.flatnonzero(used):
        seen = np.isfinite(se2[:, k])
        if seen.sum() < 2:
            continue
        tau2 = max(float(np.mean(dev[seen, k] ** 2) - np.mean(se2[seen, k])), 0.0)
        weight = np.where(seen, tau2 / (tau2 + np.where(seen, se2[:, k], 1.0)), 0.0)
        effects[:, k] = pooled[k] + weight * dev[:, k]
    for c in range(len(centers)):
        n_days[c] = (points[codes == c] > 0).sum(axis=0)
    return pd.DataFrame({
        UNIQUE_ID: np.repeat(centers, len(kinds)),
        KIND: np.tile(kinds, len(centers)),
        EFFECT_PER_PCT: np.expm1(effects).ravel(),
        POOLED: np.tile(np.expm1(pooled), len(centers)),
        PROMO_DAYS: n_days.ravel(),
    })


def store_kind_effects(engine: Engine, run_id: str, history: pd.DataFrame, tz: str | Locales) -> pd.DataFrame:
    """Estimate the per-center, per-kind effects on ``history`` (``unique_id, ds, y``)
    with the stored promotion calendar and store them for ``run_id``; returns them.
    ``tz``: the zone of every center's days, or each center's own (:class:`Locales`)."""
    from fcplan.storage import queries as q
    from fcplan.storage import upsert
    from fcplan.storage.schema import promo_kind_effects

    days = pd.DatetimeIndex(sorted(pd.to_datetime(history[DS]).unique()))
    centers = sorted(history[UNIQUE_ID].astype(str).unique())
    locales = tz if isinstance(tz, Locales) else Locales(tz)
    calendar = q.promotion_calendar(engine)
    discounts = pd.concat(
        [kind_discounts(calendar, ids, days, zone) for zone, ids in locales.by_zone(centers).items()],
        ignore_index=True,
    )
    effects = estimate_kind_effects(history, discounts)
    rows = [{"run_id": run_id, **r} for r in effects.astype({PROMO_DAYS: int}).to_dict("records")]
    if rows:
        with engine.begin() as conn:
            upsert(conn, promo_kind_effects, rows, ["run_id", UNIQUE_ID, KIND])
    return effects
