"""Event contracts: every topic fcplan reads or writes, and its record type.

Values are JSON (UTF-8); keys are center ids (UTF-8), so per-center order is
kept and no repartition is needed. Dead letters keep the original bytes as the
value and say why in headers (``dlq.reason``, ``dlq.detail``, ``dlq.topic``,
``dlq.partition``, ``dlq.offset``), as Kafka Connect does.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

ORDERS = "orders"
PROMOTIONS = "promotions"
CENTER_DEMAND = "center-demand"
FORECASTS = "forecasts"
STAFFING_PLANS = "staffing-plans"
FORECAST_ALERTS = "forecast-alerts"
ORDERS_DLQ = "orders-dlq"
PROMOTIONS_DLQ = "promotions-dlq"

#: :attr:`Promotion.status` of a withdrawn promotion: it lifts nothing, and at a tie of
#: ``updated_at`` it wins over the active version (:mod:`fcplan.streams.sink`).
CANCELLED = "cancelled"

#: :attr:`ForecastAlert.kind` of the silent-feed alerts: a center without orders where the forecast
#: expected them (``fcplan.models.silence``), every center so (same), and the worker reading no
#: order for minutes while the broker answers (``fcplan.streams.feed_watch``); the last two name
#: the center :data:`ALL_CENTERS`.
SILENT_CENTER, FEED_SILENT, FEED_STOPPED = "silent_center", "feed_silent", "feed_stopped"
#: The silence alerts' alarm level: the orders' absence must have had under this chance under what was
#: expected (the forecast for the drift loop's watch, the usual rates for the worker's). At most one false
#: alarm in ``1 / SILENCE_ALPHA`` quiet runs when the expectation is calibrated (benchmarks/silence.py).
SILENCE_ALPHA = 1e-6
ALL_CENTERS = "all"


class Record(BaseModel):
    """Base of every topic's record: frozen, extra fields ignored, JSON on the wire."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


#: C0 and C1 control characters (NUL, BEL, ESC, ...): never part of an id a person or a system means.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable_id(value: object) -> object:
    """An id (after stripping) that holds a control character is refused naming it: "FC-1\x00" was a
    new center for good (hours, forecasts and plans of a center nobody runs)."""
    if isinstance(value, str) and (found := CONTROL.search(value)):
        raise ValueError(f"holds the control character U+{ord(found.group()):04X} at position {found.start()}; "
                         "send ids as printable text")
    return value


def _not_boolean(value: object) -> object:
    """A number field given ``true``/``false``: pydantic read it as 1/0 (``"lines": true`` was
    stored as one line); refused instead."""
    if isinstance(value, bool):
        raise ValueError(f"Input should be a number, not the boolean {str(value).lower()}")
    return value


#: Validation context key of an :class:`Order`: ``(max_lines, max_units)`` of a caller that rejects
#: larger counts itself (the stream validator); past them, "units must be at least lines" is not said.
QUANTITY_LIMITS = "quantity_limits"


class Order(Record):
    """One customer order, as the shop system emits it."""

    order_id: str = Field(min_length=1, max_length=128)
    center_id: str = Field(min_length=1, max_length=64)
    ts: AwareDatetime
    lines: int = Field(ge=1)
    units: int = Field(ge=1)

    @field_validator("lines", "units", mode="before")
    @classmethod
    def _no_boolean_count(cls, value: object) -> object:
        return _not_boolean(value)

    _printable = field_validator("order_id", "center_id")(classmethod(lambda cls, v: printable_id(v)))

    @model_validator(mode="after")
    def _units_cover_lines(self, info: ValidationInfo) -> Order:
        limits = (info.context or {}).get(QUANTITY_LIMITS)
        if limits is not None and (self.lines > limits[0] or self.units > limits[1]):
            return self  # the caller rejects it for its limits: the clearer reason (1e6 lines, 5 units)
        if self.units < self.lines:
            raise ValueError(f"units ({self.units}) must be at least lines ({self.lines})")
        return self


class Promotion(Record):
    """A promotion announcement; a later version with the same ``promo_id`` replaces it."""

    promo_id: str = Field(min_length=1, max_length=128)
    center_ids: list[str] | None = None  # None (or "all"): every center
    start: AwareDatetime
    end: AwareDatetime
    kind: str = Field(min_length=1, max_length=64)
    discount_pct: float = Field(ge=0, le=100)
    status: Literal["active", "cancelled"] = "active"  # "cancelled" is :data:`CANCELLED`
    #: Version time: the newest wins. Producers should set it; it defaults to ``start``.
    updated_at: AwareDatetime | None = None

    @field_validator("discount_pct", mode="before")
    @classmethod
    def _no_boolean_discount(cls, value: object) -> object:
        if isinstance(value, float) and value != value:  # NaN: "should be less than or equal to 100"
            raise ValueError("Input should be a finite number, not NaN")
        return _not_boolean(value)

    @field_validator("center_ids", mode="before")
    @classmethod
    def _all_means_none(cls, value: object) -> object:
        def is_all(v: object) -> bool:
            return isinstance(v, str) and v.strip().lower() == "all"

        if is_all(value) or (isinstance(value, list) and len(value) == 1 and is_all(value[0])):
            return None  # "all", ["all"], "ALL", [" All "]
        return value

    @field_validator("center_ids")
    @classmethod
    def _check_center_ids(cls, value: list[str] | None) -> list[str] | None:
        """Each listed center a real id: "" matched no center (the promotion was stored and applied
        nowhere) and "all" beside other ids was taken as a center named "all"."""
        for center in value or ():
            if not center:
                raise ValueError('center_ids holds an empty id; list center ids, or send "all" for every center')
            if center.lower() == "all":
                raise ValueError('center_ids lists "all" beside other centers; send "all" alone or only center ids')
            printable_id(center)
        return value

    @model_validator(mode="after")
    def _check_window(self) -> Promotion:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        if self.center_ids is not None and not self.center_ids:
            raise ValueError("center_ids must name at least one center, or be 'all'")
        return self


