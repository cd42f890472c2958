"""Automatic covariate selection per model family, with a score-contributor table.

As NAVER CLOVA Forecast's ensemble generator selects each model's features before the
ensemble is built, :func:`select_features` scores every known-ahead covariate *group*
for every covariate-using model family of the pool (``Forecaster.uses_covariates``:
GLM, LightGBM, the networks, SARIMAX) by ablation on the engine's own backtest splits:
the family's backtest wQL (mean over the windows) with every group, and with that group
left out. ``contribution = wql_without - wql_all``: positive where the group helps. One
backward-elimination pass: every group is scored against the full set, and the groups
whose removal does not worsen the wQL by more than :data:`TOLERANCE` (relative) are
dropped for that family together. The work is bounded by families x (groups + 1)
backtests; a panel without covariates costs nothing.

Groups: each user covariate on its own; the engine's holiday flags
(:data:`fcplan.core.calendar.HOLIDAY_COLUMNS`, added by ``holiday_country``) as one group,
since the four are views of one calendar (a holiday, the days before it, blocks) and
removing one leaves the others carrying most of its signal. A group can be judged on a
window only where it varies both in the window's training data (the model can learn its
effect) and on its scored steps (the effect shows): a group no window can judge (a holiday
that no window covers, or that no window's training data has seen yet) is kept, untested
(``tested`` False), so that a rare event is not thrown away for lack of evidence.

The kept columns reach the models through :class:`KeptCovariates`, a forecaster that
fits and forecasts its model on those covariates only; :func:`make_member` builds it from
a member's params carrying :data:`KEPT_COVARIATES`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fcplan.core.calendar import HOLIDAY_COLUMNS
from fcplan.core.panel import KEYS, Y, covariate_columns
from fcplan.core.quantiles import quantile_columns
from fcplan.models.backtest import Split, run_window, score
from fcplan.models.bagging import base_name
from fcplan.models.base import Forecaster
from fcplan.models.registry import MODELS, get_model

log = logging.getLogger(__name__)

#: A group whose removal worsens the family's backtest wQL by at most this share of the
#: wQL with every group is dropped for that family.
TOLERANCE = 0.01
#: The params key (member -> constructor params, see ``models.engine``) that carries the
#: covariates a member is fitted on; absent: all of them.
KEPT_COVARIATES = "kept_covariates"
#: The name of the engine's holiday-flag group.
HOLIDAY_GROUP = "holidays"
FEATURE_COLUMNS = ["family", "group", "columns", "tested", "wql_all", "wql_without", "contribution", "kept"]


def empty_table() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in FEATURE_COLUMNS})


class KeptCovariates(Forecaster):
    """``model`` fitted and forecasting on the ``covariates`` listed only (the others are
    left out of its panel and future); it forecasts under the model's name."""

    uses_covariates = True

    def __init__(self, model: Forecaster, covariates: Sequence[str] = ()) -> None:
        super().__init__(model=model, covariates=tuple(covariates))

    @property  # type: ignore[override]
    def name(self) -> str:  # the wrapped model's, in forecast frames and logs
        return self.params["model"].name

    @property
    def fallbacks_(self) -> dict[str, str]:
        return dict(getattr(self.params["model"], "fallbacks_", {}))

    def _fit(self, panel: pd.DataFrame) -> None:
        self.kept_ = [c for c in self.params["covariates"] if c in self.covariates_]
        self.params["model"].fit(panel[[*KEYS, Y, *self.kept_]], freq=self.freq_, time_limit=self.time_limit_)

    def _predict(self, h: int, future: pd.DataFrame, quantiles: list[float]) -> np.ndarray:
        model: Forecaster = self.params["model"]
        given = future[[*KEYS, *self.kept_]] if model.uses_covariates else future[KEYS]
        frame = model.predict_quantiles(h, future=given, quantiles=quantiles)
        values = frame[quantile_columns(quantiles)].to_numpy("float64")
        return values.reshape(len(self.series_ids_), h, len(quantiles))


def make_member(name: str, params: dict[str, Any]) -> Forecaster:
    """A fresh forecaster for pool member ``name`` (``"lightgbm"``, ``"lightgbm#1"``) from its
    params: the registry's model, wrapped in :class:`KeptCovariates` when the params carry
    :data:`KEPT_COVARIATES`."""
    given = dict(params)
    kept = given.pop(KEPT_COVARIATES, None)
    model = get_model(base_name(name), **given)
    return model if kept is None else KeptCovariates(model, kept)


