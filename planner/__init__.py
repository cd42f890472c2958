"""The planner: forecast quantiles in, packers per center, day and shift out (pure, no I/O)."""

from fcplan.planner.shifts import Shift, ShiftError, parse_shifts, shift_shares
from fcplan.planner.staffing import (
    PLAN_COLUMNS,
    headcount,
    interpolate_quantile,
    plan_staffing,
)

__all__ = [
    "PLAN_COLUMNS",
    "Shift",
    "ShiftError",
    "headcount",
    "interpolate_quantile",
    "parse_shifts",
    "plan_staffing",
    "shift_shares",
]
