"""Shifts of the local day and each center's share of daily orders per shift.

A shift is ``name:start-end`` in local wall-clock hours (``day:6-14``); the end
may wrap past midnight (``night:22-6``). The shifts must not overlap, but may leave
hours uncovered (a center with one day shift ``day:8-16``): the orders of an hour no
shift covers are packed by the next shift that starts (the evening's by the next
morning's first shift), see :func:`fcplan.planner.crews.packed_span`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from fcplan.core.panel import DS, UNIQUE_ID, PanelError, Y, require_columns

SHIFT = "shift"
SHARE = "share"

_SPEC = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9_][\w-]*)\s*:\s*(?P<start>\d{1,2})(?::(?P<start_min>\d{2}))?\s*-\s*"
    r"(?P<end>\d{1,2})(?::(?P<end_min>\d{2}))?\s*$"
)
_EXAMPLE = "e.g. day:6-14"


class ShiftError(ValueError):
    """Shift specifications are malformed or overlap."""


@dataclass(frozen=True)
class Shift:
    """A shift from ``start_hour`` (0-23) to ``end_hour`` (1-24, exclusive), local time.

    ``end_hour <= start_hour`` means the shift wraps past midnight (``22 -> 6``).
    """

    name: str
    start_hour: int
    end_hour: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_hour <= 23:
            raise ShiftError(f"shift {self.name!r} starts at hour {self.start_hour}; use 0-23")
        if not 0 <= self.end_hour <= 24:
            raise ShiftError(f"shift {self.name!r} ends at hour {self.end_hour}; use 0-24")
        if self.start_hour == self.end_hour:
            raise ShiftError(
                f"shift {self.name!r} starts and ends at hour {self.start_hour}; a 24-hour shift is "
                f"{self.name}:0-24"
            )

    @property
    def hours(self) -> tuple[int, ...]:
        """The local hours of the day (0-23) whose orders belong to this shift."""
        end = self.end_hour if self.end_hour > self.start_hour else self.end_hour + 24
        return tuple(h % 24 for h in range(self.start_hour, end))

    @property
    def length(self) -> int:
        return len(self.hours)

    def __str__(self) -> str:
        return f"{self.name}:{self.start_hour}-{self.end_hour}"


def _ranges(hours: Sequence[int]) -> str:
    """``[0, 1, 2, 5] -> "0-2, 5"`` (for error messages)."""
    parts: list[str] = []
    run: list[int] = []
    for h in sorted(hours):
        if run and h == run[-1] + 1:
            run.append(h)
            continue
        if run:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [h]
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(parts)


@functools.lru_cache(maxsize=4096)
def hour_counts(zone: str, day: date) -> np.ndarray:
    """``(24,)``: how often each local wall-clock hour occurs on the local ``day`` in ``zone``: 1,
    but 0 for the hour a spring-forward change skips and 2 for the one a fall-back change repeats."""
    start, end = (pd.Timestamp(d).tz_localize(zone, ambiguous=True, nonexistent="shift_forward")
                  for d in (day, day + pd.Timedelta(days=1)))
    hours = pd.date_range(start.tz_convert("UTC"), end.tz_convert("UTC"), freq="h", inclusive="left")
    counts = np.bincount(hours.tz_convert(zone).hour, minlength=24).astype("float64")
    counts.setflags(write=False)
    return counts


def shift_length(zone: str, start: int, end: int, day: date | pd.Timestamp) -> float:
    """Hours a shift from local hour ``start`` to ``end`` (past midnight when ``end <= start``)
    lasts when it starts on the local ``day``: its length, but an hour less or more on a
    daylight-saving change, which it may span overnight."""
    day = pd.Timestamp(day)
    today = hour_counts(zone, day.date())
    if end > start:
        return float(today[start:end].sum())
    tomorrow = hour_counts(zone, (day + pd.Timedelta(days=1)).date())
    return float(today[start:].sum() + tomorrow[:end].sum())


def paid_on_the_day(paid_hours: float | None, real: float) -> float:
    """A shift's paid hours on a day it lasts ``real`` hours (:func:`shift_length`): configured
    ``paid_hours`` are kept unless the shift is shorter; without them, the shift's real length."""
    return real if paid_hours is None else min(paid_hours, real)


def parse_shifts(specs: Sequence[str]) -> tuple[Shift, ...]:
    """``["day:6-14", "swing:14-22", "night:22-6"]`` -> shifts, checked not to overlap (:func:`check_cover`).

    Raises :class:`ShiftError` naming the malformed spec, the duplicate name, or the
    hours that several shifts cover.
    """
    if isinstance(specs, str):
        specs = [part for part in specs.split(",") if part.strip()]
    if not specs:
        raise ShiftError(f"no shifts given; list them as name:start-end, {_EXAMPLE}")
    shifts: list[Shift] = []
    for spec in specs:
        match = _SPEC.match(str(spec))
        if not match:
            raise ShiftError(f"shift {spec!r} must look like name:start-end, {_EXAMPLE}")
        # day:06:00-14:00 as the centers file writes its times (it was "must look like name:start-end")
        minutes = [m for m in (match["start_min"], match["end_min"]) if m not in (None, "00")]
        if minutes:
            raise ShiftError(f"shift {spec!r} starts or ends at :{minutes[0]}; shifts start and end on whole hours, "
                             f"{_EXAMPLE}")
        shifts.append(Shift(match["name"], int(match["start"]), int(match["end"])))
    return check_cover(shifts)


