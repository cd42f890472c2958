"""The one sink, on SQLite and PostgreSQL: exactly-once orders, newest-wins promotions."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, func, select

from fcplan.core.contracts import Order, Promotion
from fcplan.storage import make_engine
from fcplan.storage.schema import center_hourly, center_watermarks, orders, promotions, stream_metrics
from fcplan.streams.columns import OrderColumns
from fcplan.streams.order_sink import OrderBatchResult, write_order_columns
from fcplan.streams.sink import count_promotions, store_promotions, write_promotions
from fcplan.streams.validation import UNWRITABLE

pytestmark = pytest.mark.integration

GRACE = timedelta(hours=48)
T0 = datetime(2024, 6, 1, tzinfo=UTC)


def write_orders(engine, batch: list[Order], grace: timedelta) -> OrderBatchResult:
    """The order sink on ``Order`` records; ``late`` holds the late records themselves."""
    result = write_order_columns(engine, OrderColumns.from_orders(batch), grace)
    return replace(result, late=[batch[i] for i in result.late])


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def make_order(
    order_id: str, center_id: str = "ICN1", ts: datetime = T0, lines: int = 1, units: int = 2
) -> Order:
    return Order(order_id=order_id, center_id=center_id, ts=ts, lines=lines, units=units)


def hourly(engine: Engine) -> dict[tuple[str, datetime], tuple[int, int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(center_hourly.c.center_id, center_hourly.c.hour, center_hourly.c.orders,
                                   center_hourly.c.lines, center_hourly.c.units))
        return {(c, h): (n, li, u) for c, h, n, li, u in rows}


def count(engine: Engine, table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def metrics(engine: Engine) -> dict[tuple[str, str], int]:
    with engine.connect() as conn:
        rows = conn.execute(select(stream_metrics.c.name, stream_metrics.c.reason, stream_metrics.c.value))
        return {(n, r): v for n, r, v in rows}


def watermark(engine: Engine, center: str) -> datetime | None:
    with engine.connect() as conn:
        return conn.execute(
            select(center_watermarks.c.watermark).where(center_watermarks.c.center_id == center)
        ).scalar_one_or_none()


def test_when_the_same_batch_is_written_twice_then_nothing_changes(engine: Engine) -> None:
    batch = [make_order(f"o{i}", ts=T0 + timedelta(minutes=20 * i), lines=1 + i % 3, units=3 + i)
             for i in range(10)]
    first = write_orders(engine, batch, GRACE)
    before = hourly(engine)
    second = write_orders(engine, batch, GRACE)
    assert (first.accepted, first.duplicates) == (10, 0)
    assert (second.accepted, second.duplicates) == (0, 10)
    assert second.late == [] and second.hourly == []
    assert hourly(engine) == before
    assert count(engine, orders) == 10
    assert sum(n for n, _, _ in before.values()) == 10


def test_when_an_event_is_duplicated_within_a_batch_then_it_is_counted_once(engine: Engine) -> None:
    a, b = make_order("a", units=2), make_order("b", units=5)
    result = write_orders(engine, [a, b, a, a], GRACE)
    assert (result.accepted, result.duplicates) == (2, 2)
    assert hourly(engine)[("ICN1", T0.replace(tzinfo=None))] == (2, 2, 7)
    assert metrics(engine) == {("orders", "accepted"): 2, ("orders", "duplicate"): 2}


def test_the_returned_hourly_rows_are_the_touched_hours_after_the_recount(engine: Engine) -> None:
    write_orders(engine, [make_order("a"), make_order("b", ts=T0 + timedelta(hours=3))], GRACE)
    result = write_orders(engine, [make_order("c", ts=T0 + timedelta(minutes=59))], GRACE)
    assert [(r.center_id, r.hour, r.orders) for r in result.hourly] == [("ICN1", T0, 2)]


def test_an_order_older_than_the_stored_watermark_minus_grace_is_returned_late(engine: Engine) -> None:
    write_orders(engine, [make_order("new", ts=T0)], GRACE)
    too_old = make_order("old", ts=T0 - GRACE - timedelta(seconds=1))
    in_grace = make_order("ok", ts=T0 - GRACE + timedelta(hours=1))
    result = write_orders(engine, [too_old, in_grace], GRACE)
    assert result.late == [too_old]
    assert result.accepted == 1
    with engine.connect() as conn:
        assert set(conn.execute(select(orders.c.order_id)).scalars()) == {"new", "ok"}
    assert watermark(engine, "ICN1") == T0.replace(tzinfo=None), "an older order must not move it back"


def test_the_watermark_advances_with_newer_orders_and_is_per_center(engine: Engine) -> None:
    pus_old = make_order("b", center_id="PUS1", ts=T0 - timedelta(days=9))
    write_orders(engine, [make_order("a", ts=T0), pus_old], GRACE)
    write_orders(engine, [make_order("c", ts=T0 + timedelta(days=3))], GRACE)
    assert watermark(engine, "ICN1") == datetime(2024, 6, 4)
    assert watermark(engine, "PUS1") == datetime(2024, 5, 23)
    late = write_orders(engine, [make_order("d", ts=T0), make_order("e", center_id="PUS1", ts=T0)], GRACE)
    assert [o.order_id for o in late.late] == ["d"]


def test_a_late_order_already_stored_is_a_duplicate_not_late(engine: Engine) -> None:
    old = make_order("old", ts=T0)
    write_orders(engine, [old], GRACE)
    write_orders(engine, [make_order("new", ts=T0 + timedelta(days=10))], GRACE)
    result = write_orders(engine, [old], GRACE)
    assert (result.duplicates, result.late) == (1, [])


def test_the_hourly_table_equals_a_recount_of_the_ground_truth(engine: Engine) -> None:
    rng = random.Random(11)
    truth = [
        make_order(f"o{i}", center_id=rng.choice(["ICN1", "PUS1", "DAE1"]),
                   ts=T0 + timedelta(minutes=rng.randrange(0, 36 * 60)), lines=(li := rng.randint(1, 4)),
                   units=li + rng.randint(0, 5))
        for i in range(600)
    ]
    # Deliver in overlapping, shuffled batches with repeats, as a replaying consumer would.
    stream = truth + rng.sample(truth, 150)
    rng.shuffle(stream)
    for start in range(0, len(stream), 97):
        write_orders(engine, stream[start : start + 97], grace=timedelta(days=30))
    sums: dict = {}
    for o in truth:
        key = (o.center_id, o.ts.replace(minute=0, tzinfo=None))
        n, li, u = sums.get(key, (0, 0, 0))
        sums[key] = (n + 1, li + o.lines, u + o.units)
    assert hourly(engine) == sums
    assert metrics(engine)[("orders", "accepted")] == 600
    assert metrics(engine)[("orders", "duplicate")] == 150


def test_a_repeated_order_id_with_another_payload_is_a_conflict_not_a_duplicate(engine: Engine) -> None:
    write_orders(engine, [make_order("a", units=2)], GRACE)
    again, changed = make_order("a", units=2), make_order("a", units=9)
    in_batch = make_order("b", lines=2, units=4)
    result = write_orders(engine, [again, changed, in_batch, make_order("b", lines=3, units=4)], GRACE)
    assert (result.accepted, result.duplicates) == (1, 1)
    assert [k for k, _ in result.conflicts] == [1, 3]
    assert "units 2" in result.conflicts[0][1] and "units 9" in result.conflicts[0][1]
    assert "lines 2" in result.conflicts[1][1] and "lines 3" in result.conflicts[1][1]
    assert hourly(engine)[("ICN1", T0.replace(tzinfo=None))] == (2, 3, 6), "the first payloads stay"
    assert metrics(engine)[("orders_dead_letters", "conflicting_duplicate")] == 2
    assert metrics(engine)[("orders", "duplicate")] == 1


def test_a_late_repeat_of_a_stored_order_with_another_payload_is_a_conflict(engine: Engine) -> None:
    old = make_order("old", ts=T0)
    write_orders(engine, [old, make_order("new", ts=T0 + timedelta(days=10))], GRACE)
    result = write_orders(engine, [make_order("old", ts=T0, center_id="PUS1"), old], GRACE)
    assert (result.duplicates, result.late) == (1, [])
    assert [k for k, _ in result.conflicts] == [0] and "'PUS1'" in result.conflicts[0][1]


def test_an_empty_batch_writes_nothing(engine: Engine) -> None:
    result = write_orders(engine, [], GRACE)
    assert (result.accepted, result.duplicates, result.late) == (0, 0, [])
    assert count(engine, stream_metrics) == 0


def make_promo(version: datetime, discount: float, status: str = "active", promo_id: str = "p1") -> Promotion:
    return Promotion(
        promo_id=promo_id, center_ids=["ICN1"], start=T0, end=T0 + timedelta(days=2), kind="flash",
        discount_pct=discount, status=status, updated_at=version,
    )


def stored_promos(engine: Engine) -> dict[str, tuple[float, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(promotions.c.promo_id, promotions.c.discount_pct, promotions.c.status))
        return {p: (d, s) for p, d, s in rows}


def test_when_an_older_promotion_version_arrives_later_then_the_newer_one_stays(engine: Engine) -> None:
    write_promotions(engine, [make_promo(T0 + timedelta(hours=2), 30.0, "cancelled")])
    write_promotions(engine, [make_promo(T0 + timedelta(hours=1), 10.0)])
    assert stored_promos(engine) == {"p1": (30.0, "cancelled")}


def test_a_newer_promotion_version_replaces_the_stored_one(engine: Engine) -> None:
    write_promotions(engine, [make_promo(T0, 10.0)])
    write_promotions(engine, [make_promo(T0 + timedelta(hours=1), 25.0, "cancelled")])
    assert stored_promos(engine) == {"p1": (25.0, "cancelled")}


def test_within_one_batch_the_newest_version_wins_whatever_the_order(engine: Engine) -> None:
    batch = [
        make_promo(T0 + timedelta(hours=3), 40.0),
        make_promo(T0, 5.0),
        make_promo(T0 + timedelta(hours=1), 9.0),
        make_promo(T0, 15.0, promo_id="p2"),
    ]
    assert write_promotions(engine, batch) == 2
    assert stored_promos(engine) == {"p1": (40.0, "active"), "p2": (15.0, "active")}


def test_a_promotion_for_every_center_is_stored_with_null_centers(engine: Engine) -> None:
    promo = Promotion(promo_id="all", center_ids="all", start=T0, end=T0 + timedelta(days=1), kind="sale",
                      discount_pct=5)
    write_promotions(engine, [promo])
    with engine.connect() as conn:
        row = conn.execute(select(promotions).where(promotions.c.promo_id == "all")).mappings().one()
    assert row["center_ids"] is None
    assert row["updated_at"] == row["start"] == datetime(2024, 6, 1)


@pytest.mark.parametrize(
    "ts",
    [
        "2024-06-01T09:59:59.999999+09:00",
        "2024-06-01T10:45:00+05:30",
        "2024-06-01T00:30:00-07:00",
        "2024-01-01T00:30:00+09:00",
        "1969-12-31T23:30:00+00:00",
    ],
)
def test_the_stored_hour_is_the_utc_hour_of_the_orders_own_timestamp(engine: Engine, ts: str) -> None:
    from fcplan.streams.hours import hour_start

    order = Order.model_validate({"order_id": "x", "center_id": "ICN1", "ts": ts, "lines": 1, "units": 1})
    result = write_orders(engine, [order], GRACE)
    assert list(hourly(engine)) == [("ICN1", hour_start(order.ts))]
    assert [row.hour.replace(tzinfo=None) for row in result.hourly] == [hour_start(order.ts)]


def test_a_batch_larger_than_one_statement_is_stored_exactly_once(engine: Engine) -> None:
    batch = [make_order(f"big-{i}", ts=T0 + timedelta(seconds=i), lines=1 + i % 3, units=3) for i in range(9001)]
    write_orders(engine, batch[1000:2000], grace=GRACE)
    write_orders(engine, batch, grace=GRACE)
    assert count(engine, orders) == 9001
    assert metrics(engine)[("orders", "accepted")] == 9001
    assert metrics(engine)[("orders", "duplicate")] == 1000
    sums: dict = {}
    for o in batch:
        key = (o.center_id, o.ts.replace(minute=0, second=0, tzinfo=None))
        n, li, u = sums.get(key, (0, 0, 0))
        sums[key] = (n + 1, li + o.lines, u + o.units)
    assert hourly(engine) == sums


def test_when_the_database_refuses_a_promotion_then_it_alone_is_unwritable_and_the_rest_is_stored(
    engine: Engine,
) -> None:
    plus5 = timezone(timedelta(hours=5))
    ancient = Promotion(promo_id="year-0", center_ids=None, start=datetime(1, 1, 1, tzinfo=plus5),
                        end=datetime(1, 1, 2, tzinfo=UTC), kind="sale", discount_pct=5)  # 0000-12-31 in UTC
    batch = [make_promo(T0, 10.0, promo_id="a"), ancient, make_promo(T0, 20.0, promo_id="b")]
    result = store_promotions(engine, batch)
    count_promotions(engine, len(batch), {k: UNWRITABLE for k, _ in result.unwritable})
    assert result.stored == 2
    assert [k for k, _ in result.unwritable] == [1] and "out of range" in result.unwritable[0][1]
    assert stored_promos(engine) == {"a": (10.0, "active"), "b": (20.0, "active")}
    assert metrics(engine)[("promotions_dead_letters", "unwritable")] == 1
    assert metrics(engine)[("promotions", "accepted")] == 2


@pytest.mark.parametrize("damage", ["'garbage'", "X'00'", "'2024-99-99 00:00:00'"], ids=["text", "blob", "bad-date"])
def test_a_damaged_watermark_is_replaced_and_advances_again(
    tmp_path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A stream time SQLite holds but cannot read (text written by another program) read as none,
    so nothing was late, and, sorting above every time, it never moved forward again: every batch
    of that center for good. Now it is replaced by the batch's newest time, with a warning."""
    import sqlite3
    from contextlib import closing

    engine = make_engine(f"sqlite:///{tmp_path / 'fcplan.db'}")
    write_orders(engine, [make_order("a", ts=T0)], GRACE)
    with closing(sqlite3.connect(tmp_path / "fcplan.db")) as conn, conn:
        conn.execute(f"UPDATE center_watermarks SET watermark = {damage}")
    write_orders(engine, [make_order("b", ts=T0 + timedelta(hours=1))], GRACE)
    assert watermark(engine, "ICN1") == datetime(2024, 6, 1, 1)
    assert "stream time" in caplog.text and "'ICN1'" in caplog.text
    write_orders(engine, [make_order("c", ts=T0 + timedelta(hours=2))], GRACE)
    assert watermark(engine, "ICN1") == datetime(2024, 6, 1, 2)
    late = write_orders(engine, [make_order("d", ts=T0 - GRACE)], GRACE)
    assert [o.order_id for o in late.late] == ["d"]
    engine.dispose()


