"""Factories for the dashboard tests: a SQLite database seeded through the schema tables
(:mod:`fcplan.app.seed_db`, no model fitted)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import streamlit as st

from fcplan.app.seed_db import SeedSpec, seed_database

TZ = "Asia/Seoul"
CENTERS = ("FC-ICN", "FC-PUS")
#: What the seeded tests see unless they ask otherwise: a week of daily runs before the
#: champion, and a challenger expecting 30% more orders at the first center.
DEFAULTS: dict[str, object] = {"past_runs": 7, "challenger_lift": 1.3}


@pytest.fixture
def make_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[str, dict]]:
    """Factory: a SQLite database in ``tmp_path`` (seeded unless ``empty``; keyword arguments
    are :class:`SeedSpec` fields), set as the dashboard's URL."""

    def make(empty: bool = False, **kwargs: object) -> tuple[str, dict]:
        url = f"sqlite:///{tmp_path / ('empty.db' if empty else 'seeded.db')}"
        monkeypatch.setenv("FCPLAN_DATABASE_URL", url)
        monkeypatch.setenv("FCPLAN_TIMEZONE", TZ)
        spec = SeedSpec(**{"centers": CENTERS, "tz": TZ, **DEFAULTS, **kwargs})  # type: ignore[arg-type]
        written = {} if empty else seed_database(url, spec)
        return url, written

    st.cache_data.clear()
    return make
