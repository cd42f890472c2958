"""One frozen settings object, read from ``FCPLAN_*`` environment variables.

Sections are nested models; a variable names its section and field with one
underscore between them, e.g. ``FCPLAN_DATABASE_URL`` sets ``database.url`` and
``FCPLAN_PLANNER_MINUTES_PER_ORDER`` sets ``planner.minutes_per_order``.
The environment is read once, at the entry point (:func:`load_settings`); every
component receives only its own section.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Iterable, Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from fcplan.core.quantiles import check_levels

log = logging.getLogger(__name__)

DEFAULT_QUANTILES: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
#: The longest duration a setting in hours may give: 100 years. A longer one overflowed where it
#: became a timedelta or a time ahead of now (FCPLAN_STREAMS_LATE_GRACE_HOURS=1e12: the worker's
#: start failed with OverflowError).
MAX_HOURS = 24 * 366 * 100
#: The longest duration a setting in seconds may give: 2^31 - 1 ms, what Kafka's clients (int32
#: milliseconds) and Python's timers take.
MAX_SECONDS = (2**31 - 1) // 1000
#: The longest forecast horizon a setting may give, in days: ten years. FCPLAN_FORECAST_HORIZON=100000 was
#: accepted at start and every retrain failed (its days run past 2262, the latest date pandas holds).
MAX_HORIZON_DAYS = 3660
Hours = Annotated[float, Field(ge=0, le=MAX_HOURS)]
Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS)]


def _split_csv(value: object) -> object:
    """Accept ``a,b,c`` as well as a JSON list for list-valued variables."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class _Section(BaseModel):
    # allow_inf_nan: "inf" overflowed where a setting became a duration (the worker's start failed with
    # OverflowError on FCPLAN_STREAMS_LATE_GRACE_HOURS=inf) and "nan" was refused as "less than 24"
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class KafkaSettings(_Section):
    """Where the events flow. ``bootstrap`` unset means: start the embedded broker."""

    bootstrap: str | None = None
    broker_host: str = "127.0.0.1"
    #: The embedded broker's port; 0: any free port (``fcplan broker``, ``fcplan demo``).
    broker_port: int = Field(9092, ge=0, le=65535)
    partitions: int = Field(4, ge=1)
    # Short group timeouts: the embedded broker (Tansu) answers each group join after half the
    # session timeout (measured: 5 s at 10 s, 2 s at 4 s), so local setups may lower it; Apache
    # Kafka refuses session timeouts under its group.min.session.timeout.ms (6 s by default).
    rebalance_timeout_s: Seconds = 3.0
    session_timeout_s: Seconds = 10.0
    heartbeat_interval_s: Seconds = 1.0
    max_poll_interval_s: Seconds = 30.0
    #: How long a producer (``simulate``, ``replay``, the forecast's publishing) waits for a broker
    #: to answer before it says none does.
    connect_timeout_s: Seconds = 30.0

    @property
    def embedded(self) -> bool:
        return not self.bootstrap

    @property
    def servers(self) -> str:
        """The bootstrap servers clients connect to (the embedded broker when unset)."""
        return self.bootstrap or f"{self.broker_host}:{self.broker_port}"


class DatabaseSettings(_Section):
    url: str = "sqlite:///var/fcplan.db"


class StreamsSettings(_Section):
    app_id: str = "fcplan-worker"
    batch_size: int = Field(5000, ge=1)
    batch_within_s: Seconds = 0.25
    late_grace_hours: Hours = 48.0
    max_future_hours: Hours = 1.0
    max_message_bytes: int = Field(64 * 1024, ge=256)
    # Real B2B orders reach a thousand lines and 87,000 units (online retail data).
    max_lines: int = Field(10_000, ge=1)
    max_units: int = Field(1_000_000, ge=1)
    #: Seconds a worker may take to stop after SIGTERM/SIGINT before it exits anyway (code 3),
    #: logging where it was stuck; uncommitted batches are read again. Keep it under the
    #: supervisor's grace period (docker-compose.yml gives the worker 30 s).
    stop_timeout_s: Seconds = 20.0
    #: Minutes without an order read, while the broker answers, before the worker tells a silent feed
    #: (a ``feed_stopped`` alert: table, ``forecast-alerts``, webhook), at least; with a day of history the quiet
    #: time must also be unlikely at these hours (:mod:`fcplan.streams.feed_watch`); 0 turns the watch off.
    feed_silence_minutes: float = Field(30.0, ge=0)