def feature_groups(covariates: Sequence[str]) -> list[tuple[str, list[str]]]:
    """``(group, columns)`` in the panel's order: each covariate alone, the engine's holiday
    flags together (see the module's docstring)."""
    holidays = [c for c in covariates if c in HOLIDAY_COLUMNS]
    groups: list[tuple[str, list[str]]] = []
    for c in covariates:
        if c in holidays:
            if c == holidays[0]:
                groups.append((HOLIDAY_GROUP, holidays))
        else:
            groups.append((c, [c]))
    return groups


def covariate_families(names: Sequence[str]) -> dict[str, list[str]]:
    """``family -> its members`` (bag variants included) of the covariate-using models of ``names``."""
    families: dict[str, list[str]] = {}
    for name in names:
        family = base_name(name)
        if family in MODELS and MODELS[family].uses_covariates:
            families.setdefault(family, []).append(name)
    return families


def _varies(frame: pd.DataFrame) -> bool:
    return bool((frame.nunique(dropna=False) > 1).any())


def _tested(columns: Sequence[str], splits: Sequence[Split]) -> bool:
    """Whether ``columns`` vary both in the training data and on the scored steps of at
    least one backtest window (see the module's docstring)."""
    cols = list(columns)
    return any(_varies(split.train[cols]) and _varies(split.future[cols]) for split in splits)


@dataclass(frozen=True)
class FeatureSelection:
    """``kept``: family -> the covariates its members are fitted on (the families that
    dropped a group); ``table``: the score-contributor table (:data:`FEATURE_COLUMNS`, one
    row per family and group)."""

    kept: dict[str, list[str]] = field(default_factory=dict)
    table: pd.DataFrame = field(default_factory=empty_table)

    def apply(self, params: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """``params`` with :data:`KEPT_COVARIATES` set for every member of a family that
        dropped a group (the others run as without selection)."""
        return {
            n: {**p, KEPT_COVARIATES: list(self.kept[base_name(n)])} if base_name(n) in self.kept else p
            for n, p in params.items()
        }


def backtest_wql(
    name: str, params: dict[str, Any], covariates: Sequence[str], panel: pd.DataFrame, splits: Sequence[Split],
    horizon: int, levels: Sequence[float], freq: str,
) -> float:
    """Mean over ``splits`` of member ``name``'s wQL fitted on ``covariates`` only (NaN if it fails)."""
    config = {**params, KEPT_COVARIATES: list(covariates)}
    wqls = []
    for split in splits:
        result = run_window(lambda: make_member(name, config), split, panel, horizon, levels, freq, name)
        if result.forecast is None:
            return float("nan")
        wqls.append(score(result.forecast, levels)["wql"])
    scored = [w for w in wqls if np.isfinite(w)]  # a window without observed values scores nothing
    return float(np.mean(scored)) if scored else float("nan")


def select_features(
    panel: pd.DataFrame,
    splits: Sequence[Split],
    names: Sequence[str],
    params: dict[str, dict[str, Any]],
    horizon: int,
    levels: Sequence[float],
    freq: str,
    tolerance: float | None = None,
) -> FeatureSelection:
    """Score each covariate group of ``panel`` for each covariate-using family of ``names``
    by ablation on ``splits`` (each family with its first member's ``params``) and keep
    those whose removal worsens the family's mean backtest wQL by more than ``tolerance``
    (relative; default :data:`TOLERANCE`). Deterministic: the same data and params give the
    same table."""
    tolerance = TOLERANCE if tolerance is None else tolerance
    covariates = covariate_columns(panel)
    families = covariate_families(names)
    if not covariates or not families or not splits:
        return FeatureSelection()
    groups = feature_groups(covariates)
    tested = {g: _tested(cols, splits) for g, cols in groups}
    rows, kept = [], {}
    for family, members in families.items():
        first = members[0]
        given = params.get(first, {})
        base = backtest_wql(first, given, covariates, panel, splits, horizon, levels, freq)
        dropped: list[str] = []
        for group, cols in groups:
            without = float("nan")
            if tested[group] and np.isfinite(base):
                rest = [c for c in covariates if c not in cols]
                without = backtest_wql(first, given, rest, panel, splits, horizon, levels, freq)
            contribution = without - base
            keep = not (np.isfinite(contribution) and contribution <= tolerance * base)
            if not keep:
                dropped.extend(cols)
            rows.append({"family": family, "group": group, "columns": ",".join(cols), "tested": tested[group],
                         "wql_all": base, "wql_without": without, "contribution": contribution, "kept": keep})
        if dropped:
            kept[family] = [c for c in covariates if c not in dropped]
        log.info("feature selection: %s keeps %s%s", family, [c for c in covariates if c not in dropped],
                 f", drops {dropped}" if dropped else "")
    table = pd.DataFrame(rows, columns=FEATURE_COLUMNS)
    return FeatureSelection(kept, table)
