"""The centers file: each center's zone, calendar, shifts, productivity, bounds and costs.

A TOML file (``centers.toml``) with an optional ``[defaults]`` table and one
``[centers."<id>"]`` table per center; a center's table overrides the defaults
field by field (``shifts`` as a whole)::

    [defaults]
    timezone = "Asia/Seoul"
    holiday_country = "KR"
    orders_per_packer_hour = 30      # productivity (a shift may set its own)
    shrinkage = 0.12                 # share of productive hours lost (training, walking)
    min_packers = 1
    max_packers = 60                 # per shift; omit for no cap
    cost_short = 3                   # cost of a missing packer-hour ...
    cost_idle = 1                    # ... and of an idle one (or: service_level = 0.75)
    closed_weekdays = ["Sun"]        # no shifts (also: closed_on_holidays = true, closed_dates = [...])

    [[defaults.shifts]]
    name = "day"
    start = "06:00"                  # local wall clock; the shift belongs to the day it starts;
                                     # shifts must not overlap, hours none covers wait for the next to start
    end = "14:00"
    paid_hours = 8
    break_minutes = 30

    [centers."FC-LA-1"]
    timezone = "America/Los_Angeles"
    holiday_country = "US"

Errors name the center and the field (``center 'FC-LA-1', field shifts[2].end: ...``).
Without a file, :func:`centers_from_settings` builds the one default center from the
``FCPLAN_PLANNER_*`` variables, as before.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fcplan.core.calendar import holiday_dates
from fcplan.core.locales import Locales
from fcplan.core.settings import PlannerSettings, Settings, share_not_percent
from fcplan.planner.shifts import (
    Shift,
    ShiftError,
    check_cover,
    hour_counts,
    paid_on_the_day,
    parse_shifts,
    shift_length,
)

DEFAULT_SHIFTS = (
    {"name": "day", "start": 6, "end": 14, "paid_hours": 8.0},
    {"name": "swing", "start": 14, "end": 22, "paid_hours": 8.0},
    {"name": "night", "start": 22, "end": 6, "paid_hours": 8.0},
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: Default correlation of consecutive days' forecast errors (benchmarks/day_correlation.py, DEVSUITE session 20).
DAY_CORRELATION = 0.3
#: The most packers a shift may be bounded to (``min_packers``/``max_packers``); more is a typo.
MAX_PACKERS = 1_000_000
#: The longest shift name the plan tables hold (``staffing_plans.shift`` is VARCHAR(32)).
SHIFT_NAME_LENGTH = 32
_CLOCK = re.compile(r"^(?P<h>\d{1,2})(:(?P<m>\d{2}))?$")


class CentersError(ValueError):
    """The centers file (or the planner variables) is malformed; the message names the center and field."""


def _hour(value: object) -> object:
    """``"06:00"``, ``"6"``, ``6`` or a TOML local time ``06:00:00`` -> 6 (whole local hours: plans
    follow hourly aggregates)."""
    if isinstance(value, time):  # `start = 06:00:00` unquoted was "Input should be a valid integer"
        if (value.minute, value.second, value.microsecond) != (0, 0, 0):
            raise ValueError(f"{value.isoformat()}: shifts start and end on whole hours (plans use hourly orders); "
                             "use \"HH:00\"")
        return value.hour
    if isinstance(value, str):
        match = _CLOCK.match(value.strip())
        if not match:
            raise ValueError(f"{value!r} is not a local time; write it as \"HH:00\", e.g. \"22:00\"")
        if match["m"] not in (None, "00"):
            raise ValueError(f"{value!r}: shifts start and end on whole hours (plans use hourly orders); use \"HH:00\"")
        return int(match["h"])
    return value


def _suggest(value: str, choices: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` for the closest of ``choices`` to a mistyped ``value``, else ""."""
    by_lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(value.lower(), list(by_lower), n=1, cutoff=0.75)
    return f" (did you mean \"{by_lower[close[0]]}\"?)" if close else ""


