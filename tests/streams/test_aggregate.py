"""Hour buckets, in-batch dedupe and lateness: pure functions, no broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from streams.aggregate import dedupe, hour_start, order_row, split_late, to_naive_utc
from streams.contracts import Order

GRACE = timedelta(hours=48)


def make_order(
    order_id: str = "o-1",
    center_id: str = "ICN1",
    ts: datetime | str = "2024-06-01T12:00:00+00:00",
    lines: int = 1,
    units: int = 1,
) -> Order:
    return Order.model_validate(
        {"order_id": order_id, "center_id": center_id, "ts": ts, "lines": lines, "units": units}
    )


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("2024-06-01T09:59:59+09:00", datetime(2024, 6, 1, 0)),  # Seoul
        ("2024-06-01T10:00:00+09:00", datetime(2024, 6, 1, 1)),
        ("2024-06-01T10:15:00+05:30", datetime(2024, 6, 1, 4)),  # India: 04:45 UTC
        ("2024-06-01T10:45:00+05:30", datetime(2024, 6, 1, 5)),  # 05:15 UTC: same local hour, next UTC hour
        ("2024-06-01T00:30:00-07:00", datetime(2024, 6, 1, 7)),
        ("2024-06-01T23:59:59.999999+00:00", datetime(2024, 6, 1, 23)),
        ("2024-01-01T00:30:00+09:00", datetime(2023, 12, 31, 15)),  # across the year boundary
    ],
)
def test_an_event_is_bucketed_into_the_utc_hour_of_its_own_timestamp(ts: str, expected: datetime) -> None:
    assert hour_start(make_order(ts=ts).ts) == expected


def test_in_a_half_hour_zone_one_local_hour_spans_two_utc_buckets() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    local_hour = [datetime(2024, 6, 1, 10, m, tzinfo=ist) for m in (0, 29, 30, 59)]
    four, five = datetime(2024, 6, 1, 4), datetime(2024, 6, 1, 5)
    assert [hour_start(t) for t in local_hour] == [four, four, five, five]


def test_the_repeated_hour_when_dst_ends_gives_two_distinct_buckets() -> None:
    ny = ZoneInfo("America/New_York")
    first = datetime(2024, 11, 3, 1, 30, tzinfo=ny, fold=0)  # EDT, 05:30 UTC
    second = datetime(2024, 11, 3, 1, 30, tzinfo=ny, fold=1)  # EST, 06:30 UTC
    assert hour_start(first) == datetime(2024, 11, 3, 5)
    assert hour_start(second) == datetime(2024, 11, 3, 6)


def test_the_hour_skipped_when_dst_starts_leaves_no_gap_in_utc() -> None:
    london = ZoneInfo("Europe/London")
    before = datetime(2024, 3, 31, 0, 59, tzinfo=london)  # GMT
    after = datetime(2024, 3, 31, 2, 0, tzinfo=london)  # BST, one real minute later
    assert after.astimezone(UTC) - before.astimezone(UTC) == timedelta(minutes=1)
    assert hour_start(before) == datetime(2024, 3, 31, 0)
    assert hour_start(after) == datetime(2024, 3, 31, 1)


def test_naive_times_are_taken_as_utc_and_aware_ones_converted() -> None:
    assert to_naive_utc(datetime(2024, 1, 1, 5)) == datetime(2024, 1, 1, 5)
    brasilia = timezone(timedelta(hours=-3))
    assert to_naive_utc(datetime(2024, 1, 1, 5, tzinfo=brasilia)) == datetime(2024, 1, 1, 8)
    assert to_naive_utc(datetime(2024, 1, 1, 5, tzinfo=UTC)).tzinfo is None


def test_order_row_stores_naive_utc_time_and_hour() -> None:
    row = order_row(make_order(ts="2024-06-01T20:45:10+05:30", lines=2, units=7))
    assert row == {
        "order_id": "o-1", "center_id": "ICN1", "ts": datetime(2024, 6, 1, 15, 15, 10),
        "hour": datetime(2024, 6, 1, 15), "lines": 2, "units": 7,
    }


def test_when_an_event_is_duplicated_then_it_is_counted_once_and_the_first_copy_kept() -> None:
    first = make_order("o-1", units=1)
    again = make_order("o-1", units=5)
    other = make_order("o-2")
    unique, dropped = dedupe([first, other, again, again])
    assert unique == [first, other]
    assert dropped == 2


def test_dedupe_of_nothing_is_nothing() -> None:
    assert dedupe([]) == ([], 0)


def test_the_first_order_of_a_center_with_no_watermark_is_accepted_and_sets_it() -> None:
    very_old = make_order("a", ts="2020-01-01T00:00:00+00:00")
    newer = make_order("b", ts="2024-06-01T12:00:00+09:00")
    split = split_late([very_old, newer], {}, GRACE)
    assert split.accepted == [very_old, newer]
    assert split.late == []
    assert split.watermarks == {"ICN1": datetime(2024, 6, 1, 3)}


def test_an_order_older_than_the_watermark_minus_grace_is_late() -> None:
    mark = {"ICN1": datetime(2024, 6, 3, 12)}
    on_edge = make_order("edge", ts="2024-06-01T12:00:00+00:00")  # exactly mark - grace: accepted
    too_old = make_order("old", ts="2024-06-01T11:59:59+00:00")
    split = split_late([on_edge, too_old], mark, GRACE)
    assert [o.order_id for o in split.accepted] == ["edge"]
    assert [o.order_id for o in split.late] == ["old"]
    assert split.watermarks == {}, "neither order moved the watermark"


def test_the_watermark_moves_within_a_batch_in_arrival_order() -> None:
    new = make_order("new", ts="2024-06-10T00:00:00+00:00")
    old = make_order("old", ts="2024-06-07T00:00:00+00:00")  # 72 h behind "new"
    assert [o.order_id for o in split_late([old, new], {}, GRACE).late] == []
    split = split_late([new, old], {}, GRACE)
    assert [o.order_id for o in split.late] == ["old"]
    assert split.watermarks == {"ICN1": datetime(2024, 6, 10)}


def test_lateness_is_judged_per_center() -> None:
    marks = {"ICN1": datetime(2024, 6, 10), "PUS1": datetime(2024, 6, 1)}
    icn = make_order("icn", center_id="ICN1", ts="2024-06-05T00:00:00+00:00")
    pus = make_order("pus", center_id="PUS1", ts="2024-06-05T00:00:00+00:00")
    split = split_late([icn, pus], marks, GRACE)
    assert [o.order_id for o in split.late] == ["icn"]
    assert split.watermarks == {"PUS1": datetime(2024, 6, 5)}


def test_watermarks_compare_instants_not_wall_clocks() -> None:
    # 09:00 in Seoul is 00:00 UTC: exactly at the watermark, so on time.
    mark = {"ICN1": datetime(2024, 6, 3, 0)}
    seoul = make_order("kst", ts="2024-06-01T09:00:00+09:00")
    assert split_late([seoul], mark, GRACE).late == []
    assert split_late([seoul], mark, GRACE - timedelta(seconds=1)).late == [seoul]


def test_zero_grace_rejects_anything_behind_the_stream_time() -> None:
    mark = {"ICN1": datetime(2024, 6, 1, 12)}
    split = split_late([make_order("x", ts="2024-06-01T11:59:59+00:00")], mark, timedelta(0))
    assert len(split.late) == 1
