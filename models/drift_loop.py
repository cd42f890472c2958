"""The drift monitor's runner: hourly counts and issued forecasts from the database in,
alerts out (table, ``forecast-alerts`` publisher, webhook, retrain trigger).

Call :meth:`DriftLoop.run_once` with the clock's now, e.g. every simulated or
real hour. It feeds every complete local hour since the last call (zero-filled)
to :class:`fcplan.models.drift_monitor.DriftMonitor`, judging each day against the run
that was issued for it (the newest run made before the day: ``as_issued``),
and the learned intraday profile of the ``learn_days`` before. Publishing and
the webhook are callbacks, so no Kafka client is needed here; the retrain
trigger is debounced per center.

An hour is judged once it has settled: ``settle_hours`` (default 1) after it
ended, so orders that reach the database a little late (consumer lag, a
producer's retry) are in it. Orders can still arrive later (the worker accepts
them up to ``streams.late_grace_hours``): those for hours already judged are not
judged again (a sequential test cannot take back an observation) but they are
counted per center (:attr:`DriftLoop.late`, :meth:`DriftLoop.status`), logged,
and from then on the learned intraday profile uses the corrected counts.

The loop is incremental: it keeps each center's hourly counts of the learning
window and reads only the hours from its last call's end on (that hour and
later ones may not have settled then), plus the hours stored again since its
last read (late orders, corrections), dropping hours older than the window;
``incremental=False`` re-reads the whole window every call (the same alarms and
the same count of late orders).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd
from sqlalchemy import Engine, select

from fcplan.core.locales import Locales
from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.models.drift import as_issued, forecast_levels
from fcplan.models.drift_monitor import CLEARED, OPEN, TESTS, AlertEvent, DriftMonitor, alert_payload
from fcplan.models.schedule import TriggerDebounce
from fcplan.models.sequential import day_distribution, intraday_shares
from fcplan.models.silence import ALL_CENTERS, SILENCE_TESTS, SilenceWatch, silence_message
from fcplan.storage import queries as q
from fcplan.storage import upsert, utcnow
from fcplan.storage.schema import forecast_alerts, forecast_runs, model_decisions

log = logging.getLogger(__name__)

Publish = Callable[[str, dict], None]
#: Whether a center is closed on a local day (the centers file's ``closed_weekdays``, ``closed_dates``,
#: holidays): its empty hours then are no sign of a silent feed.
Closed = Callable[[str, date], bool]

#: Hours stored up to this long before the newest write the loop saw are read again
#: for corrections: writers whose transactions commit out of their timestamps' order
#: are not missed (reading an unchanged hour again counts nothing).
WRITE_OVERLAP = pd.Timedelta(seconds=5)


@dataclass
class LateOrders:
    """Orders that reached the database for hours the monitor had already judged."""

    orders: float = 0.0  # net orders added to those hours after they were judged
    hours: int = 0  # corrections seen (an hour stored again twice counts twice)
    newest: pd.Timestamp | None = None  # the latest corrected hour (UTC)


class DriftLoop:
    def __init__(
        self,
        engine: Engine,
        tz: str | Locales,
        monitor: DriftMonitor | None = None,
        publish: Publish | None = None,
        webhook: Callable[[dict], object] | None = None,
        on_alert: Callable[[str], None] | None = None,
        debounce_hours: float = 6.0,
        learn_days: int = 28,
        backfill_hours: int = 48,
        incremental: bool = True,
        settle_hours: float = 1.0,
        silence: SilenceWatch | None = None,
        closed: Closed | None = None,
    ) -> None:
        # ``tz``: one zone for every center, or each center's own (its local hours and days)
        # ``silence``: the silence watch beside the monitor (:mod:`fcplan.models.silence`); ``closed``: see
        # :data:`Closed` (default: no closed days)
        self.engine = engine
        self.locales = tz if isinstance(tz, Locales) else Locales(tz)
        self.monitor = monitor or DriftMonitor()
        self.silence = silence or SilenceWatch()
        self.closed = closed
        self._closed: dict[tuple[str, date], bool] = {}  # answers of ``closed``, asked once a center and day
        self.publish, self.webhook, self.on_alert = publish, webhook, on_alert
        self.debounce = TriggerDebounce(debounce_hours)
        self.learn_days, self.backfill_hours = learn_days, backfill_hours
        self._fed_until: dict[str, pd.Timestamp] = {}  # per center: UTC hour start not yet fed
        self.incremental = incremental
        if settle_hours < 0:
            raise ValueError(f"settle_hours must be 0 or more (hours to wait after an hour ends), got {settle_hours}")
        self.settle = pd.Timedelta(hours=settle_hours)
        self.late: dict[str, LateOrders] = {}  # per center: orders that arrived after their hour was judged
        self._judged_from: dict[str, pd.Timestamp] = {}  # per center: UTC hour from which hours were judged
        self._learn_from: pd.Timestamp | None = None  # the learning window's start at the last read
        self._watermark: datetime | None = None  # the newest ``updated_at`` of the stored hours at the last read
        self._hours: dict[str, pd.DataFrame] = {}  # per center: ``ds, y, hour_utc`` of the learning window
        self._read_from: pd.Timestamp | None = None  # UTC hour from which stored hours are read next
        self.payloads: list[dict] = []  # every alert record handled, as on the forecast-alerts topic
        self.unstored: list[dict] = []  # alert records the database refused (an outage): stored again each run
        for alert in open_alerts(engine):  # a restart (or a one-shot run) continues their lifecycle
            if alert.test in SILENCE_TESTS:
                self.silence.restore(alert)
            elif alert.test in TESTS:  # not the worker's ``feed_stopped``: the worker clears it
                self.monitor.restore(alert)

    def run_once(self, now: datetime) -> list[AlertEvent]:
        """Feed the hours settled by ``now`` (tz-aware); returns the alert events."""
        self._store_unstored()
        end = (pd.Timestamp(now).tz_convert(UTC).tz_localize(None) - self.settle).floor("h")
        first = end - pd.Timedelta(hours=self.backfill_hours)
        learn_from = first - pd.Timedelta(days=self.learn_days + 1)
        hourly = self._hourly(learn_from, end)
        runs = q.issued_forecasts(self.engine, (first - pd.Timedelta(days=1)).date())
        champions = past_champions(self.engine)
        if champions:  # judge each day by the champion of its time, not by every challenger
            runs = runs[runs["run_id"].isin(champions)]
        issued = as_issued(runs)
        if not hourly or issued.empty:
            return []
        levels = forecast_levels(issued)
        names = [c for c in issued.columns if c in {f"{lv:g}" for lv in levels}]
        by_day = {
            (u, pd.Timestamp(d)): (run, dict(zip(levels, vals, strict=True)))
            for u, d, run, *vals in issued[[UNIQUE_ID, DS, "run_id", *names]].itertuples(index=False)
        }
        events: list[AlertEvent] = []
        days: dict[tuple[str, pd.Timestamp], tuple[float, float]] = {}  # (mean, shape) of each day's forecast
        watched: dict[str, None] = {}  # the centers judged, in order
        for uid, grp in sorted(hourly.items()):
            start = max(self._fed_until.get(uid, first), first)
            if start >= end:
                continue
            zone = self.locales.zone(uid)
            learn = grp[grp["hour_utc"] < start]
            shares = intraday_shares(learn[DS].dt.hour.to_numpy(), learn[Y].to_numpy())
            counts = grp.set_index("hour_utc")[Y]
            for hour_utc in pd.date_range(start, end, freq="h", inclusive="left"):
                local = hour_utc.tz_localize(UTC).tz_convert(zone).tz_localize(None)
                forecast = by_day.get((uid, local.normalize()))
                if forecast is None:
                    continue
                run_id, quantiles = forecast
                count = float(counts.get(hour_utc, 0.0))
                events += self.monitor.observe(uid, local, count, quantiles, shares, run_id)
                day = days.get((uid, local.normalize()))
                if day is None:
                    day = days[(uid, local.normalize())] = day_distribution(list(quantiles), list(quantiles.values()))
                closed = self._is_closed(uid, local.date())
                events += self.silence.observe(uid, local, count, day, float(shares[local.hour]), run_id, closed,
                                               at=hour_utc)
                watched[uid] = None
            self._judged_from.setdefault(uid, start)
            self._fed_until[uid] = end
        events += self.silence.feed(list(watched), end - pd.Timedelta(hours=1))  # the feed's hours in UTC
        for event in events:
            self._handle(event, now)
        return events

    def _is_closed(self, uid: str, day: date) -> bool:
        if self.closed is None:
            return False
        if (uid, day) not in self._closed:
            if len(self._closed) > 100_000:
                self._closed.clear()
            self._closed[(uid, day)] = bool(self.closed(uid, day))
        return self._closed[(uid, day)]

    def _hourly(self, learn_from: pd.Timestamp, end: pd.Timestamp) -> dict[str, pd.DataFrame]:
        """Each center's stored hours from ``learn_from`` on (UTC): only those from the last
        call's ``end`` on, and older ones stored again since (corrections), are read; the
        others come from the state, trimmed to the window. Counts the late orders."""
        full = not self.incremental or self._read_from is None or self._read_from <= learn_from
        since = learn_from if full else self._read_from
        mark = q.hours_watermark(self.engine) if self.incremental else None  # read before the hours
        new = q.hourly_orders(self.engine, self.locales.timezone, since=since.to_pydatetime(), zones=self.locales.zones)
        fresh = _by_center(new)
        before = self._hours
        if full:
            self._hours = fresh
        else:
            fixes = self._corrections(learn_from, since)
            self._hours = {}
            for uid in set(before) | set(fresh) | set(fixes):
                kept = before.get(uid)
                kept = None if kept is None else kept[(kept["hour_utc"] >= learn_from) & (kept["hour_utc"] < since)]
                fix = fixes.get(uid)
                if kept is not None and fix is not None:
                    kept = kept[~kept["hour_utc"].isin(fix["hour_utc"])]
                parts = [p for p in (kept, fix, fresh.get(uid)) if p is not None and not p.empty]
                merged = pd.concat(parts, ignore_index=True) if parts else new.iloc[:0][[DS, Y, "hour_utc"]]
                self._hours[uid] = merged.sort_values("hour_utc", ignore_index=True)
        if self._learn_from is not None:
            self._count_late(before, max(self._learn_from, learn_from))
        self._read_from, self._learn_from, self._watermark = end, learn_from, mark or self._watermark
        return {u: g for u, g in self._hours.items() if not g.empty}

    def _corrections(self, learn_from: pd.Timestamp, before: pd.Timestamp) -> dict[str, pd.DataFrame]:
        """Hours in ``[learn_from, before)`` stored again since the last read."""
        if self._watermark is None:
            return {}
        after = pd.Timestamp(self._watermark) - WRITE_OVERLAP
        frame = q.hourly_corrections(
            self.engine, self.locales.timezone, after.to_pydatetime(), learn_from.to_pydatetime(),
            before.to_pydatetime(), zones=self.locales.zones,
        )
        return _by_center(frame)

    def _count_late(self, before: dict[str, pd.DataFrame], known_from: pd.Timestamp) -> None:
        """Add to :attr:`late` what changed, between ``before`` and the state now, in each
        center's judged hours from ``known_from`` on (a missing hour was judged as 0 orders)."""
        for uid, judged_until in self._fed_until.items():
            lo = max(self._judged_from.get(uid, judged_until), known_from)
            if lo >= judged_until:
                continue
            old, now = (
                _counts(frames.get(uid), lo, judged_until) for frames in (before, self._hours)
            )
            diff = now.sub(old, fill_value=0.0)
            diff = diff[diff != 0]
            if diff.empty:
                continue
            late = self.late.setdefault(uid, LateOrders())
            late.orders += float(diff.sum())
            late.hours += len(diff)
            late.newest = max(diff.index.max(), late.newest or diff.index.max())
            log.warning(
                "%s: %+.0f orders arrived for %d hour(s) the drift monitor had already judged (%s..%s UTC); "
                "they are not judged again but the learned profile uses them (late so far: %+.0f orders, %d hours; "
                "a longer settle_hours judges later and misses fewer)",
                uid, diff.sum(), len(diff), diff.index.min(), diff.index.max(), late.orders, late.hours,
            )

    def status(self) -> dict[str, dict]:
        """Per center: the hour judged up to (UTC, exclusive) and the late orders seen so far."""
        return {
            uid: {
                "judged_until": until,
                "late_orders": self.late.get(uid, LateOrders()).orders,
                "late_hours": self.late.get(uid, LateOrders()).hours,
            }
            for uid, until in sorted(self._fed_until.items())
        }

    def _handle(self, event: AlertEvent, now: datetime | None = None) -> None:
        """Store, log and send ``event``, stamped ``now`` (the clock's, simulated in the demo loop:
        the wall clock put a simulated March alert in December, after the retrain it caused)."""
        payload = alert_payload(event, utcnow(now))
        if event.test in SILENCE_TESTS:
            payload["message"] = silence_message(event)
        self.payloads.append(payload)
        try:
            store_alert(self.engine, payload)
        except Exception:  # the monitor has judged the hours: the alert must not be lost with the write
            log.exception("drift alert %s could not be stored; storing it again at the next run", event.alert_id)
            self.unstored.append(payload)
        log.warning("drift alert %s %s %s: %s", event.status, event.center_id, event.test, payload["message"])
        channels = []
        if self.publish is not None:
            channels.append(("forecast-alerts", lambda p, send=self.publish: send(event.center_id, p)))
        if self.webhook is not None:
            channels.append(("webhook", self.webhook))
        for name, send in channels:
            try:
                send(payload)
            except Exception:  # an outage of one channel loses nothing: the table has it
                log.exception("drift alert %s could not be sent through %s", event.alert_id, name)
        if event.status == OPEN and self.on_alert is not None and event.test not in SILENCE_TESTS:
            if self.silence.open_alert(event.center_id) is not None:  # a retrain would learn the silence
                log.warning("retrain for %s not triggered: no orders arrive from it (a silent feed, not demand)",
                            event.center_id)
                return
            if self.debounce.allow(event.center_id, event.window_end):
                self.on_alert(event.center_id)
            else:
                log.info("retrain for %s not triggered again within the debounce window", event.center_id)


    def _store_unstored(self) -> None:
        """Store the alert records an earlier run could not (in their order; stops at the first failure)."""
        while self.unstored:
            try:
                store_alert(self.engine, self.unstored[0])
            except Exception as exc:
                log.warning("%d drift alert(s) still not stored (%s); trying again at the next run",
                            len(self.unstored), " ".join(str(exc).split())[:200])
                return
            self.unstored.pop(0)