class ShiftConfig(BaseModel):
    """One shift: ``start``-``end`` local hours (``end <= start`` wraps past midnight)."""

    # allow_inf_nan: an `inf` or `nan` in the TOML (both valid TOML floats) is refused by name
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)

    #: Any text (spaces and other scripts included), at most 32 characters as the plan tables hold.
    name: str = Field(min_length=1, max_length=SHIFT_NAME_LENGTH)
    start: int = Field(ge=0, le=23)
    end: int = Field(ge=0, le=24)
    #: Hours a packer of this shift is paid for (default: the shift's length).
    paid_hours: float | None = Field(None, gt=0, le=24)
    break_minutes: float = Field(0.0, ge=0)
    #: Orders one packer packs per productive hour on this shift (default: the center's).
    orders_per_packer_hour: float | None = Field(None, gt=0)

    _clock = field_validator("start", "end", mode="before")(classmethod(lambda cls, v: _hour(v)))

    @property
    def shift(self) -> Shift:
        return Shift(self.name, self.start, self.end)

    @property
    def length(self) -> int:
        """Hours from start to end (wrapping past midnight)."""
        return (self.end - self.start) % 24 or 24

    @property
    def paid(self) -> float:
        return float(self.length) if self.paid_hours is None else self.paid_hours

    @model_validator(mode="after")
    def _check_hours(self) -> ShiftConfig:
        if self.start == self.end:
            raise ValueError(f"starts and ends at {self.start}:00; a 24-hour shift is start = 0, end = 24")
        if self.paid > self.length:
            raise ValueError(
                f"paid_hours={self.paid:g} exceeds the shift's length {self.start}:00-{self.end}:00 "
                f"({self.length} h); lower paid_hours or widen the shift"
            )
        if self.break_minutes / 60.0 >= self.paid:
            raise ValueError(f"break_minutes={self.break_minutes:g} leaves no working time of {self.paid:g} paid hours")
        return self