def test_a_stream_time_later_than_any_order_can_be_is_replaced(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    """A stored stream time years ahead (a year typed wrong in the database) made every order of
    its center late, for good. With the future limit the worker validates with, one later than
    any accepted order can be is replaced by the batch's newest time, with a warning."""
    import sqlite3
    from contextlib import closing

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    engine = make_engine(f"sqlite:///{tmp_path / 'fcplan.db'}")
    write_orders(engine, [make_order("a", ts=now - timedelta(hours=2))], GRACE)
    with closing(sqlite3.connect(tmp_path / "fcplan.db")) as conn, conn:
        conn.execute("UPDATE center_watermarks SET watermark = '2999-01-01 00:00:00.000000'")

    def write(order: Order) -> tuple[int, list[str]]:  # the orders writer's path, with its limits
        from fcplan.streams.batch_decode import Fetch
        from fcplan.streams.order_writer import process_fetch
        from fcplan.streams.validation import Limits

        done = process_fetch(Fetch.of([order.model_dump_json().encode()]), engine,
                             Limits(max_future=timedelta(hours=1), late_grace=GRACE))
        return done.accepted, [reason for _, reason, _ in done.dead]

    assert write(make_order("b", ts=now - timedelta(hours=1))) == (1, [])
    assert watermark(engine, "ICN1") == (now - timedelta(hours=1)).replace(tzinfo=None)
    assert "later than any accepted order" in caplog.text
    assert write(make_order("c", ts=now - GRACE - timedelta(hours=2))) == (0, ["late"])
    ahead = now + timedelta(hours=1)  # within now + the future limit (and the clock skew): kept
    with closing(sqlite3.connect(tmp_path / "fcplan.db")) as conn, conn:
        conn.execute(f"UPDATE center_watermarks SET watermark = '{ahead:%Y-%m-%d %H:%M:%S}.000000'")
    assert write(make_order("d", ts=now)) == (1, [])
    assert watermark(engine, "ICN1") == (now + timedelta(hours=1)).replace(tzinfo=None)
    engine.dispose()


def test_a_cancellation_stamped_like_its_announcement_stays_when_the_announcement_is_read_again(
    engine: Engine,
) -> None:
    """Versions without ``updated_at`` are stamped with ``start``, so an announcement and its cancellation
    often tie. A tie went to the version written last: the announcement read again (a crash, a rebalance,
    ``fcplan replay``) made the cancelled promotion active again, in any order within a batch too."""
    announced, cancelled = make_promo(T0, 10.0), make_promo(T0, 10.0, "cancelled")
    write_promotions(engine, [announced])
    write_promotions(engine, [cancelled])
    write_promotions(engine, [announced])
    assert stored_promos(engine) == {"p1": (10.0, "cancelled")}
    write_promotions(engine, [cancelled, announced, make_promo(T0, 10.0, promo_id="p2")])
    assert stored_promos(engine) == {"p1": (10.0, "cancelled"), "p2": (10.0, "active")}
    write_promotions(engine, [make_promo(T0, 20.0, promo_id="p2")])  # an active tie still goes to the last
    write_promotions(engine, [make_promo(T0 + timedelta(hours=1), 15.0)])  # a newer version still wins
    assert stored_promos(engine) == {"p1": (15.0, "active"), "p2": (20.0, "active")}
