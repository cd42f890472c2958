"""Hostile variants of valid events, for fuzzing the stream's decoders and worker.

:func:`mutate` takes a valid event (a dict) and returns raw bytes that a
careless or broken producer could send: a structure-aware JSON mutation (deep
nesting, huge and odd numbers, escapes and lone surrogates, duplicate keys,
numbers as strings, very long strings, every field's type swapped, odd
timestamps) and/or a byte-level one (a BOM, UTF-16, trailing garbage,
truncation, flipped bytes, invalid UTF-8). Pure and seeded: the same
``random.Random`` state gives the same bytes.

Every string a mutation puts where an id could go carries the event's own
``uid``, so two events never share an id by accident: a fuzz run can then
check that every event ends either stored or dead-lettered, none as a
duplicate.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

#: A JSON object as ``(key, raw JSON text of the value)`` pairs: keys may repeat,
#: numbers keep the exact text a mutation gave them.
Pairs = list[tuple[str, str]]

_NUMBERS = [
    "0", "-0", "-1", "1.0", "2.5", "1E2", "1e308", "1e400", "-1e400", "1e-400", "4.9e-324",
    "9223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551616",
    "1" + "0" * 400, "NaN", "Infinity", "-Infinity", "0x10", "01", "+1", ".5", "1.", "1e", "--1", "1_000",
]
_TIMES = [
    "2024-02-30T00:00:00Z", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-23:59", "2024-06-01T10:00:00+24:00", "2024-06-01T10:00:60Z",
    "2024-06-01T10:00:00.1234567890123Z", "2024-06-01t10:00:00z", "2024-06-01T10:00Z", "20240601T100000Z",
    "2024-06-01", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999999-00:01", "2024-06-01T10:00:00+09:00:30",
    "now", "",
]
_ESCAPES = [
    "\\u0000", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\udbff\\udfff", "\\/", "\\b\\f\\n\\r\\t", "\\x41",
    "\\u00", "\\", "\\\\", '\\"', "\\u202e", "\\uffff", "\\ufeff", "\u00e9\u4e2d\U0001f600", "\u0301", " ", "\t",
]
_GARBAGE = [b"x", b"}", b"]", b",", b"\x00", b"\n", b" ", b"{}", b"\r\n", b"\xff", b'"', b"//", b"/* */"]
_ID_KEYS = ("order_id", "promo_id")
_UNSTRINGABLE = [*range(0x20), *range(0x80, 0xC2), *range(0xF5, 0x100)]  # control, stray continuation, never UTF-8
_BAD_UTF8 = [b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80"]


def to_pairs(event: dict) -> Pairs:
    return [(k, json.dumps(v)) for k, v in event.items()]


def render(pairs: Pairs, sep: str = ",") -> bytes:
    """The JSON text of ``pairs`` (keys escaped, values as given), UTF-8; lone
    surrogates in a key or raw value pass through as ``surrogatepass`` bytes."""
    text = "{" + sep.join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}"
    return text.encode("utf-8", "surrogatepass")


def _field(pairs: Pairs, rng: random.Random) -> int:
    return rng.randrange(len(pairs)) if pairs else -1


def _string(uid: str, rng: random.Random) -> str:
    """A JSON string that carries ``uid`` and some hostile decoration."""
    kind = rng.randrange(6)
    if kind == 0:
        return json.dumps(f"{uid}-" + "x" * rng.choice([100, 128, 129, 1000, 70_000]))
    if kind == 1:
        return '"' + uid + "".join(rng.choice(_ESCAPES) for _ in range(rng.randint(1, 4))) + '"'
    if kind == 2:
        return json.dumps(rng.choice(["  ", "\t", "\n", "\u00a0", "\u3000"]) + uid + rng.choice(["", " ", "\n"]))
    if kind == 3:
        return '"' + uid + "\u0001\u001f" + '"'  # raw control characters: invalid JSON
    if kind == 4:
        return json.dumps(uid.upper() + "\U0001f4e6" * rng.randint(1, 40))
    return json.dumps(uid)


def _nested(rng: random.Random) -> str:
    depth = rng.choice([2, 64, 200, 1000, 3000, 5000, 20_000])
    if rng.random() < 0.5:
        return "[" * depth + "]" * depth
    inner = '{"a":' * depth + "1" + "}" * depth
    return inner if rng.random() < 0.9 else inner[:-1]  # sometimes unclosed


def _swapped(uid: str, rng: random.Random) -> str:
    """Another JSON type in a field's place."""
    return rng.choice([
        "null", "true", "false", "0", "-1", "1.5", "[]", "{}", f'["{uid}"]', f'{{"id":"{uid}"}}', '""', "[1,2]",
        _string(uid, rng), rng.choice(_NUMBERS), _nested(rng),
    ])


def _replace(pairs: Pairs, i: int, value: str) -> Pairs:
    out = list(pairs)
    out[i] = (out[i][0], value)
    return out


def _op_swap(pairs: Pairs, uid: str, rng: random.Random) -> Pairs:
    i = _field(pairs, rng)
    return pairs if i < 0 else _replace(pairs, i, _swapped(uid, rng))


