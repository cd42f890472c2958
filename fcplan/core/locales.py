"""Each center's clock and calendar: the time zone its days follow and its holiday country.

The retrainer builds every center's daily history in the center's own zone and flags
its own public holidays; the planner plans the same local days. One place says which
zone and country a center has (the centers file, see
:meth:`fcplan.planner.centers.Centers.locales`); a center it does not list takes the
defaults (``FCPLAN_TIMEZONE`` and ``FCPLAN_FORECAST_HOLIDAY_COUNTRY``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd


@dataclass(frozen=True)
class Locales:
    """Zones and holiday countries per center, with defaults for centers not listed.

    ``holiday_country`` None (or empty) means no holiday flags for those centers."""

    timezone: str
    holiday_country: str | None = None
    zones: Mapping[str, str] = field(default_factory=dict)
    countries: Mapping[str, str | None] = field(default_factory=dict)

    def zone(self, center: str) -> str:
        return self.zones.get(center, self.timezone)

    def country(self, center: str) -> str | None:
        return self.countries.get(center, self.holiday_country) or None

    def today(self, center: str, now: datetime) -> pd.Timestamp:
        """The center's local date at the tz-aware ``now`` (midnight, tz-naive)."""
        return pd.Timestamp(now).tz_convert(self.zone(center)).tz_localize(None).normalize()

    def by_zone(self, centers: Iterable[str]) -> dict[str, list[str]]:
        """``{zone: [centers]}`` of ``centers`` (each list sorted)."""
        return _group(centers, self.zone)

    def by_country(self, centers: Iterable[str]) -> dict[str | None, list[str]]:
        """``{country or None: [centers]}`` of ``centers`` (each list sorted)."""
        return _group(centers, self.country)


def _group(centers: Iterable[str], key: object) -> dict:
    out: dict = {}
    for center in sorted(set(centers)):
        out.setdefault(key(center), []).append(center)  # type: ignore[operator]
    return out