class CenterConfig(BaseModel):
    """Everything the planner needs about one center."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    center_id: str = Field(min_length=1)
    timezone: str = "Asia/Seoul"
    #: ISO code of the public holidays the center keeps (None: none are flagged).
    holiday_country: str | None = "KR"
    shifts: tuple[ShiftConfig, ...] = tuple(ShiftConfig(**s) for s in DEFAULT_SHIFTS)
    orders_per_packer_hour: float = Field(30.0, gt=0)
    shrinkage: float = Field(0.15, ge=0, lt=1)
    min_packers: int = Field(1, ge=0, le=MAX_PACKERS)
    max_packers: int | None = Field(None, ge=1, le=MAX_PACKERS)
    cost_short: float | None = Field(None, gt=0)
    cost_idle: float | None = Field(None, gt=0)
    service_level: float | None = Field(None, gt=0, lt=1)
    #: Weekdays the center does not work, e.g. ["Sat", "Sun"]: no shift starts, no packers.
    closed_weekdays: tuple[str, ...] = ()
    #: Closed on the public holidays of ``holiday_country`` too.
    closed_on_holidays: bool = False
    #: Further closed local dates (a stocktake, a strike), e.g. [2026-05-01].
    closed_dates: tuple[date, ...] = ()
    #: Correlation of consecutive days' forecast errors (normal scores), for a shift that packs
    #: several days' orders (overnight, after closed days): 0 independent, 1 lockstep. Measured on
    #: real orders at 0.11 to 0.50 (benchmarks/day_correlation.py); independence under-covered the sum.
    day_correlation: float = Field(DAY_CORRELATION, ge=0, le=1)

    _share = field_validator("shrinkage", "service_level", mode="before")(
        classmethod(lambda cls, v: share_not_percent(v)))

    @field_validator("closed_weekdays", mode="before")
    @classmethod
    def _check_weekdays(cls, value: object) -> object:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            return value
        out = []
        for day in value:
            text = str(day).strip().lower()  # "Sat", "sat", "Saturday", "Tues", "Thurs" (not "Saturn")
            match = [i for i, full in enumerate(_DAY_NAMES) if len(text) >= 3 and full.startswith(text)]
            if not match:
                raise ValueError(f"{day!r} is not a weekday; write e.g. \"Sat\" or \"Sunday\" ({', '.join(WEEKDAYS)})")
            out.append(WEEKDAYS[match[0]])
        return tuple(dict.fromkeys(out))

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            hint = _suggest(value, available_timezones()) if value else ""
            raise ValueError(f"{value!r} is not an IANA time zone{hint}, e.g. \"Europe/Berlin\"") from exc
        return value

    @field_validator("holiday_country")
    @classmethod
    def _check_country(cls, value: str | None) -> str | None:
        """An ISO code (any case), or a country and one of its regions ("GB-ENG": England's bank
        holidays, which "GB" alone lacks); "" means no public holidays (TOML has no null)."""
        import holidays

        if value is None or not value.strip():
            return None
        code = value.strip().upper()
        country, _, region = code.partition("-")
        regions = holidays.list_supported_countries().get(country)
        if regions is None:
            raise ValueError(f"{value!r} is not a country code the holidays package knows, e.g. \"KR\", \"US\", "
                             "\"DE\" (\"\" for no public holidays)")
        if region and region not in regions:
            raise ValueError(f"{value!r}: {country} has no region {region!r} in the holidays package; use one of "
                             f"{', '.join(f'{country}-{r}' for r in regions) or 'none (it has no regions)'}, "
                             f"or {country!r} for the national holidays")
        return code

    @model_validator(mode="after")
    def _check(self) -> CenterConfig:
        if not self.shifts:
            raise ValueError("shifts: none given; add [[shifts]] tables (name, start, end) that do not overlap")
        try:
            check_cover([s.shift for s in self.shifts])
        except ShiftError as exc:
            raise ValueError(f"shifts: {exc}") from exc
        if self.closed_on_holidays and not self.holiday_country:
            raise ValueError("closed_on_holidays needs a holiday_country, e.g. \"KR\"")
        if self.max_packers is not None and self.max_packers < self.min_packers:
            raise ValueError(f"max_packers={self.max_packers} is below min_packers={self.min_packers}")
        costs = (self.cost_short, self.cost_idle)
        if self.service_level is not None and any(c is not None for c in costs):
            raise ValueError("give either service_level or cost_short and cost_idle, not both")
        if self.service_level is None and (None in costs) and costs != (None, None):
            raise ValueError("give both cost_short and cost_idle (or a service_level)")
        if not 0.0 < self.service_quantile < 1.0:  # e.g. cost_short = 1e300, cost_idle = 1e-300
            short, idle = self.unit_costs
            raise ValueError(f"cost_short={short:g} and cost_idle={idle:g} plan on the demand quantile "
                             f"{self.service_quantile:g}; their ratio must leave it strictly between 0 and 1")
        return self

    @property
    def service_quantile(self) -> float:
        """The demand quantile planned on: ``service_level``, else the newsvendor ratio
        ``cost_short / (cost_short + cost_idle)`` (3:1 when neither is given)."""
        short, idle = self.unit_costs
        return short / (short + idle)

    @property
    def unit_costs(self) -> tuple[float, float]:
        """``(cost_short, cost_idle)`` per packer-hour; from a service level ``tau``: ``(tau, 1 - tau)``."""
        if self.service_level is not None:
            return self.service_level, 1.0 - self.service_level
        return self.cost_short or 3.0, self.cost_idle or 1.0

    def closed(self, days: pd.DatetimeIndex) -> np.ndarray:
        """``(n,)`` bool: which local ``days`` the center is closed (weekday, date or holiday)."""
        days = pd.DatetimeIndex(days).normalize()
        shut = np.isin(days.dayofweek, [WEEKDAYS.index(d) for d in self.closed_weekdays])
        if self.closed_dates:
            shut |= days.isin(pd.DatetimeIndex([pd.Timestamp(d) for d in self.closed_dates]))
        if self.closed_on_holidays and self.holiday_country and len(days):
            shut |= days.isin(pd.DatetimeIndex(holiday_dates(self.holiday_country, days.min(), days.max())))
        return shut

    def productivity(self, shift: ShiftConfig) -> float:
        """Orders per productive packer-hour on ``shift``."""
        return shift.orders_per_packer_hour or self.orders_per_packer_hour

    def productive_hours(self, shift: ShiftConfig, day: date | pd.Timestamp | None = None) -> float:
        """Packing hours one packer of ``shift`` delivers: paid hours less the break, less shrinkage.

        With the local ``day`` the shift starts: on a day with a daylight-saving change the shift
        lasts an hour less or more (:meth:`shift_hours`); unpaid hours of its own (no ``paid_hours``)
        follow that length, configured ``paid_hours`` are kept unless the shift is shorter (0 when
        the shift lies wholly in a skipped hour)."""
        paid = shift.paid if day is None else paid_on_the_day(shift.paid_hours, self.shift_hours(shift, day))
        return max(paid - shift.break_minutes / 60.0, 0.0) * (1.0 - self.shrinkage)

    def hour_counts(self, day: date | pd.Timestamp) -> np.ndarray:
        """``(24,)``: how often each local wall-clock hour occurs on the local ``day``: 1, but 0 for
        the hour a spring-forward change skips and 2 for the one a fall-back change repeats."""
        return hour_counts(self.timezone, pd.Timestamp(day).date())

    def shift_hours(self, shift: ShiftConfig, day: date | pd.Timestamp) -> float:
        """Hours ``shift`` lasts when it starts on the local ``day`` (its length but on a
        daylight-saving change, which it may span overnight: :func:`shift_length`)."""
        return shift_length(self.timezone, shift.start, shift.end, day)


class Centers:
    """The configured centers, and the default for a center the file does not list."""

    def __init__(self, centers: Mapping[str, CenterConfig], default: CenterConfig | None = None,
                 source: str = "centers file") -> None:
        self.centers = dict(centers)
        self.default = default
        self.source = source

    def __getitem__(self, center_id: str) -> CenterConfig:
        if center_id in self.centers:
            return self.centers[center_id]
        if self.default is not None:
            return self.default.model_copy(update={"center_id": center_id})
        raise CentersError(
            f"center {center_id!r} is not in the {self.source} (it lists {sorted(self.centers)[:8]}); "
            f"add a [centers.\"{center_id}\"] table or a [defaults] table for unlisted centers"
        )

    def for_ids(self, ids: Iterable[str]) -> dict[str, CenterConfig]:
        """The configuration of each center id; raises :class:`CentersError` naming the missing ones."""
        ids = list(dict.fromkeys(str(i) for i in ids))
        missing = [i for i in ids if i not in self.centers]
        if missing and self.default is None:
            raise CentersError(
                f"center(s) {missing[:8]} are not in the {self.source} (it lists {sorted(self.centers)[:8]}); "
                "add a [centers.\"<id>\"] table for each, or a [defaults] table for unlisted centers"
            )
        return {i: self[i] for i in ids}

    def on_defaults(self, ids: Iterable[str]) -> list[str]:
        """A note naming the ids the file does not list but plans on its [defaults] (a typo in a
        forecast's id, "FC-SEOUL1", was planned as an unknown center without a word), with the
        closest listed id; none when the file lists no center (then every center is on the defaults)."""
        unlisted = sorted({str(i) for i in ids} - set(self.centers))
        if not unlisted or not self.centers or self.default is None:
            return []
        by_lower = {c.lower(): c for c in self.centers}  # "fc-1" for "FC-1" too
        close = {i: by_lower[m[0]] for i in unlisted
                 if (m := difflib.get_close_matches(i.lower(), list(by_lower), n=1))}
        hint = "".join(f"; did you mean {m!r} for {i!r}?" for i, m in list(close.items())[:3])
        return [f"center(s) {unlisted[:5]} ({len(unlisted)}) are not in the {self.source} (it lists "
                f"{sorted(self.centers)[:5]}) and were planned on its [defaults]{hint}"]

    def closed_on(self, center_id: str, day: date) -> bool:
        """Whether ``center_id`` is closed on the local ``day`` (False for a center the file
        does not know): the drift loop's silence watch expects no orders then."""
        try:
            config = self[center_id]
        except CentersError:
            return False
        return bool(config.closed(pd.DatetimeIndex([pd.Timestamp(day)]))[0])

    def closed_hours(self) -> Callable[[str, int], bool]:
        """``(center, hour since the epoch, UTC) -> closed``: whether the hour's local day in the center's
        zone is closed (the worker's feed watch expects no orders of a center then); False for a center the
        file does not know. Cached per center and local day: the watch asks it for every center read and
        every hour of a quiet interval, on the worker's event loop (per hour it cost 0.2 ms a center: a
        quiet weekend of 2,000 centers blocked the loop 23 s at each hourly re-read of the rates)."""
        from zoneinfo import ZoneInfo

        configs: dict[str, tuple[CenterConfig, ZoneInfo] | None] = {}
        days: dict[tuple[str, date], bool] = {}

        def closed(center_id: str, hour: int) -> bool:
            if center_id not in configs:
                try:
                    config = self[center_id]
                except CentersError:  # a center the file does not know (no [defaults]): never closed
                    config = None
                if len(configs) > 100_000:
                    configs.clear()
                configs[center_id] = None if config is None else (config, ZoneInfo(config.timezone))
            entry = configs[center_id]
            if entry is None:
                return False
            config, zone = entry
            local = datetime.fromtimestamp(hour * 3600, zone).date()
            key = (center_id, local)
            if key not in days:
                if len(days) > 100_000:
                    days.clear()
                days[key] = bool(config.closed(pd.DatetimeIndex([pd.Timestamp(local)]))[0])
            return days[key]

        return closed

    def zones(self, ids: Iterable[str]) -> dict[str, str]:
        return {i: c.timezone for i, c in self.for_ids(ids).items()}

    def locales(self, timezone: str, holiday_country: str | None = None) -> Locales:
        """Each listed center's zone and holiday country, for the retrainer; a center not
        listed takes the defaults' (else ``timezone`` and ``holiday_country``)."""
        base = self.default
        return Locales(
            base.timezone if base else timezone,
            base.holiday_country if base else holiday_country,
            {c: conf.timezone for c, conf in self.centers.items()},
            {c: conf.holiday_country for c, conf in self.centers.items()},
        )


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(table)"


#: The fields a centers file's table may set (``center_id`` is the table's name).
_FIELDS = sorted(set(CenterConfig.model_fields) - {"center_id"})


def _validate(center_id: str, values: Mapping[str, Any], source: str) -> CenterConfig:
    if "center_id" in values:
        raise CentersError(f"{source}: center {center_id!r}, field center_id: a center's id is the name of its "
                           "table ([centers.\"<id>\"]); remove the center_id field")
    try:
        return CenterConfig(center_id=center_id, **values)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            in_shift = len(err["loc"]) > 1 and err["loc"][0] == "shifts"
            fields = sorted(ShiftConfig.model_fields) if in_shift else _FIELDS
            msg = (f"unknown field{_suggest(str(err['loc'][-1]), fields)}; use one of {fields}"
                   + ("" if in_shift else f" (shifts: {sorted(ShiftConfig.model_fields)})"))
        elif err["type"] == "finite_number":
            msg = "must be a finite number (inf and nan are not allowed)"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise CentersError(f"{source}: center {center_id!r}, field {_where(err['loc'])}: {msg}{more}") from None
    except TypeError as exc:
        raise CentersError(f"{source}: center {center_id!r}: {exc}") from None


def _merge(defaults: Mapping[str, Any], table: Mapping[str, Any]) -> dict[str, Any]:
    """The center's table over the defaults; a center's service level replaces the defaults'
    costs and its costs replace the defaults' service level."""
    base = dict(defaults)
    if "service_level" in table:
        base.pop("cost_short", None), base.pop("cost_idle", None)
    if "cost_short" in table or "cost_idle" in table:
        base.pop("service_level", None)
    return {**base, **table}


def parse_centers(data: Mapping[str, Any], source: str = "centers file") -> Centers:
    """Validate the parsed TOML of a centers file (see the module docstring)."""
    unknown = sorted(set(data) - {"defaults", "centers"})
    if unknown:
        raise CentersError(f"{source}: unknown top-level table(s) {unknown}; use [defaults] and [centers.\"<id>\"]")
    defaults = data.get("defaults", {})
    tables = data.get("centers", {})
    if not isinstance(defaults, Mapping) or not isinstance(tables, Mapping):
        raise CentersError(f"{source}: [defaults] and [centers] must be tables")
    if not tables and "defaults" not in data:
        raise CentersError(f"{source}: no centers; add a [centers.\"<id>\"] table per center (or a [defaults] table)")
    # an empty [defaults] table keeps every built-in default (it was "no centers ... (or a [defaults] table)")
    default = _validate("(defaults)", defaults, source) if "defaults" in data else None
    centers: dict[str, CenterConfig] = {}
    written: dict[str, str] = {}
    for center_id, table in tables.items():
        if not isinstance(table, Mapping):
            raise CentersError(f"{source}: center {center_id!r} must be a table, got {table!r}")
        # [centers." FC-1"] is FC-1, as the forecast files' ids are read (it was an unlisted center)
        name = str(center_id).strip()
        if name in centers:
            raise CentersError(f"{source}: centers {written[name]!r} and {center_id!r} are one center once the "
                               "spaces around the id are dropped; keep one table")
        written[name] = str(center_id)
        centers[name] = _validate(name, _merge(defaults, table), source)
    return Centers(centers, default, source)


def load_centers(path: str | Path) -> Centers:
    """Read and validate a centers TOML file; :class:`CentersError` says what to fix."""
    path = Path(path)
    if not path.is_file():
        state = "is a directory" if path.is_dir() else "does not exist"
        raise CentersError(
            f"centers file {str(path)!r} {state}; pass the path of a TOML file (see centers.example.toml)"
        )
    try:  # utf-8-sig: a byte-order mark (Windows Notepad's UTF-8) was "Invalid statement (at line 1, column 1)"
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise CentersError(f"centers file {str(path)!r} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                           "save it as UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CentersError(f"centers file {str(path)!r} is not valid TOML: {exc}") from exc
    return parse_centers(data, source=str(path))


def centers_from_settings(cfg: PlannerSettings, timezone: str, holiday_country: str | None = "KR") -> Centers:
    """The single default center of the ``FCPLAN_PLANNER_*`` variables (or the file in
    ``FCPLAN_PLANNER_CENTERS_FILE``); per-center overrides become listed centers.
    ``holiday_country`` "" or None: no holidays."""
    if cfg.centers_file:
        return load_centers(cfg.centers_file)
    source = "FCPLAN_PLANNER_* variables"
    shifts = []
    try:
        parsed = parse_shifts(cfg.shifts)
    except ShiftError as exc:
        raise CentersError(f"FCPLAN_PLANNER_SHIFTS={','.join(cfg.shifts)!r}: {exc}") from None
    for shift in parsed:
        if cfg.shift_hours > shift.length:
            raise CentersError(
                f"FCPLAN_PLANNER_SHIFT_HOURS={cfg.shift_hours:g} exceeds shift {shift} ({shift.length} h); "
                "lower it or use a centers file with paid_hours per shift"
            )
        shifts.append({"name": shift.name, "start": shift.start_hour, "end": shift.end_hour,
                       "paid_hours": cfg.shift_hours})

    def values(p: Mapping[str, float]) -> dict[str, Any]:
        return {
            "timezone": timezone,
            "holiday_country": holiday_country or None,
            "shifts": shifts,
            "orders_per_packer_hour": 60.0 / p["minutes_per_order"],
            "shrinkage": p["shrinkage"],
            "min_packers": p["min_packers"],  # 2.5 is refused, not planned as 2
            "cost_short": p["cost_short"],
            "cost_idle": p["cost_idle"],
        }

    base = cfg.center_values()
    default = _validate("(default)", values(base), source)
    centers = {}
    for center_id, override in cfg.center_overrides.items():
        unknown = sorted(set(override) - set(base))
        if unknown:
            raise CentersError(
                f"FCPLAN_PLANNER_CENTER_OVERRIDES for {center_id!r} names unknown field(s) {unknown}; "
                f"use {sorted(base)}"
            )
        centers[center_id] = _validate(center_id, values({**base, **override}), source)
    return Centers(centers, default, source)


def configured_centers(settings: Settings, path: str | Path | None = None) -> Centers:
    """The centers the retrainer and the planner share: the file at ``path``, else
    ``FCPLAN_PLANNER_CENTERS_FILE``, else one default center of the ``FCPLAN_PLANNER_*``
    variables in ``FCPLAN_TIMEZONE`` with ``FCPLAN_FORECAST_HOLIDAY_COUNTRY``."""
    if path is not None:
        return load_centers(path)
    return centers_from_settings(settings.planner, settings.timezone, settings.forecast.holiday_country)


def configured_locales(settings: Settings, path: str | Path | None = None) -> Locales:
    """Each center's zone and holiday country from :func:`configured_centers`."""
    return configured_centers(settings, path).locales(settings.timezone, settings.forecast.holiday_country or None)