class ForecastSettings(_Section):
    horizon: int = Field(14, ge=1, le=MAX_HORIZON_DAYS)
    quantiles: Annotated[tuple[float, ...], NoDecode] = DEFAULT_QUANTILES
    # The retrainer's pool; "mlp" and "deepar" (torch) are registered too, and pay off
    # on many series with a longer time budget.
    models: Annotated[tuple[str, ...], NoDecode] = (
        "seasonal_naive",
        "moving_average",
        "ets",
        "sarimax",
        "theta",
        "glm",
        "lightgbm",
    )
    backtest_windows: int = Field(2, ge=1)
    #: Days between the rolling retrainer's backtest cutoffs (a calendar grid, see
    #: :mod:`fcplan.models.backtest`). Shorter than the horizon, the windows overlap: the grid
    #: moves on once a week, so runs made days apart share their windows and the registry
    #: compares champion and challenger on them (with one horizon, 15 days, runs shared at
    #: most one window on a short history).
    backtest_step_days: int = Field(7, ge=1)
    holiday_country: str = "KR"
    #: Seconds for the model search (optional). None: the work is bounded by iterations and the
    #: data's size, so the same history gives the same forecast on any machine load.
    time_limit_s: float | None = Field(None, gt=0)
    min_history_days: int = Field(14, ge=1)
    #: Drift alerts are also POSTed here as JSON (retried with backoff; empty: no webhook).
    alert_webhook: str = ""

    _split = field_validator("quantiles", "models", mode="before")(classmethod(lambda cls, v: _split_csv(v)))

    @field_validator("quantiles")
    @classmethod
    def _check_quantiles(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(check_levels(value))

    @field_validator("alert_webhook")
    @classmethod
    def _check_webhook(cls, value: str) -> str:
        """Refused at start: a bad URL failed every retrain (after the fit was skipped) and the simulated loop."""
        value = value.strip()
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s) URL, e.g. https://hooks.example.com/fcplan (or empty); got {value!r}")
        return value