class CenterDemand(Record):
    """Orders of one center in one hour (UTC hour start), as stored."""

    center_id: str
    hour: AwareDatetime
    orders: int
    lines: int
    units: int


class ForecastRecord(Record):
    run_id: str
    model_version: str
    center_id: str
    ds: date
    quantiles: dict[str, float]


class StaffingPlanRecord(Record):
    plan_id: str
    center_id: str
    day: date
    shift: str
    packers: int
    orders_planned: float


class ForecastAlert(Record):
    """A drift alert. The hourly monitor (``fcplan.models.drift_monitor``) also fills its
    lifecycle and evidence: ``alert_id``, ``status`` (open, cleared), the test, its
    statistic and threshold, the window it judged and the champion's version."""

    center_id: str
    day: date
    kind: str
    message: str
    created_at: datetime
    alert_id: str | None = None
    status: Literal["open", "cleared"] | None = None
    statistic: float | None = None
    threshold: float | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    model_version: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)


def dead_letter_headers(source: Any, reason: str, detail: str) -> list[tuple[str, bytes]]:
    """Kafka Connect style dead-letter headers; ``source`` is the consumed record
    (anything with ``topic``, ``partition`` and ``offset``)."""
    return [
        ("dlq.reason", reason.encode()),
        ("dlq.detail", detail[:1000].encode()),
        ("dlq.topic", str(source.topic).encode()),
        ("dlq.partition", str(source.partition).encode()),
        ("dlq.offset", str(source.offset).encode()),
    ]


#: The most bytes of a record's value a dead letter carries. Producers refuse a message over about
#: 1 MB (aiokafka's and faust's ``max_request_size``, Kafka's default ``message.max.bytes``): a 1.5 MB
#: order, oversize, was dead-lettered whole, the send raised, and the consumer (the promotions agent)
#: retried that batch for good, reading nothing after it.
DEAD_LETTER_MAX_BYTES = 512 * 1024
#: The most bytes of a record's key a dead letter carries: with a value cut to
#: :data:`DEAD_LETTER_MAX_BYTES` and the headers, the dead letter stays under the producer's 1 MB
#: (a key and a value cut to 512 KiB each were 1 MB before the headers, and refused again).
DEAD_LETTER_MAX_KEY_BYTES = 64 * 1024


def dead_letter(source: Any, reason: str, detail: str) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """``(key, value, headers)`` of the dead letter of ``source`` (a consumed record: ``key``,
    ``value``, ``topic``, ``partition``, ``offset``): its bytes as read, or, past
    :data:`DEAD_LETTER_MAX_KEY_BYTES` (key) or :data:`DEAD_LETTER_MAX_BYTES` (value), their first bytes
    with a ``dlq.truncated`` header giving the sizes read (the whole record stays in its topic at
    ``dlq.offset``)."""
    kept = {"key": source.key, "value": source.value}
    limits = {"key": DEAD_LETTER_MAX_KEY_BYTES, "value": DEAD_LETTER_MAX_BYTES}
    headers = dead_letter_headers(source, reason, detail)
    cut = [name for name, b in kept.items() if b is not None and len(b) > limits[name]]
    if cut:
        sizes = ", ".join(f"{name} {len(kept[name])} bytes" for name in cut)
        headers.append(("dlq.truncated", f"{sizes}; the first {' and '.join(str(limits[n]) for n in cut)} kept"
                        .encode()))
        kept.update({name: kept[name][:limits[name]] for name in cut})
    return kept["key"], kept["value"], headers


#: topic -> record type, for docs, tests and topic creation.
TOPICS: dict[str, type[Record] | None] = {
    ORDERS: Order,
    PROMOTIONS: Promotion,
    CENTER_DEMAND: CenterDemand,
    FORECASTS: ForecastRecord,
    STAFFING_PLANS: StaffingPlanRecord,
    FORECAST_ALERTS: ForecastAlert,
    ORDERS_DLQ: None,  # original bytes + reason headers
    PROMOTIONS_DLQ: None,
}
