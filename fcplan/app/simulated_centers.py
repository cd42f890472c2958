"""Which clock each simulated center follows, shared by ``fcplan simulate`` and the simulated loop."""

from __future__ import annotations

from fcplan.core.locales import Locales
from fcplan.core.settings import Settings
from fcplan.planner.centers import configured_locales


def simulation_locales(settings: Settings) -> Locales | None:
    """The centers file's zones and holiday countries for the simulated centers, or
    None without a centers file (``FCPLAN_PLANNER_CENTERS_FILE``): every center in
    ``FCPLAN_TIMEZONE`` with Korean holidays, exactly the single-zone simulation."""
    return configured_locales(settings) if settings.planner.centers_file else None
