"""``fcplan replay`` on order files nobody listed (session 13). An empty ``lines`` cell or a
``units`` of "two" raised half-way through the replay (the orders before it already sent), 2.5
units were sent as 2, a row without an order id was sent as JSON NaN, an unknown --timezone, an
empty file or a file that is not gzip raised a traceback, and ISO offsets that change with
daylight saving (+00:00, +01:00) failed with pandas' 'Mixed timezones'. Now each is read as
meant or is a ReplayError naming the column, line and fix, before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from fcplan.streams.replay import ReplayError, order_records, read_orders

HEADER = "order_id,center_id,ts,lines,units\n"


def _file(tmp_path: Path, text: str, name: str = "o.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("1,A,2024-01-01 10:00,1,2\n2,A,2024-01-01 11:00,,3\n", "lines is not a whole number of at least 1 in "
                                                                 "1 row(s), e.g. line 3 (empty)"),
        ("1,A,2024-01-01 10:00,1,two\n", "units is not a whole number of at least 1 in 1 row(s), e.g. line 2 "
                                         "('two')"),
        ("1,A,2024-01-01 10:00,1,2.5\n", "e.g. line 2 (2.5)"),
        ("1,A,2024-01-01 10:00,0,2\n", "lines is not a whole number of at least 1"),
        (",A,2024-01-01 10:00,1,2\n", "order_id is empty in 1 row(s), e.g. line 2 (empty)"),
        ("1,A,2024-01-01T10:00:00+00:00,1,2\n2,A,2024-07-01T10:00:00,1,2\n", "ts has no UTC offset while other rows"),
        # sent as 1970-01-01T00:00:01.77 (dead-lettered as late while replay said "sent")
        ("1,A,1772445600,1,2\n", "ts is numeric (e.g. [1772445600]), not dates"),
        ("1,A,2026-03-02 10:00,1,2\n2,A,,1,2\n", "1 rows have unreadable ts"),
        # sent as a center named "unknown"
        ("1,A,2026-03-02 10:00,1,2\n2,,2026-03-02 11:00,1,2\n", "center_id is empty in 1 row(s), e.g. line 3"),
    ],
)
def test_a_row_that_cannot_be_sent_as_written_is_an_error_before_anything_is_sent(
    tmp_path: Path, rows: str, expected: str
) -> None:
    with pytest.raises(ReplayError) as err:
        read_orders(_file(tmp_path, HEADER + rows), "center_id", "Europe/London")
    assert expected in str(err.value)


def test_offsets_that_change_with_daylight_saving_are_instants(tmp_path: Path) -> None:
    path = _file(tmp_path, HEADER + "1,A,2024-01-01T10:00:00+00:00,1,2\n2,A,2024-07-01T10:00:00+01:00,1,2\n")
    records = [r for _, r in order_records(read_orders(path, "center_id", "Europe/London"))]
    assert [r["ts"] for r in records] == ["2024-01-01T10:00:00+00:00", "2024-07-01T09:00:00+00:00"]


def test_whole_counts_written_as_floats_are_sent_as_integers(tmp_path: Path) -> None:
    path = _file(tmp_path, HEADER + "1,A,2024-01-01 10:00,1.0,3.0\n")
    assert next(r for _, r in order_records(read_orders(path, "center_id", "UTC")))["units"] == 3


@pytest.mark.parametrize(
    ("text", "name", "timezone", "expected"),
    [
        (HEADER + "1,A,2024-01-01 10:00,1,2\n", "o.csv", "Mars/Base", "unknown time zone 'Mars/Base'"),
        ("", "o.csv", "UTC", "is not a readable CSV"),
        ("not gzip", "o.csv.gz", "UTC", "is not a readable CSV"),
    ],
)
def test_an_unreadable_file_or_zone_is_an_error_saying_what_to_pass(
    tmp_path: Path, text: str, name: str, timezone: str, expected: str
) -> None:
    with pytest.raises(ReplayError) as err:
        read_orders(_file(tmp_path, text, name), "center_id", timezone)
    assert expected in str(err.value)


def test_a_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="is a directory"):
        read_orders(tmp_path, "center_id", "UTC")


# 02/03/2026 beside 13/03/2026 (each row read on its own, format="mixed") was February 3 and March 13.
def test_day_first_times_are_read_day_first_on_every_row(tmp_path: Path) -> None:
    path = _file(tmp_path, HEADER + "1,A,02/03/2026 10:00,1,2\n2,A,13/03/2026 10:00,1,2\n")
    records = [r for _, r in order_records(read_orders(path, "center_id", "UTC"))]
    assert [r["ts"] for r in records] == ["2026-03-02T10:00:00+00:00", "2026-03-13T10:00:00+00:00"]
