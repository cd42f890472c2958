"""Demand shifts injected into the simulator (``fcplan simulate --shift``).

A :class:`Shift` multiplies a center's expected orders from an instant on: by a
level ``factor`` (``+40%`` is 1.4) and, optionally, by new weekday multipliers
(a weekday-pattern change). The order generator and
:func:`fcplan.simulator.hourly.sample_hourly_counts` apply them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from fcplan.core.locales import Locales
from fcplan.simulator.demand import DEFAULT_TZ, to_instant

_SHIFT_SPEC = re.compile(r"^(?P<center>[^:]+):(?P<pct>[+-]\d+(?:\.\d+)?)%@(?P<when>\S+)$")


@dataclass(frozen=True)
class Shift:
    """Multiply ``center_id``'s expected orders from ``start`` on by ``factor``
    and, if given, by ``weekly[day of week]`` (7 multipliers, Mon..Sun)."""

    center_id: str
    start: datetime
    factor: float = 1.0
    weekly: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.factor <= 0 or (self.weekly is not None and (len(self.weekly) != 7 or min(self.weekly) <= 0)):
            raise ValueError(
                f"shift of {self.center_id!r}: factor must be > 0 and weekly 7 positive multipliers; "
                f"got factor={self.factor}, weekly={self.weekly}"
            )
        if self.start.tzinfo is None:
            raise ValueError(f"shift of {self.center_id!r}: start must be tz-aware; got {self.start}")


def parse_shift(spec: str, tz: str = DEFAULT_TZ, locales: Locales | None = None) -> Shift:
    """``"FC-BUSAN:+40%@2026-03-10"`` (or ``@2026-03-10T14:00``) -> :class:`Shift`.

    The day or time is the center's local one: in its zone from ``locales`` when given,
    else in ``tz``."""
    match = _SHIFT_SPEC.match(spec.strip())
    if match is None:
        raise ValueError(f"--shift must look like CENTER:+40%@2026-03-10 or CENTER:-30%@2026-03-10T14:00; got {spec!r}")
    factor = 1.0 + float(match["pct"]) / 100.0
    if factor <= 0:
        raise ValueError(f"--shift {spec!r}: a change of {match['pct']}% leaves no demand; use more than -100%")
    zone = locales.zone(match["center"]) if locales is not None else tz
    return Shift(match["center"], to_instant(match["when"], zone).to_pydatetime(), factor)


def shift_factors(center_ids: Sequence[str], shifts: Sequence[Shift], hours: pd.DatetimeIndex) -> np.ndarray:
    """Multipliers of the expected orders, shape ``(len(center_ids), len(hours))``.

    ``hours``: tz-aware local hour starts (a weekday pattern follows their zone)."""
    factor = np.ones((len(center_ids), len(hours)))
    index = {c: i for i, c in enumerate(center_ids)}
    dow = np.asarray(hours.tz_localize(None).day_of_week)
    ns = hours.as_unit("ns").asi8
    for shift in shifts:
        row = index.get(shift.center_id)
        if row is None:
            continue
        after = ns >= pd.Timestamp(shift.start).as_unit("ns").value
        factor[row, after] *= shift.factor
        if shift.weekly is not None:
            factor[row, after] *= np.asarray(shift.weekly)[dow[after]]
    return factor
