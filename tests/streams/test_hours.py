"""Hour buckets: pure functions, no broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from fcplan.core.contracts import Order
from fcplan.streams.hours import hour_start, to_naive_utc

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
