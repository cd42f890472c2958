"""Decode a whole fetch of ``orders`` values at once: valid columns and rejections.

The fast path hands the fetch to msgspec as one newline-delimited buffer
(``decode_lines``: one C call for thousands of events, typed and
range-checked), then checks the business rules over whole columns. It only
ever *accepts*: a record it is not sure about (a decode error anywhere in the
fetch, a value with a newline of its own, an oversize or null value, padding
whitespace, a rule that fails) goes to :func:`fcplan.streams.validation.parse_order`,
the authoritative per-record validator, which accepts it or says why not. So
the fast path accepts exactly what ``parse_order`` accepts, with the same
values, and every rejection carries ``parse_order``'s reason
(``tests/streams/test_batch_decode.py`` checks both on a corpus of good and bad
records, ``tests/streams/test_fuzz_decode.py`` on mutated ones).

No record can make :func:`decode_fetch` raise: an exception of the fast path
(msgspec raises ``RecursionError`` on a value nested a few thousand levels
deep, numpy ``OverflowError`` on integers past 64 bits, ...) only sends the
records concerned, or at worst the whole fetch, to ``parse_order``, which
never raises (an exception there is a rejection with reason ``undecodable``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import msgspec
import numpy as np

from fcplan.core.contracts import CONTROL
from fcplan.core.time import epoch_us
from fcplan.streams.columns import OrderColumns
from fcplan.streams.counted import Origin
from fcplan.streams.validation import EARLIEST, Limits, Rejected, parse_order, undecodable

log = logging.getLogger(__name__)


class _Order(msgspec.Struct, frozen=True, gc=False):
    """The ``orders`` contract as msgspec checks it (see :class:`fcplan.core.contracts.Order`)."""

    order_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    center_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    ts: Annotated[datetime, msgspec.Meta(tz=True)]
    lines: Annotated[int, msgspec.Meta(ge=1)]
    units: Annotated[int, msgspec.Meta(ge=1)]


_DECODER = msgspec.json.Decoder(_Order)
_DOT, _ZERO, _BRACE, _BRACKET = ord("."), ord("0"), ord("{"), ord("[")
#: Seconds from the epoch within which float seconds times 1e6 are exact microseconds
#: (below 2**53 us, about 1685-2255); times outside are converted exactly, one by one.
_EXACT_S = 2**53 / 1e6
_INT64 = np.iinfo(np.int64)
_EARLIEST_US = epoch_us(EARLIEST)


class Fetch:
    """A fetch's raw values in one buffer: joined by newlines, with each value's size.

    This is what the consumer hands to the writer process: one bytes object
    and one array instead of thousands of small ones. A ``None`` value is an
    empty slot of size -1.
    """

    __slots__ = ("joined", "origin", "sizes", "starts")

    def __init__(self, joined: bytes, sizes: np.ndarray, origin: Origin | None = None) -> None:
        self.joined = joined
        self.sizes = sizes
        self.origin = origin
        ends = np.cumsum(np.maximum(sizes, 0) + 1)
        self.starts = ends - np.maximum(sizes, 0) - 1

    @classmethod
    def of(cls, values: Sequence[bytes | None], origin: Origin | None = None) -> Fetch:
        """``origin``: the logs and offsets of the values (none: counted as new whenever written)."""
        try:
            joined = b"\n".join(values)  # type: ignore[arg-type]
        except TypeError:  # a None value
            joined = b"\n".join(b"" if v is None else v for v in values)
            return cls(joined, np.array([-1 if v is None else len(v) for v in values], dtype=np.int64), origin)
        return cls(joined, np.fromiter(map(len, values), dtype=np.int64, count=len(values)), origin)

    def __len__(self) -> int:
        return len(self.sizes)

    def __reduce__(self) -> tuple:
        return Fetch, (self.joined, self.sizes, self.origin)

    def value(self, i: int) -> bytes | None:
        size = int(self.sizes[i])
        if size < 0:
            return None
        start = int(self.starts[i])
        return self.joined[start : start + size]


@dataclass(frozen=True)
class DecodedOrders:
    """Valid orders (``columns.source`` = position in the fetch) and rejections by position."""

    columns: OrderColumns
    rejected: list[tuple[int, Rejected]]


def _is_utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _owners(fetch: Fetch, at: np.ndarray) -> np.ndarray:
    """The value (position in the fetch) that each byte offset of ``at`` falls in."""
    return np.searchsorted(fetch.starts, at, side="right") - 1


def _unsure(fetch: Fetch) -> list[int]:
    """Positions of the values msgspec might judge unlike pydantic, ascending:

    * a ``.`` followed by seven digits: msgspec rounds fractional seconds past
      microseconds, pydantic truncates them (the check looks at the whole value,
      so an id like ``a.1234567`` also qualifies, harmlessly);
    * more than one ``{`` or ``[``: pydantic refuses JSON nested past 200 levels
      (in any field, ignored ones included), msgspec only past about a thousand;
    * a byte past ASCII in a value that is not valid UTF-8: msgspec does not
      check the text of the keys and values it skips, pydantic refuses it.

    Found with numpy over the joined buffer, so a clean fetch costs a few scans.
    """
    buf = np.frombuffer(fetch.joined, dtype=np.uint8)
    dots = np.flatnonzero(buf[: max(len(buf) - 7, 0)] == _DOT)
    hit = np.ones(len(dots), dtype=bool)
    for k in range(1, 8):
        hit &= (buf[dots + k] - _ZERO) < 10  # uint8: bytes below "0" wrap around to large values
    unsure = set(_owners(fetch, dots[hit]).tolist())
    if fetch.joined.count(b"{") + fetch.joined.count(b"[") > len(fetch):
        brackets = np.flatnonzero((buf == _BRACE) | (buf == _BRACKET))
        per_value = np.bincount(_owners(fetch, brackets), minlength=len(fetch))
        unsure.update(np.flatnonzero(per_value > 1).tolist())
    if not _is_utf8(fetch.joined):
        for i in np.unique(_owners(fetch, np.flatnonzero(buf >= 0x80))).tolist():
            try:
                (fetch.value(i) or b"").decode("utf-8")
            except UnicodeDecodeError:
                unsure.add(i)
    return sorted(unsure)


def _framed(fetch: Fetch, limits: Limits) -> bool:
    """Whether the joined buffer has exactly one line per value, none null or oversize."""
    n = len(fetch)
    return bool(n) and int(fetch.sizes.min()) >= 0 and int(fetch.sizes.max()) <= limits.max_bytes and (
        fetch.joined.count(b"\n") == n - 1
    )


def _decode_all(fetch: Fetch, limits: Limits) -> tuple[list[_Order | None], list[int]]:
    """One struct per value, or None where the fast path is unsure of it; and the
    positions it is unsure of, ascending."""
    odd = _unsure(fetch)
    if _framed(fetch, limits):
        try:
            decoded: list[_Order | None] = _DECODER.decode_lines(fetch.joined)
        except Exception:  # a bad record anywhere (RecursionError included): one by one below
            decoded = []
        if len(decoded) == len(fetch):
            for i in odd:
                decoded[i] = None
            return decoded, odd
    skip = set(odd)
    out: list[_Order | None] = []
    for i in range(len(fetch)):
        value = fetch.value(i)
        if value is None or len(value) > limits.max_bytes or b"\n" in value or i in skip:
            out.append(None)
            continue
        try:
            out.append(_DECODER.decode(value))
        except Exception:  # the authoritative path judges it
            out.append(None)
    return out, [i for i, s in enumerate(out) if s is None]


def _columns(structs: Sequence[_Order], source: list[int]) -> OrderColumns:
    stamps = np.array([s.ts.timestamp() for s in structs], dtype=np.float64)
    t_us = np.rint(stamps * 1e6).astype(np.int64)
    far = np.flatnonzero(np.abs(stamps) >= _EXACT_S)
    for k in far.tolist():  # float microseconds are rounded this far from 1970
        t_us[k] = epoch_us(structs[k].ts)
    return OrderColumns(
        order_id=[s.order_id for s in structs],
        center_id=[s.center_id for s in structs],
        t_us=t_us,
        lines=[s.lines for s in structs],
        units=[s.units for s in structs],
        source=source,
    )


def _int64(values: list[int]) -> np.ndarray:
    """``values`` as int64, those past its range clipped to it (JSON integers have no
    size limit; the rules only compare them with limits well inside int64)."""
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        return np.array([min(max(v, _INT64.min), _INT64.max) for v in values], dtype=np.int64)


def _doubtful(cols: OrderColumns, limits: Limits, now: datetime) -> np.ndarray:
    """Positions (in ``cols``) that break a rule or that pydantic would change."""
    lines, units = _int64(cols.lines), _int64(cols.units)
    bad = (units < lines) | (lines > limits.max_lines) | (units > limits.max_units)
    bad |= (cols.t_us > epoch_us(now + limits.max_future)) | (cols.t_us < _EARLIEST_US)
    stripped = list(map(str.strip, cols.order_id))  # pydantic strips surrounding whitespace
    if stripped != cols.order_id:
        bad |= np.array([a != b for a, b in zip(stripped, cols.order_id, strict=True)], dtype=bool)
    if CONTROL.search("".join(cols.order_id)):  # pydantic refuses control characters in ids
        bad |= np.array([CONTROL.search(o) is not None for o in cols.order_id], dtype=bool)
    odd = {c for c in set(cols.center_id)
           if c.strip() != c or (limits.centers and c not in limits.centers) or CONTROL.search(c)}
    if odd:
        bad |= np.array([c in odd for c in cols.center_id], dtype=bool)
    return np.flatnonzero(bad)


def decode_fetch(fetch: Fetch, limits: Limits, now: datetime) -> DecodedOrders:
    """Validate a fetch of raw ``orders`` values (joined into one buffer: ``Fetch.of(values)``);
    ``now`` is tz-aware wall-clock time. Returns the valid orders as columns, in fetch order,
    and ``(position, Rejected)`` for the rest, as :func:`fcplan.streams.validation.parse_order`
    judges them. Never raises because of a record (see the module docstring)."""
    try:
        return _decode_fast(fetch, limits, now)
    except Exception:  # a value the fast path cannot handle: every record the authoritative way
        log.warning("orders: the batch decoder failed on a fetch of %d; validating it record by record",
                    len(fetch), exc_info=True)
        return _decode_each(fetch, limits, now)


def _decode_each(fetch: Fetch, limits: Limits, now: datetime) -> DecodedOrders:
    """Every record through :func:`parse_order` (which never raises), then columns."""
    rejected: list[tuple[int, Rejected]] = []
    accepted: list[_Order] = []
    source: list[int] = []
    for i in range(len(fetch)):
        parsed = parse_order(fetch.value(i), limits, now)
        if isinstance(parsed, Rejected):
            rejected.append((i, parsed))
            continue
        try:
            epoch_us(parsed.ts)
        except Exception as exc:  # a time no column can hold
            rejected.append((i, undecodable(exc)))
            continue
        accepted.append(_Order(parsed.order_id, parsed.center_id, parsed.ts, parsed.lines, parsed.units))
        source.append(i)
    return DecodedOrders(_columns(accepted, source), rejected)


def _decode_fast(fetch: Fetch, limits: Limits, now: datetime) -> DecodedOrders:
    structs, undecoded = _decode_all(fetch, limits)
    if undecoded:
        source = [i for i, s in enumerate(structs) if s is not None]
        cols = _columns([structs[i] for i in source], source)  # type: ignore[misc]
    else:
        source = list(range(len(structs)))
        cols = _columns(structs, source)  # type: ignore[arg-type]
    doubtful = _doubtful(cols, limits, now)
    if not undecoded and not len(doubtful):
        return DecodedOrders(cols, [])
    # The authoritative path for the few records the fast path is unsure of.
    rejected: list[tuple[int, Rejected]] = []
    for i in sorted(set(undecoded).union(source[k] for k in doubtful.tolist())):
        parsed = parse_order(fetch.value(i), limits, now)
        if isinstance(parsed, Rejected):
            rejected.append((i, parsed))
            structs[i] = None
        else:  # accepted after all (stripped whitespace, a lax number): pydantic's values
            structs[i] = _Order(parsed.order_id, parsed.center_id, parsed.ts, parsed.lines, parsed.units)
    source = [i for i, s in enumerate(structs) if s is not None]
    return DecodedOrders(_columns([structs[i] for i in source], source), rejected)  # type: ignore[misc]
