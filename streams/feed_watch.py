"""Whole-feed silence, told by the worker: no order read for ``silent_after_s`` while the broker answers.

The drift loop's silence watch (:mod:`fcplan.models.silence`) judges settled hours against the
forecast, so it speaks an hour or more after a feed stops. The orders consumer knows sooner: its
fetches come back (the broker is up, every assigned partition answered within
:data:`BROKER_STALE_S`) but empty. After ``silent_after_s`` of that the feed is silent: the
producer upstream died or stopped sending. A broker that does not answer is not counted as
silence (that is an outage the consumer logs and waits out), nor is a consumer that stopped
fetching because its writer is stalled, nor the time before the first record was ever read
(an empty topic of a new install). Pure: the consumer feeds it fetches and the clock.

Rate-aware: a quiet interval alarms only when it is at least ``silent_after_s`` long *and* zero orders
in it was unlikely under what this worker normally reads then. The rates (:class:`FeedRates`) are the
hourly aggregates the worker itself writes (``center_hourly``), read at most once an hour
(:func:`load_feed_rates`): per center the mean orders of the same UTC hour of the week over the last
:data:`RATE_WEEKS` weeks, or of the same hour of the day while a center has under a week of history
(under a day: no rate). Expected orders of the interval = the integral of the summed rates of the
centers this worker read records of in the last :data:`CENTERS_KEPT_S` (with several workers each
counts only its partitions' centers); the alarm needs ``exp(-expected) < alpha``
(:data:`fcplan.core.contracts.SILENCE_ALPHA`, 1e-6: about 14 expected orders). So the night's quiet hours of
a network whose history has no orders then never alarm, and a feed that stops in the evening is told
when the morning's orders fail to come. Fallback: while no center read has a rate (a new install's
first day of history, a database that could not be read since the worker started, only new centers),
the fixed rule holds: ``silent_after_s`` of quiet alarms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, select

from fcplan.core.contracts import ALL_CENTERS, FEED_STOPPED, SILENCE_ALPHA, ForecastAlert
from fcplan.storage import upsert
from fcplan.storage.schema import center_hourly, forecast_alerts

__all__ = ["FEED_STOPPED", "FeedRates", "FeedWatch", "broker_answers", "feed_alert", "feed_rates", "load_feed_rates",
           "open_feed_alerts", "store_feed_alert"]

OPEN, CLEARED = "open", "cleared"
#: A partition whose last fetch response is older than this says the broker is not answering.
BROKER_STALE_S = 30.0
#: Weeks of ``center_hourly`` the same-hour-of-week rates average.
RATE_WEEKS = 4
#: Seconds between two reads of the rates (a failed read is tried again after :data:`RATES_RETRY_S`).
RATES_EVERY_S = 3600.0
RATES_RETRY_S = 300.0
#: A center read within this long counts in the expected orders (a rebalance's lost centers age out).
CENTERS_KEPT_S = 7 * 86400.0
_WEEK_H = 168
_EPOCH_HOW = 72  # 1970-01-01 00:00 UTC was a Thursday: hour 72 of a week starting Monday


def hour_of_week(hour_index: np.ndarray | int) -> np.ndarray | int:
    """UTC hour of the week (Monday 00:00 = 0) of hours since the epoch."""
    return (hour_index + _EPOCH_HOW) % _WEEK_H


#: ``(center, hour since the epoch, UTC) -> closed``: the centers file's closed days (its local days).
ClosedHour = Callable[[str, int], bool]


@dataclass(frozen=True)
class FeedRates:
    """Expected orders per UTC hour of the week (168 values, Monday 00:00 first) of each center with
    enough history; ``at``: when they were read (epoch seconds)."""

    per_center: dict[str, np.ndarray]
    at: float = 0.0

    def profile(self, centers: Iterable[str]) -> np.ndarray | None:
        """The summed rates of ``centers`` (those without a rate add nothing); ``None`` when none has one."""
        known = [self.per_center[c] for c in centers if c in self.per_center]
        return np.sum(known, axis=0) if known else None

    def expected(self, centers: Iterable[str], start: float, end: float, closed: ClosedHour | None = None) -> float:
        """Orders the rates of ``centers`` expect between ``start`` and ``end`` (epoch seconds); an hour
        ``closed`` says a center is closed (the centers file's closed days) adds nothing of that center."""
        known = [c for c in centers if c in self.per_center]
        if closed is None:
            profile = self.profile(known)
            return 0.0 if profile is None else expected_orders(profile, start, end)
        return _integrate(lambda h: sum(float(self.per_center[c][hour_of_week(h)]) for c in known if not closed(c, h)),
                          start, end)


def expected_orders(profile: np.ndarray, start: float, end: float) -> float:
    """Orders ``profile`` (per hour of the week) expects between ``start`` and ``end`` (epoch seconds)."""
    return _integrate(lambda h: float(profile[hour_of_week(h)]), start, end)


def _integrate(rate: Callable[[int], float], start: float, end: float) -> float:
    """The integral of ``rate`` (orders per hour, of the hour since the epoch) from ``start`` to ``end`` (seconds)."""
    total, t = 0.0, start
    while t < end:
        h = math.floor(t / 3600.0)
        stop = min(end, (h + 1) * 3600.0)
        total += rate(h) * (stop - t) / 3600.0
        t = stop
    return total


def feed_rates(centers: Sequence[str], hours: Sequence[datetime], orders: Sequence[float], now: float,
               weeks: int = RATE_WEEKS) -> FeedRates:
    """Rates from ``center_hourly`` rows (naive UTC hour starts) of the :data:`RATE_WEEKS` weeks and one more
    before ``now``'s hour (hours absent: no order). A center with rows before the window has the full window;
    another's history starts at its first row: from a week of it the same hour of the week, from a day of it
    the same hour of the day, under a day no rate."""
    epoch = datetime(1970, 1, 1)
    index = np.array([int((h.replace(tzinfo=None) - epoch) // timedelta(hours=1)) for h in hours], dtype=np.int64)
    return rates_from_index(np.asarray(centers, dtype=object), index, np.asarray(orders, dtype=float), now, weeks)


def rates_from_index(centers: np.ndarray, index: np.ndarray, orders: np.ndarray, now: float,
                     weeks: int = RATE_WEEKS) -> FeedRates:
    """:func:`feed_rates` with the hours as hours since the epoch (arrays): the benchmark replays through it."""
    now_h = math.floor(now / 3600.0)
    start_h = now_h - weeks * _WEEK_H
    out: dict[str, np.ndarray] = {}
    before = np.asarray(index) < now_h
    centers, index, orders = np.asarray(centers)[before], np.asarray(index)[before], np.asarray(orders)[before]
    if not centers.size:
        return FeedRates(out, now)
    # one sort, then each center's rows as a slice: a mask per center compared every row with every center
    # (2,000 centers: about a minute holding the GIL each hourly read, the worker's event loop starved)
    names, first_at, inverse = np.unique(centers.astype(str), return_index=True, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(names) + 1))
    for k in np.argsort(first_at, kind="stable"):  # the centers in the order of their first row
        rows = order[bounds[k] : bounds[k + 1]]
        center, idx = centers[rows[0]], index[rows]
        first = max(start_h, int(idx.min()))
        span = now_h - first
        if span < 24:
            continue
        inside = idx >= first
        how = hour_of_week(idx[inside])
        sums = np.bincount(how, weights=orders[rows][inside], minlength=_WEEK_H)
        counts = np.bincount(hour_of_week(np.arange(first, now_h)), minlength=_WEEK_H).astype(float)
        if span < _WEEK_H:  # under a week: the same hour of the day (168 % 24 == 72 % 24 == 0)
            by_day = sums.reshape(7, 24).sum(axis=0) / counts.reshape(7, 24).sum(axis=0)
            out[center] = np.tile(by_day, 7)
        else:
            out[center] = sums / counts
    return FeedRates(out, now)


def load_feed_rates(engine: Engine, now: float, weeks: int = RATE_WEEKS) -> FeedRates:
    """:func:`feed_rates` of the ``center_hourly`` rows of the ``weeks`` weeks and one more before ``now``
    (one query; an outage propagates: the caller keeps what it had)."""
    cols = center_hourly.c
    since = datetime.fromtimestamp((math.floor(now / 3600.0) - (weeks + 1) * _WEEK_H) * 3600.0, UTC)
    with engine.connect() as conn:
        rows = conn.execute(select(cols.center_id, cols.hour, cols.orders)
                            .where(cols.hour >= since.replace(tzinfo=None))).all()
    return feed_rates([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], now, weeks)


@dataclass
class FeedWatch:
    """``silent_after_s``: seconds without a record (broker up) before the feed counts as silent;
    0 turns the watch off. ``rates`` (:meth:`set_rates`) and the centers read (:meth:`read`) make it
    rate-aware (module docstring); ``alpha``: the chance of the quiet interval under the rates below
    which it alarms; ``closed``: the hours each center is closed (they expect no orders of it)."""

    silent_after_s: float
    alpha: float = SILENCE_ALPHA
    closed: ClosedHour | None = None
    rates: FeedRates | None = None
    centers: dict[str, float] = field(default_factory=dict)  # center -> when this worker last read it
    expected: float = 0.0  # orders the rates expected in the quiet interval (broker up)
    _profile: np.ndarray | None = None
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

    def set_rates(self, rates: FeedRates | None) -> None:
        """New rates (read hourly): the quiet interval so far is judged again under them."""
        self.rates = rates
        self._refresh()

    def read(self, centers: Iterable[str], now: float) -> None:
        """This worker stored records of ``centers`` at ``now``: their rates count from now on."""
        new = False
        for c in centers:
            new |= c not in self.centers
            self.centers[c] = now
        stale = [c for c, t in self.centers.items() if now - t > CENTERS_KEPT_S]
        for c in stale:
            del self.centers[c]
        if new or stale:
            self._refresh()

    def _refresh(self) -> None:
        self._profile = self.rates.profile(self.centers) if self.rates is not None else None
        if self._profile is not None and self.last_check is not None and self.quiet_s > 0:
            self.expected = self._expected(self.last_check - self.quiet_s, self.last_check)

    def _expected(self, start: float, end: float) -> float:
        assert self.rates is not None
        return self.rates.expected(self.centers, start, end, self.closed)

    def fetched(self, records: int, now: float) -> dict | None:
        """A fetch came back with ``records`` records at ``now`` (seconds); returns the cleared
        alert's record when it ends a silence (one a fetch: a restored one waits for the next)."""
        if not records:
            return None
        self.last_record, self.quiet_s, self.last_check, self.expected = now, 0.0, now, 0.0
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
            if self._profile is not None and now > previous:
                self.expected += self._expected(previous, now)
        if self.since is not None or self.quiet_s < self.silent_after_s:
            return None
        if self._profile is not None and math.exp(-self.expected) >= self.alpha:
            return None  # quiet as long, but not unlikely at these hours under the rates
        self.since = self.last_record
        return feed_alert(OPEN, self.last_record, now, None if self._profile is None else self.expected)


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


def feed_alert(status: str, since: float, now: float, expected: float | None = None) -> dict:
    """The ``forecast-alerts`` record (:class:`fcplan.core.contracts.ForecastAlert` fields) of a
    whole-feed silence that began at ``since`` (its last record), told at ``now``; ``expected``: the
    orders the rates expected in it (``None``: the fixed rule judged it)."""
    start, at = (datetime.fromtimestamp(t, UTC) for t in (since, now))
    minutes = (now - since) / 60.0
    usual = "" if expected is None else f" though about {expected:.0f} were expected at these hours"
    message = (
        f"no order read from the orders topic for {minutes:.0f} minutes (last at {start:%Y-%m-%d %H:%M} UTC){usual} "
        "while the broker answers: the producer upstream has stopped sending; plans and alerts use no new orders"
        if status == OPEN else
        f"orders arriving again after {minutes:.0f} minutes of silence; feed alert cleared"
    )
    record = ForecastAlert(
        center_id=ALL_CENTERS, day=at.date(), kind=FEED_STOPPED, message=message, created_at=at,
        alert_id=f"feed-{int(since)}", status=status, window_start=start, window_end=at,
        evidence={"silent_minutes": round(minutes, 1), "source": "worker",
                  **({} if expected is None else {"expected_orders": round(expected, 1)})},
    )
    return record.model_dump()