def _op_number(pairs: Pairs, uid: str, rng: random.Random) -> Pairs:
    numeric = [i for i, (k, _) in enumerate(pairs) if k in ("lines", "units", "discount_pct")] or [_field(pairs, rng)]
    i = rng.choice(numeric)
    return pairs if i < 0 else _replace(pairs, i, rng.choice(_NUMBERS))


def _op_number_as_string(pairs: Pairs, uid: str, rng: random.Random) -> Pairs:
    out = list(pairs)
    for i, (k, v) in enumerate(out):
        if k in _ID_KEYS:  # a number put there earlier would become an id shared by many events
            continue
        if v[:1].isdigit() or v[:1] == "-":
            out[i] = (k, json.dumps(rng.choice([v, f" {v} ", v + ".0", "1e3"])))
    return out


def _op_time(pairs: Pairs, uid: str, rng: random.Random) -> Pairs:
    times = [i for i, (k, _) in enumerate(pairs) if k in ("ts", "start", "end", "updated_at")]
    if not times:
        return pairs
    value = rng.choice([json.dumps(rng.choice(_TIMES)), rng.choice(["1717236000", "1e20", "-1e12", "0", "1.5"])])
    return _replace(pairs, rng.choice(times), value)


def _op_nest(pairs: Pairs, uid: str, rng: random.Random) -> Pairs:
    if rng.random() < 0.5 and pairs:
        return _replace(pairs, _field(pairs, rng), _nested(rng))
    return [*pairs, (rng.choice(["x", "extra", "meta"]), _nested(rng))]


def _op_duplicate_key(pairs: Pairs, uid: str, rng: random.Random) -> Pairs:
    i = _field(pairs, rng)
    if i < 0:
        return pairs
    extra = (pairs[i][0], rng.choice([_swapped(uid, rng), pairs[i][1], json.dumps(f"dup-{uid}")]))
    out = list(pairs)
    out.insert(rng.randrange(len(out) + 1), extra)
    return out


def _op_string(pairs: Pairs, uid: str, rng: random.Random) -> Pairs:
    strings = [i for i, (_, v) in enumerate(pairs) if v.startswith('"')] or [_field(pairs, rng)]
    i = rng.choice(strings)
    return pairs if i < 0 else _replace(pairs, i, _string(uid, rng))


def _op_keys(pairs: Pairs, uid: str, rng: random.Random) -> Pairs:
    kind = rng.randrange(5)
    out = list(pairs)
    i = _field(out, rng)
    if kind == 0 and i >= 0:
        del out[i]  # a missing field
    elif kind == 1 and i >= 0:
        out[i] = (out[i][0].upper(), out[i][1])
    elif kind == 2:
        out += [(f"k{j}", str(j)) for j in range(rng.choice([10, 1000, 5000]))]
    elif kind == 3:
        out.insert(0, ("", '""'))
    elif i >= 0:
        rng.shuffle(out)
    return out


_STRUCTURE: list[Callable[[Pairs, str, random.Random], Pairs]] = [
    _op_swap, _op_number, _op_number_as_string, _op_time, _op_nest, _op_duplicate_key, _op_string, _op_keys,
]


def _bytes_op(raw: bytes, rng: random.Random) -> bytes | None:
    kind = rng.randrange(12)
    if kind == 0:
        return b"\xef\xbb\xbf" + raw
    if kind == 1:
        return raw.decode("utf-8", "surrogatepass").encode(rng.choice(["utf-16", "utf-16-le", "utf-32"]),
                                                            "surrogatepass")
    if kind == 2:
        return raw + rng.choice(_GARBAGE) * rng.randint(1, 3)
    if kind == 3:
        return raw[: rng.randrange(len(raw) + 1)]
    if kind == 4 and raw:
        buf = bytearray(raw)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(buf))
            # A letter or digit (of an id, say) becomes a byte no JSON string may hold, so a
            # flipped id never equals another event's; anything else becomes any byte.
            buf[at] = rng.choice(_UNSTRINGABLE) if chr(buf[at]).isalnum() else rng.randrange(256)
        return bytes(buf)
    if kind == 5:
        at = rng.randrange(len(raw) + 1)
        return raw[:at] + rng.choice(_BAD_UTF8) + raw[at:]
    if kind == 6:
        return rng.choice([b" ", b"\n", b"\t", b"\r\n"]) + raw + rng.choice([b" ", b"\n", b""])
    if kind == 7:
        return raw + rng.choice([b"\n", b",", b""]) + raw  # two objects in one value
    if kind == 8:
        return b"[" + raw + b"]"
    if kind == 9:
        return rng.choice([None, b"", b"null", b"0", b'"order"', b"true", b"[]", b"{}", b"\x00"])
    if kind == 10:
        return raw.replace(b",", b",\n", 1)  # a newline between fields: valid JSON, breaks line framing
    return raw.replace(b'":', b'" :', 1)


def mutate(event: dict, uid: str, rng: random.Random, byte_level: float = 0.25) -> bytes | None:
    """A hostile variant of ``event`` (see the module docstring): one to three
    structure-aware mutations, then with probability ``byte_level`` a byte-level one.
    ``uid`` is unique to this event."""
    pairs = to_pairs(event)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        pairs = rng.choice(_STRUCTURE)(pairs, uid, rng)
    raw: bytes | None = render(pairs, sep=rng.choice([",", ", ", ",\t"]))
    if rng.random() < byte_level:
        raw = _bytes_op(raw, rng)
    return raw
