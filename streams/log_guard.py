"""Positions checked against the log they point into, after anything that may have replaced it.

A consumer's position is just an offset: nothing in it says which log it was read
from. When the log is lost and written again from offset 0 (the memory-only
embedded broker restarted empty; a topic deleted and created again), an old
position or an old committed offset still looks valid once the new log has grown
past it, and the records under it are never read. Worse for the orders sink,
reading the middle of the new log first moves the centers' stream times forward,
and its first records, read later, count as late. Two ways lead there, both seen
with the embedded broker:

* aiokafka keeps its fetch positions until the group coordinator says it does
  not know the member any more (a heartbeat or commit fails), and goes on
  fetching meanwhile;
* a commit that was retried through the outage, or sent once the membership was
  reset, reaches the new broker as a commit without a generation (-1), which a
  group with no members accepts: the next assignment starts from it.

So for each partition the guard remembers the last record of the last batch whose
offsets were committed (its *mark*: offset and a fingerprint of timestamp, key and
value) and, after a moment that may have replaced the log, reads the record at the
mark again before anything from that partition goes to the writer:

* after a rebalance, where the broker's committed offset is the one we committed
  (one past the mark; any other committed offset is someone else's and is used as
  it is);
* after a fetch gap: records after :data:`GAP_S` without any (an outage, or an
  idle stream: one fetch more for each burst after a pause).

The same record at the mark: the log is the one we read, and the batch goes on
from the record after it. Another record there: the log was replaced, and the
partition is read from its beginning. A record before the mark (aiokafka found the
mark past the end of the log and reset the position to the earliest offset): the
log is shorter than ours was, and is read from where it starts. Records past the
mark after the seek (a fetch already under way, or a log that starts past the mark
now) are dropped and the partition sent back again, :data:`SEEK_TRIES` times before
the log is taken to start there. Only the first
fetch after such a moment pays (one record re-read, the rest of that fetch dropped
and fetched again); a busy stream never does. Re-reading is safe: the sink drops
repeated order ids.

Fetches carry the guard's :attr:`LogGuard.epoch` from when ``getmany`` returned;
the epoch moves on every revocation, assignment, failed commit and check, and a
batch fetched in an older epoch is written but its offsets are never committed
(later batches' commits cover them): what was read before the log was replaced
must not become a position in the new one. Records fetched before a revocation
and not yet handed over are dropped: the next assignment reads them again from
the committed offsets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka.abc import ConsumerRebalanceListener

log = logging.getLogger(__name__)

#: Records arriving this long after the previous ones are checked against their partition's mark.
#: An empty broker cannot come back and be written past our positions faster than this.
GAP_S = 1.0
#: Commits remembered per partition: any of them may be the one the broker holds (a retried,
#: older commit can land after a newer one).
HISTORY = 32
#: Fetches starting past a partition's mark after it was sent back there, before the guard takes it
#: that the log now starts past the mark.
SEEK_TRIES = 3


@dataclass(frozen=True)
class Mark:
    """The last record of a partition's last committed batch."""

    offset: int
    fingerprint: int


def fingerprint(record: Any) -> int:
    """What tells a record from another at the same offset of a replaced log (``hash`` of
    bytes differs between processes; marks never leave the process that made them)."""
    return hash((record.timestamp, record.key, record.value))


def mark_of(record: Any) -> Mark:
    return Mark(record.offset, fingerprint(record))


