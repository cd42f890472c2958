"""The batch decoder accepts exactly what the per-record validator accepts, with the same values."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from fcplan.core.contracts import Order
from fcplan.core.time import epoch_us
from fcplan.streams.batch_decode import Fetch, decode_fetch
from fcplan.streams.validation import ABSURD, FUTURE, MALFORMED, OVERSIZE, UNDECODABLE, Limits, Rejected, parse_order

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
LIMITS = Limits(max_bytes=512, max_lines=100, max_units=1000, centers=frozenset({"ICN1", "PUS1", " PAD"}))


def order(**over: object) -> bytes:
    base = {"order_id": "o-1", "center_id": "ICN1", "ts": "2024-06-01T10:00:00+00:00", "lines": 2, "units": 3}
    base.update(over)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


GOOD = [
    order(),
    order(order_id="o-2", ts="2024-06-01T19:00:00.123456+09:00"),
    order(order_id="o-3", ts="2024-06-01T10:00:00Z", center_id="PUS1"),
    order(order_id="o-4", ts="2024-06-01T10:00:00.5-03:00"),
    order(order_id="o-5", lines=1, units=1, extra="ignored"),
    order(order_id="  o-6  "),  # pydantic strips: the fast path defers
    order(order_id="o-7", lines=2.0),  # lax number: the fast path defers
    b'{"order_id": "o-8", "center_id": "ICN1", "ts": "2024-06-01T10:00:00+00:00", "lines": 1, "units": 1}',
    b'{"order_id":"o-9","center_id":"ICN1","ts":"2024-06-01T11:59:59.999999+00:00","lines":100,"units":1000}',
    order(order_id="o-10", ts="2024-06-01T12:59:59+00:00"),  # just inside max_future
    order(order_id="o-11", ts="2024-06-01 10:00:00+00:00"),
    order(order_id="o-12", ts="2024-06-01T10:00:00.1234567+00:00"),
    order(order_id="o-13", center_id=" PAD"),
    order(order_id="o-\u00e9\u4e2d"),
]
BAD = [
    b"not json",
    b"",
    b"   ",
    b"[1, 2]",
    b'"a string"',
    order(order_id=...),
    order(lines="two"),
    order(lines=0),
    order(units=1, lines=2),
    order(lines=101),
    order(units=1001),
    order(ts="2024-06-01T10:00:00"),  # no zone
    order(ts="2024-06-01T14:00:00+00:00"),  # far in the future
    order(ts="yesterday"),
    order(center_id="NOWHERE"),
    order(order_id=""),
    order(order_id="x" * 129),
    order(order_id="   "),
    order(order_id="o-big", pad="x" * 600),  # oversize
    b'{"order_id": "a",\n "center_id": "ICN1", "ts": "2024-06-01T10:00:00+00:00", "lines": 1, "units": 1}',
    order(order_id="o-1") + b"," + order(order_id="o-2"),  # two objects in one value
    b'{"order_id":"o-x","center_id":"ICN1","ts":"2024-06-01T10:00:00+00:00","lines":1,"units":1,"z":"',
    b'"}',
    None,
]


def reference(
    values: list[bytes | None], limits: Limits = LIMITS
) -> tuple[list[tuple], list[tuple[int, str, str]]]:
    accepted, rejected = [], []
    for i, value in enumerate(values):
        parsed = parse_order(value, limits, NOW)
        if isinstance(parsed, Rejected):
            rejected.append((i, parsed.reason, parsed.detail))
        else:
            accepted.append((i, parsed.order_id, parsed.center_id, epoch_us(parsed.ts), parsed.lines, parsed.units))
    return accepted, rejected


def decoded(values: list[bytes | None], limits: Limits = LIMITS) -> tuple[list[tuple], list[tuple[int, str, str]]]:
    out = decode_fetch(Fetch.of(values), limits, NOW)
    c = out.columns
    accepted = [
        (c.source[k], c.order_id[k], c.center_id[k], int(c.t_us[k]), c.lines[k], c.units[k]) for k in range(len(c))
    ]
    return accepted, [(i, r.reason, r.detail) for i, r in out.rejected]


@pytest.mark.parametrize("value", GOOD + BAD, ids=lambda v: repr(v)[:40])
def test_each_record_alone_is_judged_as_the_per_record_validator_judges_it(value: bytes | None) -> None:
    assert decoded([value]) == reference([value])


def test_a_clean_fetch_takes_the_fast_path_and_keeps_every_value() -> None:
    values = [order(order_id=f"o-{i}", ts=f"2024-06-01T10:{i % 60:02d}:00.{i:06d}+09:00") for i in range(500)]
    assert decoded(values) == reference(values)
    assert len(decode_fetch(Fetch.of(values), LIMITS, NOW).columns) == 500


@pytest.mark.parametrize("seed", range(5))
def test_a_fetch_mixing_good_and_bad_records_is_judged_record_by_record(seed: int) -> None:
    import random

    pool = GOOD + BAD
    values = [random.Random(seed).choice(pool) for _ in range(200)]
    assert decoded(values) == reference(values)


def test_records_that_break_the_framing_together_are_still_rejected_one_by_one() -> None:
    head = b'{"order_id":"o-x","center_id":"ICN1","ts":"2024-06-01T10:00:00+00:00","lines":1,"units":1,"z":"'
    values = [head, b'"}', order(order_id="a") + b"," + order(order_id="b"), order(order_id="ok")]
    accepted, rejected = decoded(values)
    assert [a[1] for a in accepted] == ["ok"]
    assert [r[:2] for r in rejected] == [(0, MALFORMED), (1, MALFORMED), (2, MALFORMED)]


def test_reasons_name_what_is_wrong() -> None:
    values = [order(ts="2024-06-01T14:00:00+00:00"), order(pad="x" * 600), None]
    _, rejected = decoded(values)
    assert [r[1] for r in rejected] == [FUTURE, OVERSIZE, MALFORMED]


def test_an_order_decoded_in_a_batch_equals_the_same_order_parsed_alone() -> None:
    value = order(ts="2024-06-01T19:00:00.000001+09:00")
    expected = Order.model_validate_json(value)
    cols = decode_fetch(Fetch.of([value, order(order_id="o-2")]), LIMITS, NOW).columns
    assert cols.order(0) == expected.model_copy(update={"ts": expected.ts.astimezone(UTC)})
    assert cols.t_us[0] == epoch_us(expected.ts) and expected.ts > NOW - timedelta(days=1)


def test_values_with_sub_microsecond_digits_in_a_clean_fetch_take_the_authoritative_path() -> None:
    values = [order(order_id=f"o-{i}", ts="2024-06-01T10:00:00.123456+00:00") for i in range(300)]
    for i in (0, 150, 299):  # pydantic truncates the seventh digit, msgspec would round it up
        values[i] = order(order_id=f"o-{i}", ts="2024-06-01T10:00:00.1234569+00:00")
    accepted, rejected = decoded(values)
    assert (accepted, rejected) == reference(values) and not rejected
    assert {a[3] % 1_000_000 for a in accepted} == {123456}


# --------------------------------------------------------------------------- no record fails a fetch
WIDE = Limits(max_bytes=64 * 1024, max_lines=100, max_units=1000, centers=LIMITS.centers)  # room for 10 KB values
DEEP = order(order_id="deep")[:-1] + b',"x":' + b"[" * 5000 + b"]" * 5000 + b"}"  # msgspec: RecursionError
HOSTILE = [
    DEEP,
    order(order_id="deep-obj")[:-1] + b',"x":' + b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"}",
    order(order_id="nested-300")[:-1] + b',"x":' + b"[" * 300 + b"]" * 300 + b"}",  # pydantic refuses > 200
    order(order_id="big", lines=2**64, units=2**64),  # past int64
    order(order_id="big-neg", lines=-(2**70)),
    order(order_id="huge", units=10**400),
    order(order_id="bad-utf8-key")[:-1] + b',"k\xc0\x80":1}',  # msgspec skips the key's text
    order(order_id="year-1", ts="0001-01-01T00:00:00+05:00"),  # year 0 in UTC
    order(order_id="year-1-us", ts="0001-01-01T10:00:00.123457+00:00"),  # float us are rounded this far out
]


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v)[:40])
def test_a_hostile_record_among_good_ones_is_judged_alone_and_the_rest_is_kept(value: bytes) -> None:
    values = [order(order_id="first"), value, order(order_id="last")]
    assert decoded(values, WIDE) == reference(values, WIDE)
    assert {a[1] for a in decoded(values, WIDE)[0]} >= {"first", "last"}


def test_a_value_nested_5000_levels_deep_is_a_dead_letter_and_not_a_failed_fetch() -> None:
    accepted, rejected = decoded([order(order_id="ok"), DEEP], WIDE)
    assert [a[1] for a in accepted] == ["ok"]
    assert [(i, r) for i, r, _ in rejected] == [(1, MALFORMED)] and "recursion" in rejected[0][2]


def test_when_the_authoritative_validator_raises_on_a_record_then_only_it_is_undecodable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    validate = Order.model_validate_json

    def fragile(raw: bytes, **kw: object) -> Order:
        if b"cursed" in raw:
            raise ZeroDivisionError("validator bug")
        return validate(raw, **kw)

    monkeypatch.setattr(Order, "model_validate_json", fragile)
    values = [order(order_id="a"), order(order_id="cursed  "), order(order_id="b")]  # padded: authoritative path
    accepted, rejected = decoded(values)
    assert [a[1] for a in accepted] == ["a", "b"]
    assert rejected == [(1, UNDECODABLE, "ZeroDivisionError: validator bug")]


def test_when_the_fast_path_fails_on_a_fetch_then_every_record_is_judged_by_the_authoritative_validator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import fcplan.streams.batch_decode as batch_decode

    def broken(*args: object) -> None:
        raise MemoryError("the fast path broke")

    monkeypatch.setattr(batch_decode, "_doubtful", broken)
    values = GOOD + BAD + HOSTILE
    assert decoded(values, WIDE) == reference(values, WIDE)


@pytest.mark.parametrize(
    ("lines", "units"),
    [(1e30, 5), (10**30, 5), (101, 5), (5, 1e30), (1e30, 1e30), (2, 10**30)],
    ids=["lines-1e30", "lines-10**30", "lines-over-limit", "units-1e30", "both-1e30", "units-10**30"],
)
def test_quantities_past_the_limits_are_absurd_on_both_paths(lines: object, units: object) -> None:
    """A count past the line or unit limit is reported as such: not as "units must be at least lines"
    (what a huge line count also breaks) nor as an integer too large to parse, and the batch
    decoder gives the per-record validator's reason and detail."""
    raw = order(lines=lines, units=units)
    single = parse_order(raw, LIMITS, NOW)
    batch = decode_fetch(Fetch.of([order(order_id="ok"), raw]), LIMITS, NOW)
    assert isinstance(single, Rejected) and single.reason == ABSURD, single
    assert f"limits {LIMITS.max_lines}/{LIMITS.max_units}" in single.detail
    assert batch.rejected == [(1, single)] and batch.columns.order_id == ["ok"]
