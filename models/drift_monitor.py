"""The hourly drift monitor: arriving actuals against the champion's quantiles.

Feed it each center's hourly order counts in time order
(:meth:`DriftMonitor.observe`), with the champion's daily quantiles for that
hour's local day and the center's learned intraday profile. It runs two CUSUMs
per center (rates up by ``theta``, down by ``1/theta``: see
:mod:`fcplan.models.sequential`) and returns alert events: ``open`` when a statistic
crosses the threshold, ``cleared`` once every statistic has stayed below
``clear_fraction * threshold`` for ``clear_hours`` hours in a row (hysteresis).
A new model version (a retrain) restarts the center's statistics; an open alert
then clears once the new champion has fitted the actuals for ``clear_hours``.
Rolling coverage and wQL of the last complete days ride along as evidence.

State lives in the object (one per process); it holds a few numbers per center.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd

from fcplan.models.metrics import wql
from fcplan.models.sequential import change_llr, day_distribution, partial_pit, threshold_for

OPEN, CLEARED = "open", "cleared"
UP, DOWN = "cusum_up", "cusum_down"


@dataclass(frozen=True)
class AlertEvent:
    """One step of an alert's life. ``window_start``/``window_end``: local hours of
    the evidence (the estimated change hour to the end of the newest hour)."""

    alert_id: str
    center_id: str
    status: str
    test: str
    statistic: float
    threshold: float
    window_start: datetime
    window_end: datetime
    model_version: str
    evidence: dict


def alert_id(center_id: str, test: str, window_start: datetime) -> str:
    """A fixed-length id (32 hex characters) whatever the center id's length."""
    return hashlib.sha1(f"{center_id}|{test}|{window_start:%Y%m%dT%H}".encode()).hexdigest()[:32]


@dataclass
class _Center:
    model_version: str
    day: date | None = None
    x_cum: list[float] = field(default_factory=lambda: [0.0])
    m_cum: list[float] = field(default_factory=lambda: [0.0])
    hours: list[datetime] = field(default_factory=list)
    carry: np.ndarray = field(default_factory=lambda: np.zeros(2))
    carry_start: list[datetime | None] = field(default_factory=lambda: [None, None])
    stat: np.ndarray = field(default_factory=lambda: np.zeros(2))
    start: list[datetime | None] = field(default_factory=lambda: [None, None])
    day_quantiles: dict[float, float] = field(default_factory=dict)
    dist: tuple[float, float] = (0.0, 1.0)
    last_hour: datetime | None = None
    alert: AlertEvent | None = None
    quiet_hours: int = 0
    history: deque = field(default_factory=lambda: deque(maxlen=28))


