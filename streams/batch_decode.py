"""Decode a whole fetch of ``orders`` values at once: valid columns and rejections.

The fast path hands the fetch to msgspec as one newline-delimited buffer
(``decode_lines``: one C call for thousands of events, typed and
range-checked), then checks the business rules over whole columns. It only
ever *accepts*: a record it is not sure about (a decode error anywhere in the
fetch, a value with a newline of its own, an oversize or null value, padding
whitespace, a rule that fails) goes to :func:`streams.validation.parse_order`,
the authoritative per-record validator, which accepts it or says why not. So
the fast path accepts exactly what ``parse_order`` accepts, with the same
values, and every rejection carries ``parse_order``'s reason
(``tests/streams/test_batch_decode.py`` checks both on a corpus of good and bad
records).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import msgspec
import numpy as np

from streams.columns import OrderColumns, epoch_us
from streams.validation import Limits, Rejected, parse_order


class _Order(msgspec.Struct, frozen=True, gc=False):
    """The ``orders`` contract as msgspec checks it (see :class:`streams.contracts.Order`)."""

    order_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    center_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    ts: Annotated[datetime, msgspec.Meta(tz=True)]
    lines: Annotated[int, msgspec.Meta(ge=1)]
    units: Annotated[int, msgspec.Meta(ge=1)]


_DECODER = msgspec.json.Decoder(_Order)
#: msgspec rounds fractional seconds past microseconds, pydantic truncates them:
#: values with seven or more fractional digits take the authoritative path.
_DIGITS = bytes.maketrans(b"012345678", b"999999999")
_SUB_MICRO = b".9999999"


@dataclass(frozen=True)
class DecodedOrders:
    """Valid orders (``columns.source`` = position in the fetch) and rejections by position."""

    columns: OrderColumns
    rejected: list[tuple[int, Rejected]]


def _sub_micro(value: bytes) -> bool:
    return _SUB_MICRO in value.translate(_DIGITS)


def _decode_all(values: Sequence[bytes | None], limits: Limits) -> list[_Order | None]:
    """One struct per value, or None where the fast path is unsure of it."""
    if values and all(v is not None for v in values):
        buf = b"\n".join(values)  # type: ignore[arg-type]
        if buf.count(b"\n") == len(values) - 1 and max(map(len, values)) <= limits.max_bytes:  # type: ignore[arg-type]
            try:
                decoded = _DECODER.decode_lines(buf)
            except (msgspec.DecodeError, msgspec.ValidationError):
                decoded = None
            if decoded is not None and len(decoded) == len(values):
                if not _sub_micro(buf):
                    return decoded  # type: ignore[return-value]
                return [None if _sub_micro(v) else d  # type: ignore[arg-type]
                        for v, d in zip(values, decoded, strict=True)]
    out: list[_Order | None] = []
    for value in values:
        if value is None or len(value) > limits.max_bytes or b"\n" in value or _sub_micro(value):
            out.append(None)
            continue
        try:
            out.append(_DECODER.decode(value))
        except (msgspec.DecodeError, msgspec.ValidationError):
            out.append(None)
    return out


def _columns(structs: Sequence[_Order], source: list[int]) -> OrderColumns:
    stamps = np.array([s.ts.timestamp() for s in structs], dtype=np.float64)
    return OrderColumns(
        order_id=[s.order_id for s in structs],
        center_id=[s.center_id for s in structs],
        t_us=np.rint(stamps * 1e6).astype(np.int64),
        lines=[s.lines for s in structs],
        units=[s.units for s in structs],
        source=source,
    )


def _doubtful(cols: OrderColumns, limits: Limits, now: datetime) -> np.ndarray:
    """Positions (in ``cols``) that break a rule or that pydantic would change."""
    lines, units = np.array(cols.lines, dtype=np.int64), np.array(cols.units, dtype=np.int64)
    bad = (units < lines) | (lines > limits.max_lines) | (units > limits.max_units)
    bad |= cols.t_us > epoch_us(now + limits.max_future)
    stripped = list(map(str.strip, cols.order_id))  # pydantic strips surrounding whitespace
    if stripped != cols.order_id:
        bad |= np.array([a != b for a, b in zip(stripped, cols.order_id, strict=True)], dtype=bool)
    odd = {c for c in set(cols.center_id) if c.strip() != c or (limits.centers and c not in limits.centers)}
    if odd:
        bad |= np.array([c in odd for c in cols.center_id], dtype=bool)
    return np.flatnonzero(bad)


def decode_orders(values: Sequence[bytes | None], limits: Limits, now: datetime) -> DecodedOrders:
    """Validate a fetch of raw ``orders`` values; ``now`` is tz-aware wall-clock time.

    Returns the valid orders as columns, in fetch order, and ``(position,
    Rejected)`` for the rest, as :func:`streams.validation.parse_order` judges them.
    """
    structs = _decode_all(values, limits)
    source = [i for i, s in enumerate(structs) if s is not None]
    cols = _columns([structs[i] for i in source], source)  # type: ignore[misc]
    undecoded = set(range(len(values))).difference(source)
    unsure = sorted(undecoded.union(source[k] for k in _doubtful(cols, limits, now).tolist()))
    if not unsure:
        return DecodedOrders(cols, [])
    # The authoritative path for the few records the fast path is unsure of.
    rejected: list[tuple[int, Rejected]] = []
    for i in unsure:
        parsed = parse_order(values[i], limits, now)
        if isinstance(parsed, Rejected):
            rejected.append((i, parsed))
            structs[i] = None
        else:  # accepted after all (stripped whitespace, a lax number): pydantic's values
            structs[i] = _Order(parsed.order_id, parsed.center_id, parsed.ts, parsed.lines, parsed.units)
    source = [i for i, s in enumerate(structs) if s is not None]
    return DecodedOrders(_columns([structs[i] for i in source], source), rejected)  # type: ignore[misc]
