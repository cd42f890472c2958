"""Quantile levels and the forecast frame's quantile columns, named and checked in one place.

A forecast frame has one column per level, named by the level as written
(``0.1 -> "0.1"``); levels lie strictly between 0 and 1; the point forecast is the
level closest to the median.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from fcplan.core.panel import PanelError

MEDIAN = 0.5


def quantile_name(q: float) -> str:
    """Column name of a quantile level: ``0.1 -> "0.1"``, ``0.05 -> "0.05"``."""
    return f"{q:g}"


def quantile_columns(quantiles: Sequence[float]) -> list[str]:
    return [quantile_name(q) for q in quantiles]


def check_levels(levels: Iterable[float]) -> list[float]:
    """The levels sorted, each once; :class:`PanelError` unless all lie strictly between 0 and 1."""
    given = list(levels)
    qs = sorted({float(q) for q in given})
    if not qs or any(not 0 < q < 1 for q in qs):
        raise PanelError(f"quantile levels must lie strictly between 0 and 1; got {given}")
    return qs


def parse_quantiles(text: str) -> list[float]:
    """``"0.1,0.5,0.9"`` -> ``[0.1, 0.5, 0.9]`` (in the order given) with a clear error on bad input."""
    try:
        levels = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise PanelError(
            f"--quantiles must be numbers separated by commas, e.g. 0.1,0.5,0.9; got {text!r}"
        ) from exc
    try:
        check_levels(levels)
    except PanelError as exc:
        raise PanelError(f"quantile levels must lie strictly between 0 and 1; got {text!r}") from exc
    return levels


def median_index(quantiles: Sequence[float]) -> int:
    """Index of the level closest to 0.5 (the point forecast)."""
    return int(np.argmin(np.abs(np.asarray(quantiles, dtype="float64") - MEDIAN)))


def sort_quantiles(values: np.ndarray) -> np.ndarray:
    """Sort the last axis so quantiles never cross."""
    return np.sort(values, axis=-1)


def level_of(column: object) -> float | None:
    """The level a forecast frame's column holds (``"0.1" -> 0.1``), or None for other columns."""
    try:
        level = float(str(column))
    except ValueError:
        return None
    return level if 0 < level < 1 else None


def quantile_levels(forecast: pd.DataFrame) -> list[tuple[float, str]]:
    """The ``(level, column)`` pairs of a forecast frame's quantile columns, sorted by level;
    :class:`PanelError` when two columns hold one level (``"0.5"`` and ``"0.50"``: which one
    to read is a guess, and interpolating between them divides by zero)."""
    pairs = [(level, col) for col in forecast.columns if (level := level_of(col)) is not None]
    seen: dict[float, str] = {}
    for level, col in pairs:
        if level in seen:
            raise PanelError(
                f"forecast columns {str(seen[level])!r} and {str(col)!r} are both the {level:g} quantile; "
                "keep one column per level"
            )
        seen[level] = col
    return sorted(pairs)