def check_cover(shifts: Sequence[Shift]) -> tuple[Shift, ...]:
    """``shifts`` checked to have distinct names and not to overlap (:class:`ShiftError` naming the
    duplicate name or the hours several shifts cover). Hours no shift covers are allowed: their
    orders wait for the next shift that starts (:func:`next_shift_of_hour`)."""
    shifts = list(shifts)
    if not shifts:
        raise ShiftError(f"no shifts given; list them as name:start-end, {_EXAMPLE}")
    names = [s.name for s in shifts]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ShiftError(f"shift name(s) {dupes} appear more than once; give each shift its own name")
    owners: dict[int, list[str]] = {h: [] for h in range(24)}
    for shift in shifts:
        for h in shift.hours:
            owners[h].append(shift.name)
    doubled = {h: who for h, who in owners.items() if len(who) > 1}
    if doubled:
        by_pair: dict[tuple[str, ...], list[int]] = {}
        for h, who in doubled.items():
            by_pair.setdefault(tuple(who), []).append(h)
        problems = [f"hour(s) {_ranges(hs)} are covered by both {' and '.join(who)}" for who, hs in by_pair.items()]
        listed = ", ".join(str(s) for s in shifts)
        raise ShiftError(f"shifts {listed} must not overlap: {'; '.join(problems)} (hours no shift covers are "
                         "allowed: the next shift to start packs their orders)")
    return tuple(shifts)


def next_shift_of_hour(shifts: Sequence[Shift]) -> np.ndarray:
    """``(24,)`` int: per local hour, the index in ``shifts`` of the shift that packs its orders: the
    one covering it, else the next one to start after it (past midnight: the day's first shift)."""
    owner = np.full(24, -1, dtype=np.int64)
    for i, shift in enumerate(shifts):
        owner[list(shift.hours)] = i
    starts = {s.start_hour: i for i, s in enumerate(shifts)}
    for h in [*range(23, -1, -1)] * 2:  # twice round the clock: a gap before midnight takes the morning's first shift
        if owner[h] < 0:
            nxt = (h + 1) % 24
            owner[h] = starts[nxt] if nxt in starts else owner[nxt]
    return owner


def shift_shares(
    hourly: pd.DataFrame,
    shifts: Sequence[Shift],
    days: int = 28,
    *,
    centers: Sequence[str] = (),
    before: date | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Each center's share of daily orders per shift: ``unique_id, shift, share``.

    ``hourly`` has ``unique_id, ds (local wall-clock hour, tz-naive), y (orders)``,
    e.g. :func:`fcplan.storage.queries.hourly_orders`. For each center the shares
    come from its last ``days`` local days with history (before ``before`` if
    given: pass today to leave out a day still filling up). Shares sum to 1 per
    center. A center with no orders in that window, or listed in ``centers`` but
    absent from ``hourly``, gets shares proportional to the hours each shift packs (its own and
    those no shift covers before it: :func:`next_shift_of_hour`). Rows follow
    the order of ``shifts`` within each center.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if not shifts:
        raise ShiftError(f"no shifts given; parse them with parse_shifts([...]), {_EXAMPLE}")
    hour_to_shift = next_shift_of_hour(shifts)  # an hour no shift covers counts for the next shift to start
    lengths = np.bincount(hour_to_shift, minlength=len(shifts)).astype("float64")  # hours each shift packs
    names = [s.name for s in shifts]

    frame = recent_hours(hourly, days, before)

    ids = sorted(set(frame[UNIQUE_ID]) | set(hourly[UNIQUE_ID].astype(str)) | {str(c) for c in centers})
    totals = np.zeros((len(ids), len(shifts)))
    if not frame.empty:
        row = pd.Index(ids).get_indexer(frame[UNIQUE_ID])
        col = hour_to_shift[frame[DS].dt.hour.to_numpy()]
        np.add.at(totals, (row, col), frame[Y].to_numpy(dtype="float64"))
    sums = totals.sum(axis=1, keepdims=True)
    default = lengths / lengths.sum()
    shares = np.where(sums > 0, totals / np.where(sums > 0, sums, 1.0), default)
    return pd.DataFrame(
        {
            UNIQUE_ID: np.repeat(ids, len(shifts)),
            SHIFT: np.tile(names, len(ids)),
            SHARE: shares.reshape(-1),
        }
    )


def recent_hours(
    hourly: pd.DataFrame, days: int, before: date | pd.Timestamp | None = None, *, drop_zone: bool = False
) -> pd.DataFrame:
    """``unique_id, ds, y`` of each center's last ``days`` local days with history
    (before ``before``, exclusive, when given); orders coerced to numbers >= 0.

    ``ds`` must be local wall-clock time; a tz-aware ``ds`` is an error unless
    ``drop_zone`` (then its wall-clock reading is kept)."""
    require_columns(
        hourly, (UNIQUE_ID, DS, Y), "hourly",
        "Pass orders per center per local hour as unique_id, ds, y (e.g. queries.hourly_orders)",
    )
    frame = hourly[[UNIQUE_ID, DS, Y]].copy()
    frame[UNIQUE_ID] = frame[UNIQUE_ID].astype(str)
    ds = pd.to_datetime(frame[DS])
    if isinstance(ds.dtype, pd.DatetimeTZDtype):
        if not drop_zone:
            raise PanelError(
                "hourly.ds must be local wall-clock time without a time zone; convert with .dt.tz_localize(None)"
            )
        ds = ds.dt.tz_localize(None)
    frame[DS] = ds
    frame[Y] = pd.to_numeric(frame[Y], errors="coerce").fillna(0.0).clip(lower=0.0)
    if before is not None:
        frame = frame[frame[DS] < pd.Timestamp(before).normalize()]
    day = frame[DS].dt.normalize()
    first_kept = day.groupby(frame[UNIQUE_ID]).transform("max") - pd.Timedelta(days=days - 1)
    return frame[day >= first_kept]
