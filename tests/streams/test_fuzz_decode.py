"""Fuzzing the orders and promotions decoders and the writer: no input raises, every
record is judged as the per-record validator judges it, and every record ends
either stored or dead-lettered.

Property-based (hypothesis, derandomized: the same examples every run) and
mutation-based (:mod:`fcplan.simulator.hostile`, seeded). The million-record
run is ``benchmarks/fuzz_stream.py``; the running worker is fuzzed in
``test_fuzz_worker.py``.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from fcplan.core.contracts import Promotion
from fcplan.core.time import epoch_us
from fcplan.simulator.hostile import mutate
from fcplan.storage import make_engine
from fcplan.storage.schema import orders, promotions
from fcplan.streams.batch_decode import Fetch, decode_fetch
from fcplan.streams.order_writer import process_fetch
from fcplan.streams.sink import store_promotions
from fcplan.streams.validation import Limits, Rejected, parse_order, parse_promotion

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
LIMITS = Limits(centers=frozenset({"ICN1", "PUS1"}))
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def verdicts(values: list[bytes | None], limits: Limits = LIMITS, now: datetime = NOW) -> tuple[dict, dict]:
    """``(accepted, rejected)`` by position: the batch decoder's and the per-record validator's,
    asserted equal."""
    out = decode_fetch(Fetch.of(values), limits, now)
    c = out.columns
    batch = {
        c.source[k]: (c.order_id[k], c.center_id[k], int(c.t_us[k]), c.lines[k], c.units[k]) for k in range(len(c))
    }
    rejected = {i: (r.reason, r.detail) for i, r in out.rejected}
    assert len(batch) + len(rejected) == len(values) and not batch.keys() & rejected.keys()
    for i, value in enumerate(values):
        one = parse_order(value, limits, now)
        if isinstance(one, Rejected):
            assert rejected.get(i) == (one.reason, one.detail), f"record {i} {value!r:.200}"
        else:
            assert batch.get(i) == (one.order_id, one.center_id, epoch_us(one.ts), one.lines, one.units), (
                f"record {i} {value!r:.200}"
            )
    return batch, rejected


# --------------------------------------------------------------------------- property-based
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
TIMES = st.datetimes(timezones=st.timezones() | st.just(UTC)).map(lambda t: t.isoformat()) | st.text(max_size=30)
ORDER_FIELDS = {
    "order_id": st.text(min_size=0, max_size=140) | JSON,
    "center_id": st.sampled_from(["ICN1", "PUS1", " ICN1", "XXX", ""]) | JSON,
    "ts": TIMES | JSON,
    "lines": st.integers(min_value=-(2**70), max_value=2**70) | JSON,
    "units": st.integers(min_value=-(2**70), max_value=2**70) | JSON,
}


@st.composite
def order_values(draw: st.DrawFn) -> bytes | None:
    """An order-shaped JSON object with any field missing or of any type, or any bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.none() | st.binary(max_size=200))
    obj = {k: draw(v) for k, v in ORDER_FIELDS.items() if draw(st.integers(0, 7))}
    if draw(st.booleans()):
        obj.update(draw(st.dictionaries(st.text(max_size=8), JSON, max_size=3)))
    raw = json.dumps(obj, allow_nan=True, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    return raw + draw(st.sampled_from([b"", b"", b"", b" ", b"\n", b"x", b"}"]))


@FUZZ
@given(st.lists(order_values(), min_size=1, max_size=30))
def test_any_fetch_is_decoded_without_raising_exactly_as_record_by_record(values: list[bytes | None]) -> None:
    verdicts(values)


@FUZZ
@given(st.dictionaries(st.sampled_from(["promo_id", "center_ids", "start", "end", "kind", "discount_pct", "status",
                                        "updated_at"]), JSON | TIMES, max_size=8) | JSON)
def test_any_promotion_value_is_a_promotion_or_a_rejection_never_an_exception(obj: object) -> None:
    raw = json.dumps(obj, allow_nan=True).encode("utf-8", "surrogatepass")
    assert isinstance(parse_promotion(raw, LIMITS), Promotion | Rejected)


# --------------------------------------------------------------------------- mutation-based, seeded
def base_order(i: int, now: datetime) -> dict:
    return {"order_id": f"o-{i}", "center_id": ("ICN1", "PUS1")[i % 2],
            "ts": (now - timedelta(minutes=i % 900)).isoformat(), "lines": 1 + i % 3, "units": 3 + i % 5}


def hostile_orders(n: int, seed: int, now: datetime, clean: float = 0.2) -> list[bytes | None]:
    """``n`` mutated orders (a ``clean`` share left valid), each with its own id."""
    rng = random.Random(seed)
    return [
        json.dumps(base_order(i, now)).encode() if rng.random() < clean else mutate(base_order(i, now), f"u{i}", rng)
        for i in range(n)
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mutated_orders_are_decoded_exactly_as_record_by_record(seed: int) -> None:
    values = hostile_orders(2000, seed, NOW)
    for lo in range(0, len(values), 500):  # fetches of 500
        verdicts(values[lo : lo + 500])


@pytest.mark.integration
def test_every_mutated_order_ends_stored_or_dead_lettered(db_url: str) -> None:
    """4,000 hostile orders through the writer in fetches of 400 (on PostgreSQL, NUL
    characters in ids are refused by the database: unwritable)."""
    now = datetime.now(UTC)
    values = hostile_orders(4000, seed=11, now=now)
    limits = Limits(centers=LIMITS.centers)
    engine = make_engine(db_url)
    reasons: Counter[str] = Counter()
    accepted = duplicates = 0
    for lo in range(0, len(values), 400):
        result = process_fetch(Fetch.of(values[lo : lo + 400]), engine, limits)
        reasons.update(reason for _, reason, _ in result.dead)
        accepted += result.accepted
        duplicates += result.duplicates
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(orders)).scalar_one()
    engine.dispose()
    print(f"{len(values)} sent: {stored} stored, dead letters {dict(reasons)}")
    assert duplicates == 0 and stored == accepted
    assert stored + sum(reasons.values()) == len(values)
    assert stored > 500 and reasons["malformed"] > 500 and reasons["invalid"] > 500  # the fuzz reaches both


@pytest.mark.integration
def test_every_mutated_promotion_ends_stored_or_rejected(db_url: str) -> None:
    rng = random.Random(5)
    base = {"promo_id": "p", "center_ids": ["ICN1"], "start": "2024-06-01T00:00:00+09:00",
            "end": "2024-06-03T00:00:00+09:00", "kind": "flash", "discount_pct": 20}
    values = [mutate({**base, "promo_id": f"p-{i}"}, f"u{i}", rng) for i in range(2000)]
    parsed = [parse_promotion(v, LIMITS) for v in values]
    valid = [p for p in parsed if isinstance(p, Promotion)]
    engine = make_engine(db_url)
    result = store_promotions(engine, valid)
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(promotions)).scalar_one()
    engine.dispose()
    assert result.stored + len(result.unwritable) == len(valid) > 100
    assert rows == len({p.promo_id for i, p in enumerate(valid) if i not in dict(result.unwritable)})
