"""The model registry: a plain dict from name to forecaster class.

Optional models (global models needing lightgbm or torch) are imported with
:func:`_optional`; a module that fails to import is logged and skipped, so the
statistical pool always works.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import warnings
from typing import Any

from fcplan.models.base import Forecaster
from fcplan.models.baselines import MovingAverage, SeasonalNaive
from fcplan.models.glm import CountGLM
from fcplan.models.intermittent import TSB
from fcplan.models.stats import ETS, SARIMAX, Theta

log = logging.getLogger(__name__)

MODELS: dict[str, type[Forecaster]] = {
    "seasonal_naive": SeasonalNaive,
    "moving_average": MovingAverage,
    "ets": ETS,
    "sarimax": SARIMAX,
    "theta": Theta,
    "glm": CountGLM,
    "tsb": TSB,
}

#: Models every series can be forecast with; the engine always keeps them.
BASELINES: tuple[str, ...] = ("seasonal_naive", "moving_average")

#: Small hyperparameters for the contract test (name -> params), kept next to the registry.
TEST_PARAMS: dict[str, dict[str, Any]] = {
    "ets": {"max_iter": 20},
    "sarimax": {"max_iter": 10},
    "moving_average": {"window": 7},
    "glm": {"max_iter": 10},
}


def _optional(name: str, module: str, attr: str, test_params: dict[str, Any] | None = None) -> None:
    """Register ``module.attr`` as ``name`` if it imports; log and skip it otherwise."""
    try:
        cls = getattr(importlib.import_module(module), attr)
    except Exception as exc:  # ImportError, or a broken optional dependency
        log.info("model %r unavailable (%s: %s); skipped", name, type(exc).__name__, exc)
        return
    MODELS[name] = cls
    if test_params is not None:
        TEST_PARAMS[name] = test_params


# Global models (models/lgbm.py, models/neural/); importing them does not import torch.
_optional("lightgbm", "fcplan.models.lgbm", "LightGBMQuantile",
          {"n_estimators": 10, "levels": (0.1, 0.5, 0.9), "max_rows": 3000, "min_data_in_leaf": 5})
_optional("lightgbm_recursive", "fcplan.models.recursive", "RecursiveLightGBM",
          {"n_estimators": 10, "max_rows": 3000, "min_data_in_leaf": 5})
_optional("mlp", "fcplan.models.neural", "MLPQuantile", {"epochs": 2, "batches_per_epoch": 3, "hidden": 8})
_optional("tide", "fcplan.models.neural", "TiDE", {"epochs": 2, "batches_per_epoch": 3, "hidden": 8})
_optional("deepar", "fcplan.models.neural", "DeepAR",
          {"epochs": 2, "batches_per_epoch": 3, "hidden": 8, "n_samples": 20})


class UnknownHyperparameterWarning(UserWarning):
    """A hyperparameter a model does not take was given (and ignored)."""


def hyperparameters(cls: type[Forecaster]) -> list[str]:
    """The hyperparameters a model class takes: the names of its ``__init__``."""
    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


def get_model(name: str, **params: Any) -> Forecaster:
    """An unfitted forecaster by registry name; unknown names list the known ones.

    A hyperparameter the model does not take is dropped with an
    :class:`UnknownHyperparameterWarning` that lists those it takes (a misspelt
    ``maxiter`` for ``max_iter`` would otherwise be silently ignored)."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known models: {sorted(MODELS)}") from None
    known = hyperparameters(cls)
    unknown = sorted(set(params) - set(known))
    if unknown:
        warnings.warn(
            f"model {name!r} does not take hyperparameter(s) {unknown}, ignored; it takes {known}",
            UnknownHyperparameterWarning,
            stacklevel=2,
        )
    return cls(**{k: v for k, v in params.items() if k in known})