def open_alerts(engine: Engine) -> list[AlertEvent]:
    """The stored alerts of the hourly monitor that are still open."""
    cols = forecast_alerts.c
    stmt = select(forecast_alerts).where(cols.status == OPEN).order_by(cols.created_at)
    with engine.connect() as conn:
        rows = q.all_records(conn, stmt)  # a row holding a value its column's type cannot read is left out
    return [
        AlertEvent(
            alert_id=r["alert_id"],
            center_id=r["center_id"],
            status=OPEN,
            test=r["kind"],
            statistic=float(r["statistic"] or 0.0),
            threshold=float(r["threshold"] or 0.0),
            window_start=r["window_start"],
            window_end=r["window_end"],
            model_version=r["model_version"] or "",
            evidence=dict(r["evidence"] or {}),
        )
        for r in rows
    ]


def open_alert_centers(engine: Engine) -> list[str]:
    """Centers with an open alert of the hourly monitor (a silent feed is not a drift of demand)."""
    cols = forecast_alerts.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(cols.center_id).where(cols.status == OPEN, cols.kind.not_in(SILENCE_TESTS)).distinct()
        )
        return sorted(c for c in rows.scalars() if c != ALL_CENTERS)


def past_champions(engine: Engine) -> set[str]:
    """Runs that are or were champion (empty before the registry's first decision)."""
    with engine.connect() as conn:
        promoted = conn.execute(
            select(model_decisions.c.champion_run_id).where(model_decisions.c.promoted.is_(True))
        ).scalars()
        current = conn.execute(select(forecast_runs.c.run_id).where(forecast_runs.c.status == "champion")).scalars()
        return {r for r in (*promoted, *current) if r}


