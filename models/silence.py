"""Silence watch: hours without a single order where the forecast says orders were near-certain.

The drift monitor (:mod:`fcplan.models.drift_monitor`) tests the level of the
orders against the forecast; a feed that went silent (a center's orders stop
arriving, or all of them because the producer upstream died) looks to it like
a fall of demand and needed about three days to cross its alarm level. This
watch asks the one question a silent feed raises: how likely is a run of hours
with zero orders this long *under the forecast*?

Within a local day the forecast's orders are a Poisson process whose day
level ``lam`` is uncertain: ``lam`` is log-normal with the day's mean and the
day-level noise of the forecast's quantiles (``1 / shape`` =
``cv2``, as :func:`fcplan.models.sequential.day_distribution` reads them), and
the hours share it by the learned intraday profile. The probability that the
hours of share ``S`` in one day are all empty is ``E[exp(-lam * S)]``
(Gauss-Hermite over ``log lam``); days are independent, so a run over several
days multiplies them. Night hours (share ~0), closed days and hours (the
centers file's ``closed_weekdays``, ``closed_dates``, holidays: ``closed``
flags them) and days the forecast itself expects to be empty (a low mean, a
wide lower tail) add almost nothing, so they never alarm; a busy center's
first empty business hours do. The alarm opens when the run's log probability
falls below ``log_alpha`` and clears at the first order.

All centers silent together is one more event (``feed_silent``, center
:data:`ALL_CENTERS`): the order feed, not a center, stopped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd

from fcplan.core.contracts import ALL_CENTERS, FEED_SILENT, SILENCE_ALPHA
from fcplan.core.contracts import SILENT_CENTER as SILENT
from fcplan.models.drift_monitor import CLEARED, OPEN, AlertEvent, alert_id

__all__ = ["ALL_CENTERS", "FEED_SILENT", "SILENCE_TESTS", "SILENT", "SilenceWatch", "log_p_empty", "silence_message"]

SILENCE_TESTS = (SILENT, FEED_SILENT)
#: Default alarm level: the run of empty hours must have had under this chance under the forecast.
ALPHA = SILENCE_ALPHA
#: The whole-feed event needs at least two centers whose empty runs each had under this chance.
FEED_EACH = 0.05
#: Hours of each center's empty run the whole-feed test can look back on.
FEED_WINDOW_HOURS = 14 * 24

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(48)
_LOG_WEIGHTS = np.log(_WEIGHTS / _WEIGHTS.sum())


def log_p_empty(mean: float, shape: float, share: float) -> float:
    """``log P(no order in hours of total share ``share`` of a day)`` when the day's orders
    are Poisson with a log-normal level of mean ``mean`` and squared CV ``1 / shape``."""
    expected = mean * share
    if expected <= 0:
        return 0.0
    sigma2 = float(np.log1p(1.0 / shape)) if np.isfinite(shape) and shape > 0 else 0.0
    if sigma2 < 1e-12:
        return -expected
    levels = np.log(expected) - sigma2 / 2 + np.sqrt(sigma2) * _NODES  # log(lam * share) at each node
    terms = _LOG_WEIGHTS - np.exp(levels)
    top = terms.max()
    return float(top + np.log(np.exp(terms - top).sum()))


@dataclass
class _Run:
    start: datetime | None = None  # the run's first empty hour (local)
    start_at: datetime | None = None  # the same hour on the feed's one clock (UTC in the drift loop)
    hours: int = 0  # empty hours in the run (closed ones included)
    done_log_p: float = 0.0  # log probability of the run's days before today
    expected_done: float = 0.0  # orders the forecast expected in those days' empty hours
    day: date | None = None
    share: float = 0.0  # today's share of the run's open hours
    mean: float = 0.0
    shape: float = 1.0
    #: the run's last :data:`FEED_WINDOW_HOURS` hours: ``(local hour, hour on the feed's clock, share counted,
    #: day mean, day shape)``
    recent: deque = field(default_factory=lambda: deque(maxlen=FEED_WINDOW_HOURS))

    def log_p_since(self, start: datetime) -> float:
        """Log probability of the run's hours from ``start`` on (on the feed's clock, within the kept
        window) under the forecast."""
        days: dict[date, list[float]] = {}
        for hour, at, share, mean, shape in self.recent:
            if at >= start:
                days.setdefault(hour.date(), [0.0, mean, shape])[0] += share
        return sum(log_p_empty(mean, shape, share) for share, mean, shape in days.values())

    @property
    def log_p(self) -> float:
        return self.done_log_p + log_p_empty(self.mean, self.shape, self.share)

    @property
    def expected(self) -> float:
        return self.expected_done + self.mean * self.share


@dataclass
class _State:
    run: _Run = field(default_factory=_Run)
    alert: AlertEvent | None = None
    last_hour: datetime | None = None
    closed: bool = False  # the center was closed at its last hour


class SilenceWatch:
    """Per-center runs of empty hours against the forecast; see the module docstring.

    ``log_alpha``: the alarm level (log probability of the run under the forecast)."""

    def __init__(self, log_alpha: float = float(np.log(ALPHA))) -> None:
        if not log_alpha < 0:
            raise ValueError(f"log_alpha is a log probability and must be < 0 (e.g. {np.log(ALPHA):.1f}); "
                             f"got {log_alpha}")
        self.log_alpha = log_alpha
        self._centers: dict[str, _State] = {}
        self.feed_alert: AlertEvent | None = None

    def open_alert(self, center_id: str) -> AlertEvent | None:
        state = self._centers.get(center_id)
        return state.alert if state else None

    def restore(self, alert: AlertEvent) -> None:
        """Take back an alert opened before a restart: it clears at the center's next order."""
        if alert.test == FEED_SILENT:
            self.feed_alert = alert
            return
        state = self._centers.setdefault(alert.center_id, _State())
        state.alert = alert
        state.run.start = alert.window_start

    def observe(
        self,
        center_id: str,
        hour: datetime,
        count: float,
        day: tuple[float, float],
        share: float,
        model_version: str,
        closed: bool = False,
        at: datetime | None = None,
    ) -> list[AlertEvent]:
        """Take one local hour (tz-naive hour start) of a center: ``count`` orders, ``day`` the
        forecast's ``(mean, shape)`` for the hour's local day, ``share`` the hour's share of the
        intraday profile, ``closed`` whether the center is closed then (adds nothing to the run),
        ``at`` the same hour on one clock for every center (tz-naive UTC; default ``hour``, for
        centers in one zone): :meth:`feed` lines the centers' runs up on it.
        Hours at or before the last one seen are ignored."""
        state = self._centers.setdefault(center_id, _State())
        hour = pd.Timestamp(hour).to_pydatetime()
        at = hour if at is None else pd.Timestamp(at).to_pydatetime()
        if state.last_hour is not None and hour <= state.last_hour:
            return []
        state.last_hour, state.closed = hour, closed
        if count > 0:
            state.run = _Run()
            if state.alert is None:
                return []
            opened, state.alert = state.alert, None
            return [_event(opened, CLEARED, hour, opened.evidence)]
        run = state.run
        if run.start is None:
            run.start = hour
        if run.start_at is None:
            run.start_at = at
        run.hours += 1
        if run.day != hour.date():
            if run.day is not None:
                run.done_log_p, run.expected_done = run.log_p, run.expected
            run.day, run.share = hour.date(), 0.0
            run.mean, run.shape = day
        if not closed:
            run.share += share
        run.recent.append((hour, at, 0.0 if closed else share, run.mean, run.shape))
        if state.alert is not None or run.log_p >= self.log_alpha:
            return []
        state.alert = AlertEvent(
            alert_id=alert_id(center_id, SILENT, run.start),
            center_id=center_id,
            status=OPEN,
            test=SILENT,
            statistic=round(run.log_p / np.log(10), 4),
            threshold=round(self.log_alpha / np.log(10), 4),
            window_start=run.start,
            window_end=hour + pd.Timedelta(hours=1),
            model_version=model_version,
            evidence={"empty_hours": run.hours, "expected_orders": round(run.expected, 2),
                      "log10_chance": round(run.log_p / np.log(10), 2)},
        )
        return [state.alert]

    def feed(self, centers: list[str], hour: datetime) -> list[AlertEvent]:
        """After an hour of every center: the whole-feed event, open while every one of ``centers``
        is in an empty run and, over the hours since the last order of any of them, all being empty
        is less likely than ``log_alpha`` under the forecast (centers independent) with at least two
        of them each unusual (chance under :data:`FEED_EACH`): a quiet small center adds its evidence
        without having to alarm alone, and one silent center among quiet ones is not the feed.
        ``hour`` and the alert's window are on the feed's clock (``at`` of :meth:`observe`: UTC in
        the drift loop). Cleared when one has orders again."""
        hour = pd.Timestamp(hour).to_pydatetime()
        states = [self._centers.get(c, _State()) for c in centers]
        empty = len(states) >= 2 and all(s.run.hours and s.run.start_at is not None for s in states)
        silent, logs = False, []
        if empty and self.feed_alert is None:
            # the feed is silent since the last order of any center, on one clock: the local hours of
            # centers in different zones are not comparable (Seoul's 13:00 is Los Angeles' 21:00 the day before)
            start = max(s.run.start_at for s in states)
            logs = [s.run.log_p_since(start) for s in states]
            silent = sum(logs) < self.log_alpha and sum(lp < np.log(FEED_EACH) for lp in logs) >= 2
        if silent and self.feed_alert is None:
            self.feed_alert = AlertEvent(
                alert_id=alert_id(ALL_CENTERS, FEED_SILENT, start),
                center_id=ALL_CENTERS,
                status=OPEN,
                test=FEED_SILENT,
                statistic=round(sum(logs) / np.log(10), 4),
                threshold=round(self.log_alpha / np.log(10), 4),
                window_start=start,
                window_end=hour + pd.Timedelta(hours=1),
                model_version="",
                evidence={"centers": len(centers)},
            )
            return [self.feed_alert]
        # a center's orders again (not a weaker sum); an hour that judged fewer than two centers (their
        # forecast missing, nothing settled) is no order and leaves the alert open (it was cleared, then opened again)
        if self.feed_alert is not None and any(not s.run.hours for s in states):
            opened_feed, self.feed_alert = self.feed_alert, None
            return [_event(opened_feed, CLEARED, hour, opened_feed.evidence)]
        return []


