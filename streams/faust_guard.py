"""The log guard (:mod:`fcplan.streams.log_guard`) inside faust's consumer, for the promotions agent.

faust reads its topics (here only ``promotions``) with an aiokafka consumer of its own, in a
thread, and keeps positions of its own on top of it: the last offset read (a record at or past
it is delivered, one before it dropped), the committed offset (an ack before it is ignored)
and the acked offsets it commits from. After a broker that came back empty, both ways the
orders consumer met lead here too: faust starts from the old offsets the new broker reports,
or goes on from its old positions, and skips the new log's first records.

:class:`GuardedConsumer` is faust's aiokafka consumer with the orders consumer's
:class:`~fcplan.streams.log_guard.LogGuard` in its four hooks:

* every fetch passes :meth:`LogGuard.admit <fcplan.streams.log_guard.LogGuard.admit>` before
  faust delivers it (after a rebalance or a pause, the record at the last mark is read again;
  a replaced log is read from its start);
* a partition found on a replaced log has faust's own bookkeeping for it forgotten (read and
  committed offsets, acks), as faust does for a revoked one, and the acks of messages read from
  the old log before that are refused (they would commit offsets of the new log not yet read);
* a commit is sent only for offsets whose last record was fetched in the guard's current epoch
  (what was read before a rebalance, a check or a failed commit must not become a position in a
  log that may have been replaced; later commits cover it), and is the guard's mark once sent;
* the rebalance callbacks reach the guard before faust's own.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka

from fcplan.streams.counted import Origin, log_name
from fcplan.streams.log_guard import LogGuard


def _nothing() -> None:
    return None


class _Positions:
    """What the guard asks of a consumer, answered by faust's: its aiokafka consumer's positions
    (faust's own ``seek`` is a coroutine; this is the synchronous seek it makes underneath)."""

    def __init__(self, consumer: GuardedConsumer) -> None:
        self._consumer = consumer

    def assignment(self) -> Any:
        return self._consumer.assignment()

    def seek(self, tp: Any, offset: int) -> None:
        thread = self._consumer._thread
        thread.seek(tp, offset)  # as faust's own seek does, from this thread
        # The seek wakes the fetcher through futures of the consumer thread's loop; wake that loop too,
        # or the fetch from the new position waits for its next timeout.
        loop = getattr(thread, "thread_loop", None)
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(_nothing)


class GuardedConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer, its fetches and commits checked by a :class:`LogGuard`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = LogGuard(_Positions(self), {}, name="promotions", on_replaced=self._forget)
        #: partition -> offset -> (the guard's epoch when fetched, record), until committed past
        self._fetched: dict[Any, dict[int, tuple[int, Any]]] = {}
        #: messages read from a log found replaced since: their acks are refused
        self._stale: weakref.WeakSet[Any] = weakref.WeakSet()

    async def _getmany(self, active_partitions: Any, timeout: float) -> Any:
        fetched = await super()._getmany(active_partitions, timeout)
        # The epoch when the fetch returned, not when it began: one that spans a rebalance returns
        # records from the new assignment's positions, which nothing would fetch again if dropped.
        epoch = self.guard.epoch
        records = self.guard.admit(fetched, epoch)
        for tp, batch in records.items():
            kept = self._fetched.setdefault(tp, {})
            for record in batch:
                kept[record.offset] = (epoch, record)
        return records

    async def _commit(self, offsets: Any) -> bool:
        last = {}
        for tp, offset in offsets.items():
            kept = self._fetched.get(tp, {})
            fetched = kept.get(offset - 1)
            if fetched is not None and fetched[0] == self.guard.epoch:
                last[tp] = fetched[1]
            while kept and next(iter(kept)) < offset:
                del kept[next(iter(kept))]
        if not last:
            return False
        self.guard.committing(last)
        done = await super()._commit({tp: record.offset + 1 for tp, record in last.items()})
        if done:
            self.guard.committed(last)
        else:
            self.guard.commit_failed()
        return done

    def ack(self, message: Any) -> bool:
        if message in self._stale:
            self._stale.discard(message)
            message.acked = True
            self._unacked_messages.discard(message)
            return False
        return super().ack(message)

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.guard.on_partitions_revoked(revoked)
        self._fetched.clear()
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: Any, generation_id: int = 0) -> None:
        self.guard.on_partitions_assigned(assigned)
        await super().on_partitions_assigned(assigned, generation_id)

    def origin(self, messages: Sequence[Any]) -> Origin:
        """Where ``messages`` (a batch the agent took, in its order) were read, for the counters
        (:mod:`fcplan.streams.counted`), with the logs the guard found replaced since they were last
        counted (their counted marks belong to the old log; told once). A message read from a log
        before the guard found it replaced (the agent's batches lag faust's fetches) is counted as
        new, outside the log's mark, and does not take the finding."""
        places = [None if m in self._stale else (log_name(m.topic, m.partition), m.offset) for m in messages]
        tps = {(m.topic, m.partition): True for m in messages if m not in self._stale}
        restarted = self.guard.take_restarted(tps)
        return Origin.of_records(places, [log_name(topic, partition) for topic, partition in restarted])

    def _forget(self, tp: Any) -> None:
        """``tp``'s log was replaced: what faust knows of its positions belongs to the old one."""
        for table in (self._read_offset, self._committed_offset, self._acked, self._acked_index, self._gap):
            table.pop(tp, None)
        self._fetched.pop(tp, None)
        self._stale.update(m for m in self._unacked_messages if m.tp == tp)


class GuardedTransport(faust_aiokafka.Transport):
    """faust's aiokafka transport, its consumers guarded."""

    Consumer = GuardedConsumer