def store_alert(engine: Engine, payload: dict) -> None:
    """Insert an opened alert, or mark a stored one cleared (keyed by ``alert_id``)."""

    def naive(ts: datetime) -> datetime:
        return pd.Timestamp(ts).tz_localize(None).to_pydatetime() if ts.tzinfo else ts

    row = {
        "alert_id": payload["alert_id"],
        "created_at": naive(payload["created_at"]),
        "center_id": payload["center_id"],
        "day": payload["day"],
        "kind": payload["kind"],
        "message": payload["message"],
        "status": payload["status"],
        "statistic": payload["statistic"],
        "threshold": payload["threshold"],
        "window_start": naive(payload["window_start"]),
        "window_end": naive(payload["window_end"]),
        "model_version": payload["model_version"],
        "evidence": payload["evidence"],
        "cleared_at": naive(payload["created_at"]) if payload["status"] == CLEARED else None,
    }
    update = ["status", "cleared_at"] if payload["status"] == CLEARED else []
    with engine.begin() as conn:
        upsert(conn, forecast_alerts, [row], ["alert_id"], update=update)


def _by_center(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``unique_id -> ds, y, hour_utc`` of an :func:`fcplan.storage.queries.hourly_orders` frame."""
    return {str(u): g[[DS, Y, "hour_utc"]] for u, g in frame.groupby(UNIQUE_ID, sort=False)}


def _counts(frame: pd.DataFrame | None, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.Series:
    """Orders by UTC hour in ``[lo, hi)`` of a center's state frame."""
    if frame is None or frame.empty:
        return pd.Series(dtype="float64")
    rows = frame[(frame["hour_utc"] >= lo) & (frame["hour_utc"] < hi)]
    return rows.set_index("hour_utc")[Y].astype("float64")