def _event(opened: AlertEvent, status: str, hour: datetime, evidence: dict) -> AlertEvent:
    return AlertEvent(**{**opened.__dict__, "status": status, "window_end": hour + pd.Timedelta(hours=1),
                         "evidence": evidence})


def silence_message(event: AlertEvent) -> str:
    """One line for people: which feed went quiet, since when, how unlikely that is."""
    who = "no center" if event.test == FEED_SILENT else event.center_id
    if event.status == CLEARED:
        return ("orders arriving again from at least one center; feed alert cleared" if event.test == FEED_SILENT
                else f"{event.center_id}: orders arriving again; silence alert cleared")
    if event.test == FEED_SILENT:
        return (f"no orders from any of the {event.evidence.get('centers')} centers since "
                f"{event.window_start:%a %d %b %H:00} UTC: the order feed has stopped (the producer upstream, the "
                "broker or the worker); check the stream health page")
    expected = event.evidence.get("expected_orders", 0.0)
    hours = event.evidence.get("empty_hours", 0)
    return (f"{who}: no orders since {event.window_start:%a %d %b %H:00} ({hours} hour{'' if hours == 1 else 's'}) "
            f"though the forecast expected about {expected:.0f} (chance 1e{event.statistic:.0f} under the "
            "forecast): check this center's order feed before trusting its plan")