def share_not_percent(value: object) -> object:
    """A share of 0-1 as given; a value between 1 and 100 (``15`` for 15 %) refused saying to
    write ``0.15``. ``shrinkage = 15`` was "Input should be less than 1", with no word of how."""
    if isinstance(value, str) and value.strip().endswith("%"):  # "15%": "unable to parse string as a number"
        try:
            number = float(value.strip()[:-1])
        except ValueError:
            return value
        raise ValueError(f"{value!r} is a percentage; write the share between 0 and 1, {number / 100:g}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return value  # pydantic says what is wrong with it
    if 1 < number <= 100:
        raise ValueError(f"{value!r} must be less than 1, a share between 0 and 1; if it is a percentage, "
                         f"write {number / 100:g} for {number:g} %")
    return value


class CenterParams(_Section):
    """Productivity and cost parameters of one center (the planner's inputs).

    ``minutes_per_order``: packing minutes per order; ``shift_hours``: paid hours of
    one packer's shift; ``shrinkage``: share of paid hours not spent packing
    (breaks, training); ``cost_short`` / ``cost_idle``: cost of one order-unit of
    missing / idle capacity; ``min_packers``: floor per shift.
    """

    minutes_per_order: float = Field(2.0, gt=0)
    shift_hours: float = Field(8.0, gt=0, le=24)
    shrinkage: float = Field(0.15, ge=0, lt=1)
    cost_short: float = Field(3.0, gt=0)
    cost_idle: float = Field(1.0, gt=0)
    min_packers: int = Field(1, ge=0)

    _share = field_validator("shrinkage", mode="before")(classmethod(lambda cls, v: share_not_percent(v)))

    @property
    def service_quantile(self) -> float:
        """The newsvendor critical ratio ``cost_short / (cost_short + cost_idle)``."""
        return self.cost_short / (self.cost_short + self.cost_idle)

    @property
    def productive_hours(self) -> float:
        """Packing hours one packer delivers per shift: ``shift_hours * (1 - shrinkage)``."""
        return self.shift_hours * (1.0 - self.shrinkage)

    def as_dict(self) -> dict[str, float]:
        return {**self.center_values(), "service_quantile": self.service_quantile}

    def center_values(self) -> dict[str, float]:
        """The fields of :class:`CenterParams` only (not those a subclass adds)."""
        return {name: getattr(self, name) for name in CenterParams.model_fields}

    @classmethod
    def from_settings(cls, settings: CenterParams) -> CenterParams:
        return cls(**settings.center_values())

    @classmethod
    def per_center(cls, settings: PlannerSettings, centers: Iterable[str]) -> dict[str, CenterParams]:
        """Parameters of each center: the settings, with that center's overrides
        (``FCPLAN_PLANNER_CENTER_OVERRIDES``) applied."""
        base = settings.center_values()
        allowed = set(base)
        out = {}
        for center in centers:
            override = settings.center_overrides.get(center, {})
            unknown = sorted(set(override) - allowed)
            if unknown:
                raise ValueError(
                    f"FCPLAN_PLANNER_CENTER_OVERRIDES for {center!r} names unknown field(s) {unknown}; "
                    f"use {sorted(allowed)}"
                )
            out[center] = cls(**{**base, **override})
        return out


class PlannerSettings(CenterParams):
    """Productivity and cost parameters (one set for every center unless overridden) and shifts."""

    # name:start-end in local hours; they must not overlap (hours none covers wait for the next to start).
    shifts: Annotated[tuple[str, ...], NoDecode] = ("day:6-14", "swing:14-22", "night:22-6")
    #: Per-center overrides of the fields of :class:`CenterParams`, as JSON, e.g.
    #: {"FC-SEOUL-1": {"minutes_per_order": 1.6, "shrinkage": 0.12}}.
    center_overrides: dict[str, dict[str, float]] = Field(default_factory=dict)
    #: A centers TOML file (per-center zone, shifts, productivity, bounds, costs); when set it
    #: replaces the fields above (see fcplan.planner.centers).
    centers_file: str | None = None

    _split = field_validator("shifts", mode="before")(classmethod(lambda cls, v: _split_csv(v)))


class Settings(BaseSettings):
    """Everything fcplan reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="FCPLAN_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        frozen=True,
        extra="ignore",
    )

    kafka: KafkaSettings = KafkaSettings()
    database: DatabaseSettings = DatabaseSettings()
    streams: StreamsSettings = StreamsSettings()
    forecast: ForecastSettings = ForecastSettings()
    planner: PlannerSettings = PlannerSettings()
    #: Centers the worker accepts; empty accepts any center id.
    centers: Annotated[tuple[str, ...], NoDecode] = ()
    #: The centers' local time zone: days and shifts are local.
    timezone: str = "Asia/Seoul"

    _split = field_validator("centers", mode="before")(classmethod(lambda cls, v: _split_csv(v)))
    # " Asia/Seoul" (a space after `=`) was "' Asia/Seoul' is not an IANA zone, e.g. Asia/Seoul"
    _strip_zone = field_validator("timezone", mode="before")(
        classmethod(lambda cls, v: v.strip() if isinstance(v, str) else v))

    @model_validator(mode="after")
    def _check_timezone(self) -> Settings:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"FCPLAN_TIMEZONE={self.timezone!r} is not an IANA zone, e.g. Asia/Seoul"
            ) from exc
        return self


def load_settings() -> Settings:
    """Read the environment (call at entry points only). A ``FCPLAN_*`` variable that names no
    setting (a misspelt one: FCPLAN_DATABSE_URL) is logged as a warning naming the closest
    setting, once per process (the dashboard reads the settings at every rerun); the settings
    ignore it."""
    for name, hint in unknown_variables(os.environ).items():
        if name in _WARNED:
            continue
        _WARNED.add(name)
        log.warning("%s is not an fcplan setting, so it is ignored%s", name,
                    f"; did you mean {hint}?" if hint else " (the README lists the settings)")
    return Settings()


#: The unknown variables :func:`load_settings` warned about in this process.
_WARNED: set[str] = set()
#: FCPLAN_* variables that are read outside the settings (the test suite's database).
OTHER_VARIABLES = frozenset({"FCPLAN_TEST_PG_URL"})


def unknown_variables(environ: Mapping[str, str]) -> dict[str, str | None]:
    """``name -> the closest setting's variable (or None)`` for each ``FCPLAN_*`` variable of
    ``environ`` that no setting reads. A section's unknown field (FCPLAN_DATABASE_URI) is not
    among them: the section refuses it itself. The top level takes extra variables, so before
    this a misspelt section or top-level name (FCPLAN_DATABSE_URL, FCPLAN_TIMEZON) was ignored
    without a word and its default used."""
    known = environment_variables()
    sections = tuple(
        f"FCPLAN_{name}_".upper() for name, fld in Settings.model_fields.items()
        if isinstance(fld.annotation, type) and issubclass(fld.annotation, BaseModel)
    )
    tails = {k.removeprefix("FCPLAN_"): k for k in known}  # (the shared prefix made any name look close)
    out: dict[str, str | None] = {}
    for var in environ:
        name = var.upper()  # the settings read names case-insensitively
        if not name.startswith("FCPLAN_") or name in known or name in OTHER_VARIABLES:
            continue
        if name.startswith(sections) or f"{name}_" in sections:  # a section's field, or the section as JSON
            continue
        close = difflib.get_close_matches(name.removeprefix("FCPLAN_"), sorted(tails), n=1, cutoff=0.6)
        out[var] = tails[close[0]] if close else None
    return out


def closest_variable(var: str) -> str | None:
    """The settings' variable closest to ``var`` (a section's unknown field: FCPLAN_PLANNER__SHRINKAGE,
    pydantic's double-underscore habit, or FCPLAN_FORECAST_HORIZEN), or None."""
    known = {k.removeprefix("FCPLAN_"): k for k in environment_variables()}
    name = "_".join(part for part in var.upper().removeprefix("FCPLAN_").split("_") if part)
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return known[close[0]] if close else None


#: Every environment variable the settings read, for docs and the compose test.
def environment_variables() -> set[str]:
    names = set()
    for name, fld in Settings.model_fields.items():
        ann = fld.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            names |= {f"FCPLAN_{name}_{sub}".upper() for sub in ann.model_fields}
        else:
            names.add(f"FCPLAN_{name}".upper())
    return names
