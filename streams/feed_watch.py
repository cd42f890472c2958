"""Whole-feed silence, told by the worker: no order read for ``silent_after_s`` while the broker answers.

The drift loop's silence watch (:mod:`fcplan.models.silence`) judges settled hours against the
forecast, so it speaks an hour or more after a feed stops. The orders consumer knows sooner: its
fetches come back (the broker is up, every assigned partition answered within
:data:`BROKER_STALE_S`) but empty. After ``silent_after_s`` of that the feed is silent: the
producer upstream died or stopped sending. A broker that does not answer is not counted as
silence (that is an outage the consumer logs and waits out), nor is a consumer that stopped
fetching because its writer is stalled, nor the time before the first record was ever read
(an empty topic of a new install). Pure: the consumer feeds it fetches and the clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from fcplan.core.contracts import ALL_CENTERS, FEED_STOPPED, ForecastAlert
from fcplan.storage import upsert
from fcplan.storage.schema import forecast_alerts

__all__ = ["FEED_STOPPED", "FeedWatch", "broker_answers", "feed_alert", "open_feed_alerts", "store_feed_alert"]

OPEN, CLEARED = "open", "cleared"
#: A partition whose last fetch response is older than this says the broker is not answering.
BROKER_STALE_S = 30.0


@dataclass
class FeedWatch:
    """``silent_after_s``: seconds without a record (broker up) before the feed counts as silent;
    0 turns the watch off."""

    silent_after_s: float
    last_record: float | None = None  # wall-clock seconds of the newest fetch with records
    quiet_s: float = 0.0  # seconds without a record while the broker answered
    last_check: float | None = None
    since: float | None = None  # when the open silence began (its last record)
    #: silences a previous worker opened and never cleared (:meth:`restore`), cleared one a fetch with records
    restored: list[float] = field(default_factory=list)

    def restore(self, since: float) -> None:
        """Take back an alert opened before a restart (its silence began at ``since``): the next
        records clear it, as they clear one this watch opened (the new worker knew nothing of it, so
        it stayed open on the dashboard for good)."""
        if since != self.since and since not in self.restored:
            self.restored.append(since)

    def fetched(self, records: int, now: float) -> dict | None:
        """A fetch came back with ``records`` records at ``now`` (seconds); returns the cleared
        alert's record when it ends a silence (one a fetch: a restored one waits for the next)."""
        if not records:
            return None
        self.last_record, self.quiet_s, self.last_check = now, 0.0, now
        if self.since is None and self.restored:
            self.since = self.restored.pop(0)
        if self.since is None:
            return None
        since, self.since = self.since, None
        return feed_alert(CLEARED, since, now)

    def check(self, now: float, broker_up: bool) -> dict | None:
        """Advance the clock to ``now``; returns the open alert's record when the feed has just
        become silent (once per silence)."""
        previous, self.last_check = self.last_check, now
        if not self.silent_after_s or self.last_record is None or previous is None:
            return None
        if broker_up:
            self.quiet_s += max(0.0, now - previous)
        if self.since is not None or self.quiet_s < self.silent_after_s:
            return None
        self.since = self.last_record
        return feed_alert(OPEN, self.last_record, now)


def broker_answers(consumer: Any, now: float, stale_s: float = BROKER_STALE_S) -> bool:
    """Whether every partition assigned to the aiokafka ``consumer`` had a fetch response within
    ``stale_s`` of ``now`` (wall-clock seconds): the broker is up and the consumer is fetching."""
    assigned: Iterable[Any] = consumer.assignment()
    stamps = [consumer.last_poll_timestamp(tp) for tp in assigned]
    return bool(stamps) and all(ts is not None and now - ts / 1000.0 <= stale_s for ts in stamps)


def open_feed_alerts(engine: Engine) -> list[float]:
    """When each ``feed_stopped`` alert still open in ``forecast_alerts`` began (epoch seconds, oldest
    first): a worker that starts takes them back (:meth:`FeedWatch.restore`) so its next records clear them."""
    cols = forecast_alerts.c
    with engine.connect() as conn:
        rows = conn.execute(select(cols.window_start).where(cols.kind == FEED_STOPPED, cols.status == OPEN)
                            .order_by(cols.window_start)).scalars().all()
    return [ts.replace(tzinfo=UTC).timestamp() if ts.tzinfo is None else ts.timestamp() for ts in rows]


def store_feed_alert(engine: Engine, record: dict) -> None:
    """Insert an opened feed alert, or mark it cleared (keyed by ``alert_id``), in ``forecast_alerts``:
    the dashboard's alerts and stream health pages show it."""

    def naive(ts: datetime) -> datetime:
        return ts.astimezone(UTC).replace(tzinfo=None)

    cleared = record["status"] == CLEARED
    row = {
        **{k: record[k] for k in ("alert_id", "center_id", "day", "kind", "message", "status", "evidence")},
        **{k: naive(record[k]) for k in ("created_at", "window_start", "window_end")},
        "cleared_at": naive(record["created_at"]) if cleared else None,
    }
    with engine.begin() as conn:  # a cleared alert keeps the message and creation time it opened with
        upsert(conn, forecast_alerts, [row], ["alert_id"],
               update=["status", "cleared_at", "window_end", "evidence"] if cleared else [])


def feed_alert(status: str, since: float, now: float) -> dict:
    """The ``forecast-alerts`` record (:class:`fcplan.core.contracts.ForecastAlert` fields) of a
    whole-feed silence that began at ``since`` (its last record), told at ``now``."""
    start, at = (datetime.fromtimestamp(t, UTC) for t in (since, now))
    minutes = (now - since) / 60.0
    message = (
        f"no order read from the orders topic for {minutes:.0f} minutes (last at {start:%Y-%m-%d %H:%M} UTC) "
        "while the broker answers: the producer upstream has stopped sending; plans and alerts use no new orders"
        if status == OPEN else
        f"orders arriving again after {minutes:.0f} minutes of silence; feed alert cleared"
    )
    record = ForecastAlert(
        center_id=ALL_CENTERS, day=at.date(), kind=FEED_STOPPED, message=message, created_at=at,
        alert_id=f"feed-{int(since)}", status=status, window_start=start, window_end=at,
        evidence={"silent_minutes": round(minutes, 1), "source": "worker"},
    )
    return record.model_dump()
