"""Poison isolation: write a batch, and when its content makes the write fail,
find the records at fault by bisection and write the rest.

A batch's write is one transaction, so a single record the database refuses
(a value it cannot store, a constraint it breaks, a time it cannot represent)
fails all of them. :func:`bisect_writes` then writes the two halves, and the
halves of a half that fails, in the batch's order, until each failing part is
one record: ``k`` poison records among ``n`` cost about ``2 k log2(n / k)``
extra transactions, and the stream goes on. An outage (or anything else
``passthrough`` names) is not bisected: it propagates at once, since the same
write may well succeed later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

R = TypeVar("R")


@dataclass
class Bisected(Generic[R]):
    """``written``: ``(lo, result)`` of each part written, in batch order (rows
    ``[lo, lo + size)``); ``poison``: ``(position, exception)`` of each record
    that failed alone, ascending."""

    written: list[tuple[int, R]] = field(default_factory=list)
    poison: list[tuple[int, Exception]] = field(default_factory=list)


def bisect_writes(
    n: int, write: Callable[[int, int], R], passthrough: Callable[[BaseException], bool]
) -> Bisected[R]:
    """Write rows ``[0, n)`` with ``write(lo, hi)`` (one transaction each), splitting
    any part that fails until the failing records are alone (see the module
    docstring). Exceptions for which ``passthrough`` is true propagate."""
    out: Bisected[R] = Bisected()
    todo = [(0, n)]
    while todo:
        lo, hi = todo.pop()
        try:
            out.written.append((lo, write(lo, hi)))
        except Exception as exc:
            if passthrough(exc):
                raise
            if hi - lo == 1:
                out.poison.append((lo, exc))
                continue
            mid = (lo + hi) // 2
            todo += [(mid, hi), (lo, mid)]  # the left half first: the batch's order is kept
    return out