class Handled:
    """The last ``size`` records handled (by topic, partition, offset and :func:`fingerprint`): a
    record read again (a log read again from its start, a rebalance before its commit) is known,
    another record at the same offset of a replaced log is not."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._keys: dict[tuple, None] = {}

    @staticmethod
    def _key(record: Any) -> tuple:
        return record.topic, record.partition, record.offset, fingerprint(record)

    def __contains__(self, record: Any) -> bool:
        return self._key(record) in self._keys

    def add(self, record: Any) -> None:
        self._keys[self._key(record)] = None
        if len(self._keys) > self.size:
            del self._keys[next(iter(self._keys))]


@dataclass
class _Check:
    mark: Mark | None  # None: an assignment's check, whose mark is the commit the position is one past
    epoch: int  # records fetched in an earlier epoch came from before the check's seek
    reading: bool  # the consumer was sent back to the mark; the next records start there
    always: bool  # check even when the position is not one past the mark (a gap, not an assignment)
    tries: int = 0  # fetches after the seek that started past the mark


class LogGuard(ConsumerRebalanceListener):
    """Marks, checks and epochs for one consumer (see the module docstring).

    The pump calls :meth:`admit` on every fetch (a dictionary test unless a check is
    pending), :meth:`committed` after every successful commit and :meth:`commit_failed`
    after a failed one; aiokafka calls the rebalance callbacks.
    """

    def __init__(
        self,
        consumer: Any,
        marks: dict[Any, Mark],
        history: dict[Any, dict[int, int]] | None = None,
        *,
        name: str = "orders",
        on_replaced: Callable[[Any], None] | None = None,
    ) -> None:
        self.consumer = consumer
        self.name = name  # for the log lines
        #: called with a partition found on a replaced or shortened log, before it is read from where
        #: that log starts (a client that keeps positions of its own forgets them there)
        self.on_replaced = on_replaced
        self.epoch = 0
        self.marks = marks
        #: partition -> {offset: fingerprint} of the last :data:`HISTORY` records whose offsets were
        #: committed, or sent to be (a commit reported failed may still have reached the broker)
        self.history: dict[Any, dict[int, int]] = history if history is not None else {}
        #: partition -> the last record handed to the writer since the partitions were assigned (a
        #: gap's check reads it again: it is where the position stands, committed or not); None: the
        #: partition was sent to the start of a replaced log, and nothing of it was read since
        self.seen: dict[Any, Any] = {}
        self.checks: dict[Any, _Check] = {}
        self.replaced = 0  # partitions found on a replaced or shortened log (for tests and logs)
        #: partitions found on a replaced or shortened log whose records have not gone to the writer
        #: since: what the counters hold for them is another log's (:mod:`fcplan.streams.counted`)
        self.restarted: set[Any] = set()
        self._revoked = 0  # the epoch of the latest revocation
        self._last_records = time.monotonic()

    # ------------------------------------------------------------------ aiokafka's callbacks
    def on_partitions_revoked(self, revoked: Any) -> None:
        """Before the group is joined again. Records fetched until now are dropped (the next
        assignment starts from the committed offsets, at most where they begin), and every
        partition with a mark is checked when its first records of the next assignment come,
        which may be before :meth:`on_partitions_assigned` has run."""
        self.epoch += 1
        self._revoked = self.epoch
        self.seen = {}  # the next assignment starts from the committed offsets
        self.checks = {tp: _Check(self.marks.get(tp), self.epoch, False, False) for tp in self.history}

    def on_partitions_assigned(self, assigned: Any) -> None:
        """``assigned``: the whole new assignment (the group's protocol is eager: every rebalance
        revokes all partitions, then assigns them all)."""
        self.epoch += 1  # what was fetched before is not committed
        self.seen = {}  # the assignment starts from the committed offsets, not from what was fetched
        # A partition found replaced that went to another member counts there: its counted mark is then
        # the new log's. Were the finding kept until it came back, its records would be counted again.
        # (One assigned to us again at once was read by no one else: the finding stays.)
        self.restarted &= set(assigned)

    # ------------------------------------------------------------------ the pump's calls
    def committing(self, last_records: dict) -> None:
        """The offsets one past ``last_records`` (partition -> record) are being committed: from now
        on the broker may hold them, whatever the commit reports."""
        for tp, record in last_records.items():
            mark = self.marks[tp] = mark_of(record)
            history = self.history.setdefault(tp, {})
            history[mark.offset] = mark.fingerprint
            if len(history) > HISTORY:
                del history[next(iter(history))]

    def committed(self, last_records: dict) -> None:
        """The offsets one past ``last_records`` (partition -> record) are now committed."""
        for tp, record in last_records.items():
            self.marks[tp] = mark_of(record)

    def commit_failed(self) -> None:
        """A commit failed (the group moved on or the broker forgot us): what was fetched
        so far is not committed, its positions may belong to a log that is gone."""
        self.epoch += 1

    def admit(self, fetched: dict, epoch: int) -> dict:
        """The part of ``fetched`` (partition -> records, fetched in ``epoch``) that may go to
        the writer, with :attr:`epoch` as it is now; sends partitions back to their marks first.

        Synchronous on purpose: a rebalance callback cannot run in the middle of it (one that
        did, while a seek was awaited, let records through unchecked)."""
        now = time.monotonic()
        if epoch < self._revoked:
            return {}
        if fetched and now - self._last_records >= GAP_S:
            self._after_gap(fetched)
        if fetched:
            self._last_records = now
        if not self.checks:
            self._saw(fetched)
            return fetched
        out = {}
        for tp, batch in fetched.items():
            check = self.checks.get(tp)
            if check is None:
                out[tp] = batch
            elif not check.reading:
                self._start(tp, check, batch[0].offset)
                if tp not in self.checks:
                    out[tp] = batch
            elif epoch < check.epoch:
                continue  # fetched before the check's seek: fetched again from the mark
            else:
                rest = self._finish(tp, check, batch)
                if rest:
                    out[tp] = rest
        self._saw(out)
        return out

    def take_restarted(self, admitted: dict) -> set[Any]:
        """The partitions of ``admitted`` (records going to the writer) found on a new log since
        their last records went there; they are told once."""
        told = {tp for tp in self.restarted if admitted.get(tp)}
        self.restarted -= told
        return told

    def _saw(self, admitted: dict) -> None:
        for tp, batch in admitted.items():
            if batch:
                self.seen[tp] = batch[-1]

    def _after_gap(self, fetched: dict) -> None:
        """Records after a pause: every assigned partition with a mark is checked before its next
        records are written (an empty broker loses all partitions, not only those in this fetch)."""
        try:
            assigned = set(self.consumer.assignment()) | set(fetched)
        except Exception:  # not subscribed any more (stopping): nothing to check
            return
        for tp in assigned:
            if tp in self.seen:  # (None: at the start of a replaced log, nothing to compare)
                mark = mark_of(self.seen[tp]) if self.seen[tp] is not None else None
            else:
                mark = self.marks.get(tp)  # (the old log's mark would send a replaced one back to it)
            if mark is not None and tp not in self.checks:
                self.checks[tp] = _Check(mark, self.epoch, False, True)

    def _start(self, tp: Any, check: _Check, position: int) -> None:
        """First records since the check was set: read the mark again, unless an assignment put
        the partition somewhere other than one past it (a committed offset that is not ours)."""
        if not check.always:
            ours = self.history.get(tp, {}).get(position - 1)
            if ours is None:
                # The committed offset is another's (the partition was read elsewhere meanwhile):
                # the mark says nothing about it, and a later gap must not send the partition back to it.
                del self.checks[tp]
                self.marks.pop(tp, None)
                return
            check.mark = Mark(position - 1, ours)  # one of our commits, maybe not the last one
        try:
            self.consumer.seek(tp, check.mark.offset)
        except Exception:  # IllegalStateError: not assigned; its records are dropped, a rebalance follows
            return
        self.epoch += 1
        check.epoch, check.reading = self.epoch, True

    def _finish(self, tp: Any, check: _Check, batch: list) -> list:
        """Records from the mark on: what follows the mark if the log is ours, else what to write."""
        first, mark = batch[0], check.mark
        if first.offset > mark.offset and check.tries < SEEK_TRIES:
            # Records from past the mark after the seek: fetched from the old position before the seek
            # took effect, or the log starts past the mark now. Sent back again; after SEEK_TRIES
            # such fetches it is the log's start (retention, compaction), with nothing to compare.
            check.tries += 1
            self._start(tp, check, mark.offset + 1)
            return []
        del self.checks[tp]
        if first.offset > mark.offset:
            return batch
        if first.offset == mark.offset and fingerprint(first) == mark.fingerprint:
            return batch[1:]  # our log: go on after the mark
        self.epoch += 1  # nothing fetched so far is committed: its offsets belong to the old log
        self.replaced += 1  # (the mark stays: the broker may still hold one past it, from us)
        self.seen[tp] = None
        self.restarted.add(tp)
        if self.on_replaced is not None:
            self.on_replaced(tp)
        if first.offset < mark.offset:
            log.warning(
                "%s: partition %s ends before offset %d, which this consumer read and committed: "
                "the log was lost (an empty broker?); reading it from offset %d",
                self.name,
                tp.partition,
                mark.offset,
                first.offset,
            )
            return batch
        log.warning(
            "%s: partition %s holds another record at offset %d than the one this consumer "
            "committed: the log was replaced (an empty broker?); reading it from its beginning",
            self.name,
            tp.partition,
            mark.offset,
        )
        # Offset 0 rather than the awaited seek_to_beginning: where retention has moved the log's
        # start, the consumer's auto_offset_reset="earliest" answers the out-of-range fetch with it.
        self.consumer.seek(tp, 0)
        return []
