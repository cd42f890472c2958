"""Pure validation of raw event bytes: a record, or a rejection with a reason.

No Kafka here; the agents call these and route rejections to the dead-letter
topic with the original bytes. :func:`parse_order` and :func:`parse_promotion`
never raise: an exception while judging a record (whatever its cause) is a
rejection with reason ``undecodable`` and the exception in the detail, so no
record can stop a batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from fcplan.core.contracts import QUANTITY_LIMITS, Order, Promotion

MALFORMED = "malformed"
INVALID = "invalid"
OVERSIZE = "oversize"
ABSURD = "absurd_quantity"
FUTURE = "future"
LATE = "late"
UNKNOWN_CENTER = "unknown_center"
#: A promotion naming known and unknown centers: stored for the known ones, and the record (its bytes
#: whole) dead-lettered for the others, so that nothing is lost either way.
PARTLY_UNKNOWN_CENTER = "unknown_center_partly"
#: Judging the record raised (a validator bug, a parser limit): the exception is the detail.
UNDECODABLE = "undecodable"
#: The record passed validation but the database refused it (found by bisecting a failed batch).
UNWRITABLE = "unwritable"
#: The order id is already stored (or earlier in the batch) with another center, time, lines
#: or units: the first stays, this one goes to the dead-letter topic with both payloads.
CONFLICT = "conflicting_duplicate"
#: The earliest event time accepted: an order or promotion stamped before it comes from a broken
#: clock (an order stamped 1600 was stored and then made every read of the hours fail: pandas
#: holds no time before 1677). 1970-01-01 itself (a clock reset to zero) is accepted and left
#: out of the history by :func:`fcplan.storage.queries.history_start`.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
#: Promotions may not start or end this late: pandas holds no time after 2262 (a typo such as
#: 2326 for 2026 was stored and then made every read of the promotion calendar fail).
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
#: Characters of an exception's text kept in a dead letter's detail.
_DETAIL_CHARS = 500


@dataclass(frozen=True)
class Limits:
    """What the worker accepts; built from the streams settings and the center list."""

    max_bytes: int = 64 * 1024
    max_lines: int = 10_000
    max_units: int = 1_000_000
    max_future: timedelta = timedelta(hours=1)
    late_grace: timedelta = timedelta(hours=48)
    centers: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Rejected:
    reason: str
    detail: str


@dataclass(frozen=True)
class Narrowed:
    """A promotion kept for the centers it names that are known (``promotion``); ``rejected`` says
    which were not: the record goes to the dead-letter topic too."""

    promotion: Promotion
    rejected: Rejected


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def exception_detail(exc: BaseException) -> str:
    """``Type: message`` of an exception, short and always encodable as UTF-8 (a
    message may quote the record, lone surrogates included)."""
    orig = getattr(exc, "orig", None)  # a database error: the driver's message, not the statement
    text = f"{type(exc).__name__}: {orig if orig is not None else exc}".strip()
    if len(text) > _DETAIL_CHARS:
        text = text[:_DETAIL_CHARS] + f"... ({len(text)} characters)"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def undecodable(exc: BaseException) -> Rejected:
    """The rejection of a record whose judging raised ``exc``."""
    return Rejected(UNDECODABLE, exception_detail(exc))


def _center_known(center: str, limits: Limits) -> bool:
    return not limits.centers or center in limits.centers


def _rejection(exc: ValidationError, limits: Limits) -> Rejected:
    errors = exc.errors()
    kinds = {err["type"] for err in errors}
    if kinds & {"json_invalid", "model_type", "model_attributes_type"}:
        return Rejected(MALFORMED, f"not a JSON object: {_describe(exc)}")
    huge = {err["loc"][0]: err["input"] for err in errors if err["type"] == "int_parsing_size"}
    if huge and len(huge) == len(errors) and set(huge) <= {"lines", "units"}:  # 1e30: past any integer limit
        return _absurd(huge.get("lines", "?"), huge.get("units", "?"), limits)
    return Rejected(INVALID, _describe(exc))


def _absurd(lines: object, units: object, limits: Limits) -> Rejected:
    return Rejected(ABSURD, f"lines={lines}, units={units}; limits {limits.max_lines}/{limits.max_units}")


def _decode(model: type[Order] | type[Promotion], raw: bytes | None, limits: Limits) -> Order | Promotion | Rejected:
    """Size check, then JSON straight to the record (pydantic-core's parser)."""
    if raw is None:
        return Rejected(MALFORMED, "empty message (null value)")
    if len(raw) > limits.max_bytes:
        return Rejected(OVERSIZE, f"{len(raw)} bytes, limit {limits.max_bytes}")
    try:
        return model.model_validate_json(raw, context={QUANTITY_LIMITS: (limits.max_lines, limits.max_units)})
    except ValidationError as exc:
        return _rejection(exc, limits)


def parse_order(raw: bytes | None, limits: Limits, now: datetime) -> Order | Rejected:
    """Decode and check one ``orders`` value. ``now`` is tz-aware wall-clock time.

    Parsing goes straight from bytes (pydantic-core's JSON parser: a few
    microseconds an event). Lateness is not judged here: it depends on the
    stream time, which the sink knows (see :func:`fcplan.streams.columns.split_late`).
    Never raises (see the module docstring).
    """
    try:
        return _check_order(raw, limits, now)
    except Exception as exc:  # any record, any exception: a dead letter, never a failed batch
        return undecodable(exc)


def _check_order(raw: bytes | None, limits: Limits, now: datetime) -> Order | Rejected:
    order = _decode(Order, raw, limits)
    if not isinstance(order, Order):
        return order
    if order.lines > limits.max_lines or order.units > limits.max_units:
        return _absurd(order.lines, order.units, limits)
    if order.ts > now + limits.max_future:
        return Rejected(FUTURE, f"ts {order.ts.isoformat()} is more than {limits.max_future} ahead of now")
    if order.ts < EARLIEST:
        return Rejected(INVALID, f"ts {order.ts.isoformat()} is before {EARLIEST.date()}; fix the clock of the "
                                 "system that sent it")
    if not _center_known(order.center_id, limits):
        return Rejected(UNKNOWN_CENTER, f"center {order.center_id!r} is not in FCPLAN_CENTERS")
    return order


def parse_promotion(
    raw: bytes | None, limits: Limits, now: datetime | None = None
) -> Promotion | Rejected | Narrowed:
    """Decode and check one ``promotions`` value; ``now`` is tz-aware wall-clock time (the
    current time when left out). A promotion naming known and unknown centers is :class:`Narrowed`
    to the known ones (one naming only unknown centers is rejected). Never raises (see the module
    docstring)."""
    try:
        return _check_promotion(raw, limits, datetime.now(UTC) if now is None else now)
    except Exception as exc:
        return undecodable(exc)


def _check_promotion(raw: bytes | None, limits: Limits, now: datetime) -> Promotion | Rejected | Narrowed:
    promo = _decode(Promotion, raw, limits)
    if not isinstance(promo, Promotion):
        return promo
    for name in ("start", "end"):
        value: datetime = getattr(promo, name)
        if not EARLIEST <= value < LATEST:
            return Rejected(INVALID, f"{name} {value.isoformat()} is not between {EARLIEST.date()} and "
                                     f"{LATEST.date()}; check the year")
    if promo.updated_at is not None and promo.updated_at > now + limits.max_future:
        # the newest version wins: one stamped in the future would win over every correction until then
        return Rejected(FUTURE, f"updated_at {promo.updated_at.isoformat()} is more than {limits.max_future} "
                                "ahead of now; stamp a version with the time it was made")
    if promo.end - promo.start > timedelta(days=366):
        return Rejected(INVALID, f"promotion lasts {promo.end - promo.start}; at most a year is accepted")
    unknown = [c for c in promo.center_ids or [] if not _center_known(c, limits)]
    known = [c for c in promo.center_ids or [] if _center_known(c, limits)]
    if unknown and not known:
        return Rejected(UNKNOWN_CENTER, f"centers {unknown} are not in FCPLAN_CENTERS")
    if unknown:  # dead-lettering it whole dropped the promotion for the centers that run it
        return Narrowed(promo.model_copy(update={"center_ids": known}), Rejected(
            PARTLY_UNKNOWN_CENTER, f"centers {unknown} are not in FCPLAN_CENTERS; the promotion was stored for "
                                   f"{known} only (send it again for the others once they are listed)"))
    return promo