class DriftMonitor:
    """Per-center CUSUMs on hourly actuals; see the module docstring."""

    def __init__(
        self,
        theta: float = 1.3,
        false_alarms_per_year: float = 1.0,
        clear_fraction: float = 0.5,
        clear_hours: int = 24,
        rolling_days: int = 14,
    ) -> None:
        if theta <= 1:
            raise ValueError(f"theta is the relative rise to detect and must be > 1 (e.g. 1.3); got {theta}")
        self.thetas = np.array([theta, 1.0 / theta])
        self.threshold = threshold_for(false_alarms_per_year, len(self.thetas))
        self.clear_fraction = clear_fraction
        self.clear_hours = clear_hours
        self.rolling_days = rolling_days
        self._centers: dict[str, _Center] = {}

    def reset(self, center_id: str, model_version: str) -> None:
        """Restart the center's statistics under a new champion; an open alert stays open
        until it clears."""
        old = self._centers.get(center_id)
        fresh = _Center(model_version)
        if old is not None:
            fresh.alert, fresh.history, fresh.last_hour = old.alert, old.history, old.last_hour
        self._centers[center_id] = fresh

    def restore(self, alert: AlertEvent) -> None:
        """Take back an alert opened before a restart, so that it is not opened twice and
        clears by the usual rule."""
        if alert.center_id not in self._centers:
            self._centers[alert.center_id] = _Center(alert.model_version)
        self._centers[alert.center_id].alert = alert

    def statistic(self, center_id: str) -> float:
        """The larger of the center's two CUSUM statistics now (0 if unseen)."""
        state = self._centers.get(center_id)
        return float(state.stat.max()) if state else 0.0

    def open_alert(self, center_id: str) -> AlertEvent | None:
        state = self._centers.get(center_id)
        return state.alert if state else None

    def observe(
        self,
        center_id: str,
        hour: datetime,
        count: float,
        quantiles: Mapping[float, float],
        shares: np.ndarray,
        model_version: str,
    ) -> list[AlertEvent]:
        """Take the orders of one local hour (``hour``: tz-naive local hour start).

        ``quantiles``: the champion's forecast for the hour's local day, level ->
        orders (any set of levels); ``shares``: the 24 local-hour shares of the
        center's intraday profile. Hours must come in order; an hour at or before
        the last one seen is ignored. Returns the alert events it caused.
        """
        state = self._centers.get(center_id)
        if state is None or state.model_version != model_version:
            self.reset(center_id, model_version)
            state = self._centers[center_id]
        hour = pd.Timestamp(hour).to_pydatetime()
        if state.last_hour is not None and hour <= state.last_hour:
            return []
        state.last_hour = hour
        if hour.date() != state.day:
            self._start_day(state, hour.date(), quantiles)
        mean, shape = state.dist
        state.x_cum.append(state.x_cum[-1] + float(count))
        state.m_cum.append(state.m_cum[-1] + mean * float(shares[hour.hour]))
        state.hours.append(hour)
        x_cum, m_cum = np.array(state.x_cum), np.array(state.m_cum)
        for k, theta in enumerate(self.thetas):
            llr = change_llr(x_cum, m_cum, shape, float(theta))
            llr[0] += state.carry[k]
            best = int(np.argmax(llr))
            state.stat[k] = llr[best]
            state.start[k] = state.carry_start[k] if best == 0 and state.carry[k] > 0 else state.hours[best]
        return self._lifecycle(center_id, state, hour)

    def _start_day(self, state: _Center, day: date, quantiles: Mapping[float, float]) -> None:
        if state.day is not None and len(state.x_cum) > 1:
            if state.day_quantiles:
                state.history.append((state.x_cum[-1], state.day_quantiles))
            state.carry = np.maximum(state.stat, 0.0)
            state.carry_start = [s if c > 0 else None for s, c in zip(state.start, state.carry, strict=True)]
        levels = sorted(quantiles)
        state.day = day
        state.x_cum, state.m_cum, state.hours = [0.0], [0.0], []
        state.day_quantiles = {q: float(quantiles[q]) for q in levels}
        state.dist = day_distribution(levels, [quantiles[q] for q in levels])

    def _lifecycle(self, center_id: str, state: _Center, hour: datetime) -> list[AlertEvent]:
        k = int(np.argmax(state.stat))
        statistic = float(state.stat[k])
        test = UP if k == 0 else DOWN
        if state.alert is None:
            if statistic <= self.threshold:
                return []
            state.alert = self._event(center_id, state, hour, OPEN, test, k)
            state.quiet_hours = 0
            return [state.alert]
        state.quiet_hours = state.quiet_hours + 1 if statistic < self.clear_fraction * self.threshold else 0
        if state.quiet_hours < self.clear_hours:
            return []
        opened = state.alert
        state.alert = None
        cleared = self._event(center_id, state, hour, CLEARED, opened.test, 0 if opened.test == UP else 1)
        return [
            AlertEvent(
                **{
                    **cleared.__dict__,
                    "alert_id": opened.alert_id,
                    "window_start": opened.window_start,
                }
            )
        ]

    def _event(self, center_id: str, state: _Center, hour: datetime, status: str, test: str, k: int) -> AlertEvent:
        start = state.start[k] or hour
        mean, shape = state.dist
        expected, actual = state.m_cum[-1], state.x_cum[-1]
        evidence = {
            "theta": float(self.thetas[k]),
            "orders_today": actual,
            "expected_today": round(expected, 2),
            "ratio_today": round(actual / expected, 4) if expected > 0 else None,
            "pit_today": round(partial_pit(actual, expected, shape), 4),
            "day_mean": round(mean, 2),
            "day_shape": round(shape, 2),
            **self._rolling(state),
        }
        return AlertEvent(
            alert_id=alert_id(center_id, test, start),
            center_id=center_id,
            status=status,
            test=test,
            statistic=round(float(state.stat[k]), 4),
            threshold=round(self.threshold, 4),
            window_start=start,
            window_end=hour + pd.Timedelta(hours=1),
            model_version=state.model_version,
            evidence=evidence,
        )

    def _rolling(self, state: _Center) -> dict:
        """Coverage of the widest central band and wQL over the last complete days."""
        recent = list(state.history)[-self.rolling_days :]
        if not recent:
            return {"rolling_days": 0}
        levels = sorted(recent[-1][1])
        actual = np.array([a for a, _ in recent])
        pred = np.array([[qs.get(q, np.nan) for q in levels] for _, qs in recent])
        out = {"rolling_days": len(recent), "rolling_wql": round(wql(actual, pred, levels), 4)}
        if len(levels) >= 2:
            lo, hi = pred[:, 0], pred[:, -1]
            out["rolling_coverage"] = round(float(np.mean((actual >= lo) & (actual <= hi))), 4)
            out["band"] = [levels[0], levels[-1]]
        return out


def alert_message(event: AlertEvent) -> str:
    """One line for people: what moved, how far, since when."""
    direction = "above" if event.test == UP else "below"
    if event.status == CLEARED:
        return f"{event.center_id}: orders back in line with model {event.model_version}; alert cleared"
    ratio = event.evidence.get("ratio_today")
    today = f" (today so far {ratio:.0%} of forecast)" if ratio is not None else ""
    return (
        f"{event.center_id}: orders {direction} the forecast since {event.window_start:%a %d %b %H:00}{today}; "
        f"CUSUM {event.statistic:.1f} > {event.threshold:.1f}: retrain triggered"
    )


def alert_payload(event: AlertEvent, created_at: datetime) -> dict:
    """The event as the ``forecast-alerts`` record (``fcplan.core.contracts.ForecastAlert``) fields."""
    return {
        "center_id": event.center_id,
        "day": event.window_end.date(),
        "kind": event.test,
        "message": alert_message(event),
        "created_at": created_at,
        **{k: getattr(event, k) for k in ("alert_id", "status", "statistic", "threshold", "model_version")},
        "window_start": event.window_start,
        "window_end": event.window_end,
        "evidence": event.evidence,
    }
