"""The loop in simulated time (``fcplan demo --headless --simulate-days 60 --speed 2000``).

One :class:`fcplan.core.clock.SimulatedClock` drives everything, hour by hour: the
simulator's hourly orders are stored as they complete, the drift monitor judges
them against the champion every hour, the retrainer runs daily at a local time
(and, debounced, when an alert opens), each retrain ends with a logged
champion/challenger decision, and a plan is made from the champion. No broker:
the simulator writes hourly counts where the worker would (``center_hourly``),
so weeks run in minutes. ``speed=0`` runs as fast as the work allows; a
positive speed paces the clock (simulated seconds per wall second) so the
dashboard can watch it. ``shifts`` inject demand changes (``--shift``).

The simulator's promotion calendar drives the demand uplift of the simulated
hours, and each promotion is stored as the worker would store it from the
``promotions`` topic when it is announced (and again when cancelled), so the
retrainer's promotion regressors and the dashboard see what was known then.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

import pandas as pd
from sqlalchemy import Engine

from fcplan.app.simulate import LOOKAHEAD, promotion_events
from fcplan.app.simulated_centers import simulation_locales
from fcplan.core.clock import SimulatedClock, local_today
from fcplan.core.contracts import Promotion
from fcplan.core.locales import Locales
from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.core.settings import ForecastSettings, Settings
from fcplan.core.webhook import Webhook
from fcplan.models.drift_loop import DriftLoop
from fcplan.models.drift_monitor import OPEN
from fcplan.models.retrain import retrain
from fcplan.models.schedule import DEFAULT_RETRAIN_AT, daily_due
from fcplan.planner.centers import configured_centers, configured_locales
from fcplan.planner.runner import make_plan
from fcplan.simulator import make_centers, make_promotions
from fcplan.simulator.hourly import sample_hourly_counts
from fcplan.simulator.shifts import Shift
from fcplan.storage import upsert, utcnow
from fcplan.storage.schema import center_hourly, clock_state
from fcplan.streams.sink import count_promotions, store_promotions
from fcplan.streams.validation import UNWRITABLE

log = logging.getLogger(__name__)

#: A light pool: a daily retrain of 5 centers takes about a second; the count GLM is sharp on the simulator.
SIMULATED_MODELS = ("seasonal_naive", "glm")


@dataclass(frozen=True)
class LoopConfig:
    days: int = 60
    speed: float = 0.0
    centers: int = 5
    scale: float = 0.5
    seed: int = 7
    history_days: int = 56
    start: datetime | None = None  # tz-aware local midnight; default: today's, in the settings' zone
    shifts: tuple[Shift, ...] = ()
    retrain_at: clock_time = DEFAULT_RETRAIN_AT
    debounce_hours: float = 6.0
    models: tuple[str, ...] = SIMULATED_MODELS


@dataclass
class LoopSummary:
    days: int = 0
    daily_retrains: int = 0
    triggered_retrains: int = 0
    failed_retrains: int = 0
    failed_plans: int = 0  # plans that raised after their retrain (the plan in force stayed)
    failed_drift_checks: int = 0  # hours whose drift check raised (judged at the next hour)
    decisions: list[str] = field(default_factory=list)
    decision_kinds: list[str] = field(default_factory=list)  # what each rested on (Decision.kind)
    promotions: int = 0
    plans: int = 0
    promotions_stored: int = 0  # promotion versions (announcements, cancellations) stored
    alerts_opened: list[str] = field(default_factory=list)
    alerts_cleared: list[str] = field(default_factory=list)
    late_orders: dict[str, float] = field(default_factory=dict)  # per center: arrived after its hour was judged
    wall_seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "simulated_days": self.days,
            "daily_retrains": self.daily_retrains,
            "triggered_retrains": self.triggered_retrains,
            "failed_retrains": self.failed_retrains,
            "failed_plans": self.failed_plans,
            "failed_drift_checks": self.failed_drift_checks,
            "decisions": len(self.decisions),
            "champion_changes": self.promotions,
            "decisions_by_kind": dict(sorted(Counter(self.decision_kinds).items())),
            "plans": self.plans,
            "promotions_stored": self.promotions_stored,
            "alerts_opened": self.alerts_opened,
            "alerts_cleared": self.alerts_cleared,
            "late_orders": self.late_orders,
            "wall_seconds": round(self.wall_seconds, 1),
        }


def store_hours(engine: Engine, hourly: pd.DataFrame, tz: str) -> None:
    """Hourly counts (``unique_id, ds`` local hour in ``tz`` or tz-aware, ``y``) into
    ``center_hourly``, as the worker would."""
    if hourly.empty:
        return
    ds = hourly[DS]
    if ds.dt.tz is None:
        ds = ds.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    utc = ds.dt.tz_convert("UTC").dt.tz_localize(None)
    now = utcnow()
    rows = [
        {
            "center_id": u,
            "hour": h.to_pydatetime(),
            "orders": int(y),
            "lines": int(y),
            "units": int(y),
            "updated_at": now,
        }
        for u, h, y in zip(hourly[UNIQUE_ID], utc, hourly[Y], strict=True)
        if not pd.isna(h)
    ]
    with engine.begin() as conn:
        upsert(conn, center_hourly, rows, ["center_id", "hour"])


class SimulatedLoop:
    def __init__(self, settings: Settings, engine: Engine, cfg: LoopConfig, say: Callable[[str], None] = print) -> None:
        self.settings, self.engine, self.cfg, self.say = settings, engine, cfg, say
        self.tz = settings.timezone
        start = cfg.start or pd.Timestamp.now(tz=self.tz).normalize().to_pydatetime()
        self.start = pd.Timestamp(start).tz_convert(self.tz)
        self.clock = SimulatedClock(self.start.to_pydatetime(), speed=0)
        self.centers = make_centers(cfg.centers, seed=cfg.seed, scale=cfg.scale)
        self.locales = simulation_locales(settings)  # each center's own clock when a centers file says so
        history_start = self.start - pd.Timedelta(days=cfg.history_days)
        self.promotions = make_promotions(
            self.centers, history_start, self.start + pd.Timedelta(days=cfg.days) + LOOKAHEAD, seed=cfg.seed,
            tz=self.tz, locales=self.locales,
        )
        self._promotion_events = promotion_events(self.promotions)  # announcements and cancellations, in time
        self.forecast_cfg: ForecastSettings = settings.forecast.model_copy(update={"models": cfg.models})
        self._alerted: set[str] = set()
        self._failures = 0  # retrains failed in a row: the next try waits 1, 2, 4 ... 24 hours
        self._retry_at = self.start.to_pydatetime()
        url = settings.forecast.alert_webhook
        self.webhook = Webhook(url) if url else None
        self.drift = DriftLoop(
            engine,
            configured_locales(settings),  # each center's local hours and days
            closed=configured_centers(settings).closed_on,  # closed days: empty hours there are no silent feed
            webhook=self.webhook.send if self.webhook else None,
            on_alert=self._alerted.add,
            debounce_hours=cfg.debounce_hours,
            backfill_hours=24,
        )
        self.summary = LoopSummary()

    def _counts(self, lo: pd.Timestamp, hi: pd.Timestamp, whole_first_day: bool = False) -> pd.DataFrame:
        """Hourly counts (``ds`` UTC) of the hours in the instants ``[lo, hi)``: each
        center's local days around them are drawn whole (the same draws in any window).
        ``whole_first_day``: each center starts at its own local midnight of ``lo``'s date
        (a history's first day is whole in every zone)."""
        pad = pd.Timedelta(days=1) if self.locales is not None else pd.Timedelta(0)
        counts = sample_hourly_counts(
            self.centers, self.promotions, (lo - pad).tz_localize(None), (hi + pad).tz_localize(None), self.cfg.seed,
            self.tz,
            self.cfg.shifts, locales=self.locales, utc=True,
        )
        first = lo
        if whole_first_day and self.locales is not None:
            day = lo.tz_localize(None).normalize()
            first = counts[UNIQUE_ID].map({c.center_id: day.tz_localize(self.locales.zone(c.center_id))
                                           for c in self.centers})
        return counts[(counts[DS] >= first) & (counts[DS] < hi)]

    def run(self) -> LoopSummary:
        started = time.perf_counter()
        history_start = self.start - pd.Timedelta(days=self.cfg.history_days)
        store_hours(self.engine, self._counts(history_start, self.start, whole_first_day=True), self.tz)
        self._store_promotions_until(self.start)
        self.say(f"backfilled {self.cfg.history_days} days of hourly orders for {len(self.centers)} centers "
                 f"and {self.summary.promotions_stored} promotion announcements")
        last_daily = None
        for day in range(self.cfg.days):
            day_start, day_end = self._local_midnight(day), self._local_midnight(day + 1)
            hours = self._counts(day_start, day_end)
            for hour in sorted(hours[DS].unique()):
                self._pace()
                store_hours(self.engine, hours[hours[DS] == hour], self.tz)
                now = self.clock.advance(timedelta(hours=1))
                self._store_promotions_until(now)
                self._publish_clock(now)
                for event in self._drift_check(now):
                    label = f"{event.center_id} {event.test} at {event.window_end:%Y-%m-%d %H:00}"
                    (self.summary.alerts_opened if event.status == OPEN else self.summary.alerts_cleared).append(label)
                    self.say(f"alert {event.status}: {label}")
                due = daily_due(now, self.tz, last_daily, self.cfg.retrain_at)
                # a failed daily retrain stays due (and a triggered one keeps its alerts): tried again
                ran = (due or self._alerted) and now >= self._retry_at and self._retrain(now, triggered=not due)
                if ran and due:
                    last_daily = local_today(self.clock, self.tz)
            self.summary.days = day + 1
        if self.webhook is not None:
            self.webhook.close()
        self.summary.late_orders = {c: late.orders for c, late in sorted(self.drift.late.items())}
        self.summary.wall_seconds = time.perf_counter() - started
        return self.summary

    def _local_midnight(self, day: int) -> pd.Timestamp:
        """The start's local time (midnight) ``day`` calendar days on: 24 hours after a local
        midnight is 23:00 or 01:00 on a day the clocks change (the 25-hour autumn day drew
        no hours at all, and the loop lost its days)."""
        date = self.start.tz_localize(None) + pd.Timedelta(days=day)
        return date.tz_localize(self.tz, ambiguous=True, nonexistent="shift_forward")

    def _drift_check(self, now: datetime) -> list:
        """The drift monitor's events for the hours settled by ``now``; a failing check (a database
        error, a damaged row) is logged and the loop goes on: its hours are read again next hour."""
        try:
            return self.drift.run_once(now)
        except Exception as exc:
            log.exception("drift check failed at %s", now)
            self.say(f"drift check failed ({exc}); the loop goes on and tries again next hour")
            self.summary.failed_drift_checks += 1
            return []

    def _store_promotions_until(self, moment: datetime) -> None:
        """Store the promotion versions announced (or cancelled) by ``moment``, as the worker would."""
        due = []
        while self._promotion_events and self._promotion_events[0][0] <= moment:
            due.append(Promotion.model_validate(self._promotion_events.pop(0)[2]))
        if due:
            stored = store_promotions(self.engine, due)
            count_promotions(self.engine, len(due), {k: UNWRITABLE for k, _ in stored.unwritable})
            self.summary.promotions_stored += stored.stored

    def _publish_clock(self, now: datetime) -> None:
        """Store the simulated now: the dashboard's "today" follows it."""
        row = {"name": "simulated", "now": now.astimezone(UTC).replace(tzinfo=None), "updated_at": utcnow()}
        with self.engine.begin() as conn:
            upsert(conn, clock_state, [row], ["name"])

    def _pace(self) -> None:
        if self.cfg.speed > 0:
            time.sleep(3600.0 / self.cfg.speed)

    def _retrain(self, now: datetime, triggered: bool) -> bool:
        """One retrain and its plan; False when the retrain failed (tried again after a backoff)."""
        alerted = tuple(sorted(self._alerted))
        self._alerted.clear()
        try:
            result = retrain(self.engine, self.forecast_cfg, self.tz, now=now, alerted_centers=alerted, drift_hours=0,
                             locales=configured_locales(self.settings))
        except Exception as exc:  # one failed retrain must not end the loop: the champion stays
            log.exception("retrain failed at %s", now)
            self._alerted.update(alerted)  # the alerts that asked for it still do
            self._failures += 1
            wait = timedelta(hours=min(2 ** (self._failures - 1), 24))
            self._retry_at = now + wait
            again = pd.Timestamp(self._retry_at).tz_convert(self.tz)
            self.say(f"retrain failed ({exc}); the champion stays, the loop goes on and tries again at "
                     f"{again:%Y-%m-%d %H:%M}")
            self.summary.failed_retrains += 1
            return False
        self._failures = 0
        if result.run_id is None:
            self.say(f"retrain skipped: {result.message}")
            return True
        if triggered:
            self.summary.triggered_retrains += 1
        else:
            self.summary.daily_retrains += 1
        reason = result.message.split("registry: ", 1)[-1]
        self.summary.decisions.append(reason)
        self.summary.decision_kinds.append(result.decision)
        self.summary.promotions += not reason.startswith("champion kept")
        try:
            centers = configured_centers(self.settings)
            plan = make_plan(self.engine, self.settings.planner, self.tz, now=now, centers=centers)
        except Exception as exc:  # e.g. a forecast of absurd scale: the plan in force stays, the loop goes on
            log.exception("plan failed at %s", now)
            self.say(f"plan failed ({exc}); the plan in force stays, the loop goes on")
            self.summary.failed_plans += 1
        else:
            self.summary.plans += plan.plan_id is not None
        local = pd.Timestamp(now).tz_convert(self.tz)
        kind = f"triggered by alerts on {list(alerted)}" if triggered else "daily"
        self.say(f"{local:%Y-%m-%d %H:%M} retrain ({kind}): {reason}")
        return True


def run_simulated_loop(
    settings: Settings, engine: Engine, cfg: LoopConfig, say: Callable[[str], None] = print
) -> LoopSummary:
    return SimulatedLoop(settings, engine, cfg, say).run()


def shifts_from_specs(specs: Sequence[str], tz: str, locales: Locales | None = None) -> tuple[Shift, ...]:
    """``--shift CENTER:+40%@DAY``: the day is the center's local one (its zone in ``locales``, else ``tz``)."""
    from fcplan.simulator.shifts import parse_shift

    return tuple(parse_shift(s, tz, locales) for s in specs)
