"""In-batch dedupe and lateness over order columns: pure functions, no broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from fcplan.core.contracts import Order
from fcplan.core.time import epoch_us, from_epoch_us
from fcplan.streams.columns import OrderColumns, first_occurrences, split_late

GRACE = timedelta(hours=48)


def make_order(order_id: str = "o-1", center_id: str = "ICN1", ts: str = "2024-06-01T12:00:00+00:00",
               lines: int = 1, units: int = 1) -> Order:
    return Order.model_validate(
        {"order_id": order_id, "center_id": center_id, "ts": ts, "lines": lines, "units": units}
    )


def us(naive_utc: datetime) -> int:
    return epoch_us(naive_utc)


def split(orders: list[Order], marks: dict[str, datetime], grace: timedelta = GRACE):
    cols = OrderColumns.from_orders(orders)
    result = split_late(cols.center_id, cols.t_us, {c: us(m) for c, m in marks.items()}, grace)
    late = [cols.order_id[i] for i in result.late]
    accepted = [cols.order_id[i] for i in result.accepted]
    return accepted, late, {c: from_epoch_us(m) for c, m in result.watermarks.items()}


def test_epoch_microseconds_round_trip_exactly() -> None:
    moment = datetime(2024, 6, 1, 23, 59, 59, 999999)
    assert from_epoch_us(epoch_us(moment)) == moment
    assert epoch_us(datetime(1969, 12, 31, 23, 59, 59, 999999)) == -1


def test_columns_keep_each_orders_values_in_arrival_order() -> None:
    orders = [make_order("b", ts="2024-06-01T20:45:10.000123+05:30", lines=2, units=7), make_order("a")]
    cols = OrderColumns.from_orders(orders)
    assert cols.order_id == ["b", "a"] and cols.lines == [2, 1] and cols.source == [0, 1]
    assert cols.order(0) == orders[0]
    assert cols.take([1]).order_id == ["a"] and cols.take([1]).source == [1]


def test_when_an_event_is_duplicated_then_the_first_copy_is_kept() -> None:
    assert first_occurrences(["o-1", "o-2", "o-1", "o-1", "o-3"]).tolist() == [0, 1, 4]
    assert first_occurrences(["a", "b"]).tolist() == [0, 1]
    assert first_occurrences([]).tolist() == []


def test_the_first_order_of_a_center_with_no_watermark_is_accepted_and_sets_it() -> None:
    very_old = make_order("a", ts="2020-01-01T00:00:00+00:00")
    newer = make_order("b", ts="2024-06-01T12:00:00+09:00")
    assert split([very_old, newer], {}) == (["a", "b"], [], {"ICN1": datetime(2024, 6, 1, 3)})


def test_an_order_older_than_the_watermark_minus_grace_is_late() -> None:
    mark = {"ICN1": datetime(2024, 6, 3, 12)}
    on_edge = make_order("edge", ts="2024-06-01T12:00:00+00:00")  # exactly mark - grace: accepted
    too_old = make_order("old", ts="2024-06-01T11:59:59.999999+00:00")
    accepted, late, moved = split([on_edge, too_old], mark)
    assert (accepted, late) == (["edge"], ["old"])
    assert moved == {}, "neither order moved the watermark"


def test_the_watermark_moves_within_a_batch_in_arrival_order() -> None:
    new = make_order("new", ts="2024-06-10T00:00:00+00:00")
    old = make_order("old", ts="2024-06-07T00:00:00+00:00")  # 72 h behind "new"
    assert split([old, new], {})[1] == []
    _, late, moved = split([new, old], {})
    assert late == ["old"]
    assert moved == {"ICN1": datetime(2024, 6, 10)}


def test_lateness_is_judged_per_center() -> None:
    marks = {"ICN1": datetime(2024, 6, 10), "PUS1": datetime(2024, 6, 1)}
    icn = make_order("icn", center_id="ICN1", ts="2024-06-05T00:00:00+00:00")
    pus = make_order("pus", center_id="PUS1", ts="2024-06-05T00:00:00+00:00")
    _, late, moved = split([icn, pus], marks)
    assert late == ["icn"]
    assert moved == {"PUS1": datetime(2024, 6, 5)}


def test_watermarks_compare_instants_not_wall_clocks() -> None:
    mark = {"ICN1": datetime(2024, 6, 3, 0)}  # 09:00 in Seoul is 00:00 UTC
    seoul = make_order("kst", ts="2024-06-01T09:00:00+09:00")
    assert split([seoul], mark)[1] == []
    assert split([seoul], mark, GRACE - timedelta(seconds=1))[1] == ["kst"]


def test_zero_grace_rejects_anything_behind_the_stream_time() -> None:
    _, late, _ = split([make_order("x", ts="2024-06-01T11:59:59+00:00")], {"ICN1": datetime(2024, 6, 1, 12)},
                       timedelta(0))
    assert late == ["x"]


def test_lateness_matches_a_one_by_one_reference_on_a_random_stream() -> None:
    rng = np.random.default_rng(3)
    base = datetime(2024, 6, 1, tzinfo=UTC)
    orders = [
        make_order(f"o{i}", center_id=f"C{rng.integers(3)}",
                   ts=(base + timedelta(hours=float(rng.uniform(0, 200)))).isoformat())
        for i in range(400)
    ]
    marks = {"C0": datetime(2024, 6, 4)}
    current = {c: us(m) for c, m in marks.items()}
    expected_late = []
    for o in orders:  # the definition, one event at a time
        t, mark = epoch_us(o.ts), current.get(o.center_id)
        if mark is not None and t < mark - epoch_us(datetime(1970, 1, 3)):
            expected_late.append(o.order_id)
        elif mark is None or t > mark:
            current[o.center_id] = t
    accepted, late, _ = split(orders, marks)
    assert late == expected_late and len(accepted) + len(late) == len(orders)
