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


@pytest.fixture(scope="session")
def seeded_copy(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path, SeedSpec], dict]:
    """``seeded_copy(path, spec)``: the database :func:`seed_database` writes for ``spec``, at
    ``path``; seeded once per spec (and hour: the seed is relative to the clock), then copied."""
    import copy
    import sqlite3
    from contextlib import closing

    import pandas as pd

    folder = tmp_path_factory.mktemp("seeded")
    seeded: dict[tuple, tuple[Path, dict]] = {}

    def seed(path: Path, spec: SeedSpec) -> dict:
        now = pd.Timestamp.now("UTC")
        days = tuple(now.tz_convert(z).date() for z in (spec.tz, *spec.zones.values()))
        key = (repr(spec), now.floor("h"), days)
        if key not in seeded:
            template = folder / f"seeded{len(seeded)}.db"
            seeded[key] = (template, seed_database(f"sqlite:///{template}", spec))
        template, written = seeded[key]
        with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(path)) as target:
            source.backup(target)
        return copy.deepcopy(written)

    return seed


@pytest.fixture
def make_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seeded_copy: Callable[[Path, SeedSpec], dict]
) -> Callable[..., tuple[str, dict]]:
    """Factory: a SQLite database in ``tmp_path`` (seeded unless ``empty``; keyword arguments
    are :class:`SeedSpec` fields), set as the dashboard's URL."""

    def make(empty: bool = False, **kwargs: object) -> tuple[str, dict]:
        path = tmp_path / ("empty.db" if empty else "seeded.db")
        url = f"sqlite:///{path}"
        monkeypatch.setenv("FCPLAN_DATABASE_URL", url)
        monkeypatch.setenv("FCPLAN_TIMEZONE", TZ)
        spec = SeedSpec(**{"centers": CENTERS, "tz": TZ, **DEFAULTS, **kwargs})  # type: ignore[arg-type]
        if empty:  # the schema the worker creates, with no rows (a missing file is another state)
            from fcplan.storage import make_engine

            make_engine(url).dispose()
        written = {} if empty else seeded_copy(path, spec)
        return url, written

    st.cache_data.clear()
    return make
