"""Bisection of a failing batch write down to the records at fault (no database)."""

from __future__ import annotations

import pytest

from fcplan.streams.poison import bisect_writes


class Outage(Exception):
    pass


def writer(rows: list[str], log: list[list[str]]):
    """``write(lo, hi)`` that fails on any part holding a "bad" row and records what it wrote."""

    def write(lo: int, hi: int) -> int:
        part = rows[lo:hi]
        if any(r.startswith("bad") for r in part):
            raise ValueError(f"cannot store {next(r for r in part if r.startswith('bad'))}")
        log.append(part)
        return len(part)

    return write


@pytest.mark.parametrize("bad_at", [[], [0], [99], [37], [0, 1], [5, 50, 51, 98], list(range(0, 100, 7))])
def test_when_some_records_cannot_be_written_then_exactly_they_are_isolated_and_the_rest_written_in_order(
    bad_at: list[int],
) -> None:
    rows = [f"bad-{i}" if i in bad_at else f"ok-{i}" for i in range(100)]
    log: list[list[str]] = []
    out = bisect_writes(len(rows), writer(rows, log), passthrough=lambda e: isinstance(e, Outage))
    assert [k for k, _ in out.poison] == bad_at
    assert all(str(e) == f"cannot store bad-{k}" for k, e in out.poison)
    assert [r for part in log for r in part] == [r for r in rows if not r.startswith("bad")]  # once, in order
    assert sum(n for _, n in out.written) + len(out.poison) == len(rows)
    assert [lo for lo, _ in out.written] == sorted(lo for lo, _ in out.written)


def test_a_clean_batch_is_written_in_one_piece() -> None:
    log: list[list[str]] = []
    out = bisect_writes(10, writer([f"ok-{i}" for i in range(10)], log), passthrough=lambda e: False)
    assert out.written == [(0, 10)] and out.poison == [] and len(log) == 1


def test_when_the_write_fails_for_an_outage_then_it_is_not_bisected_but_raised() -> None:
    calls: list[tuple[int, int]] = []

    def write(lo: int, hi: int) -> int:
        calls.append((lo, hi))
        raise Outage("database down")

    with pytest.raises(Outage):
        bisect_writes(8, write, passthrough=lambda e: isinstance(e, Outage))
    assert calls == [(0, 8)]
