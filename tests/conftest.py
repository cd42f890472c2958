"""Shared fixtures: a real embedded broker, real databases, settings factories.

Integration tests use the embedded Tansu broker (memory-only, started once per
session on a free port) and real databases: SQLite files in tmp_path and the
PostgreSQL server on 127.0.0.1:5432, where each test gets a database of its own
(``pg_url``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

PG_ADMIN_URL = os.environ.get("FCPLAN_TEST_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")


def _pg_available() -> bool:
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def broker() -> Iterator[Any]:
    """A running embedded broker with fcplan's topics; yields it (``.bootstrap``)."""
    from fcplan.app.broker import EmbeddedBroker, free_port
    from fcplan.streams.topics import ensure_topics

    with EmbeddedBroker(port=free_port()) as running:
        ensure_topics(running.bootstrap, partitions=4)
        yield running


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fcplan.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}; CI must test against it")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
    import sqlalchemy as sa

    name = f"fcplan_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fcplan.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def settings_factory() -> Callable[..., Any]:
    """Build a Settings object from keyword overrides of its sections, e.g.
    ``settings_factory(database={"url": u}, kafka={"bootstrap": b})``."""
    from fcplan.core.settings import Settings

    def make(**sections: Any) -> Settings:
        return Settings.model_validate(sections)

    return make
