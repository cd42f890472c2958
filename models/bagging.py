"""Bagged pool members, as NAVER CLOVA's ensgen grows its pool: variants of a model
with another seed and a shorter lookback, so that the ensemble's diversity can grow
with the pool.

A variant is named ``<model>#<k>`` (``lightgbm#2``); :func:`base_name` gives the
registry name back. Variant ``k`` takes ``seed=k`` (where the model has a seed) and
the ``k``-th of :data:`LOOKBACK_FACTORS` times its default lookback (``max_history``
or ``max_length``). Baselines are never bagged (their variants would be copies).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fcplan.models.registry import BASELINES, MODELS, hyperparameters

BAG_SEP = "#"
#: Lookback of variant ``k`` as a share of the model's default (cycled).
LOOKBACK_FACTORS = (1.0, 0.5, 0.75, 0.35)
LOOKBACK_PARAMS = ("max_history", "max_length")


def base_name(member: str) -> str:
    """The registry name of a pool member (``lightgbm#2`` -> ``lightgbm``)."""
    return member.split(BAG_SEP, 1)[0]


def variant_params(name: str, k: int) -> dict[str, Any]:
    """The params that make variant ``k`` (>= 1) of registry model ``name`` differ."""
    cls = MODELS[name]
    takes = hyperparameters(cls)
    defaults = cls().params
    params: dict[str, Any] = {"seed": k} if "seed" in takes else {}
    factor = LOOKBACK_FACTORS[k % len(LOOKBACK_FACTORS)]
    for key in LOOKBACK_PARAMS:
        if key in takes and defaults.get(key):
            params[key] = max(1, int(defaults[key] * factor))
    return params


def bagged(names: Sequence[str], bags: int) -> dict[str, dict[str, Any]]:
    """``member -> variant params`` for ``names`` and ``bags - 1`` variants of each model
    that has a seed or a lookback to vary (the members of ``names`` themselves get ``{}``)."""
    if bags < 1:
        raise ValueError(f"bags must be at least 1, got {bags}")
    members: dict[str, dict[str, Any]] = {}
    for name in names:
        members[name] = {}
        if name in BASELINES:
            continue
        defaults = MODELS[name]().params
        seen = {tuple(sorted((k, v) for k, v in defaults.items() if k in ("seed", *LOOKBACK_PARAMS)))}
        for k in range(1, bags):
            params = variant_params(name, k)
            key = tuple(sorted({**{p: defaults[p] for p in ("seed", *LOOKBACK_PARAMS) if p in defaults},
                                **params}.items()))
            if key not in seen:  # a variant that would copy another is left out
                seen.add(key)
                members[f"{name}{BAG_SEP}{k}"] = params
    return members
