"""Shared fixtures: a real embedded broker, real databases, settings factories.

Integration tests use the embedded Tansu broker (memory-only, started once per
session on a free port) and real databases: SQLite files in tmp_path and the
PostgreSQL server on 127.0.0.1:5432, where each test gets a database of its own
(``pg_url``).
"""

from __future__ import annotations

import contextlib
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
    from fcplan.app.broker import EmbeddedBroker
    from fcplan.streams.topics import ensure_topics

    with EmbeddedBroker() as running:
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


class ProcTree:
    """Reads /proc: which processes live, which are below a pid, which share a session."""

    @staticmethod
    def _fields(pid: int) -> list[str] | None:
        """``state ppid pgrp session ...`` of ``pid`` (None when it is gone)."""
        try:
            stat = Path(f"/proc/{pid}/stat").read_text(errors="replace")
        except OSError:
            return None
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'
        return stat.rsplit(")", 1)[1].split()

    def pids(self) -> list[int]:
        return [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]

    def alive(self, pid: int) -> bool:
        """Running; a zombie waiting for its reaper counts as gone."""
        fields = self._fields(pid)
        return fields is not None and fields[0] != "Z"

    def descendants(self, root: int) -> set[int]:
        """Every live process below ``root`` (by parent links)."""
        parents = {pid: int(f[1]) for pid in self.pids() if (f := self._fields(pid)) and f[0] != "Z"}
        found, frontier = set(), {root}
        while frontier:
            frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
            found |= frontier
        return found

    def session(self, pid: int) -> int | None:
        fields = self._fields(pid)
        return None if fields is None else int(fields[3])

    def in_sessions(self, sessions: set[int]) -> set[int]:
        """Live processes whose session is one of ``sessions``."""
        return {
            pid for pid in self.pids() if (f := self._fields(pid)) and f[0] != "Z" and int(f[3]) in sessions
        }

    def sigkill_leftovers(self, proc: Any, ports: tuple[int, ...] = (), within_s: float = 30.0) -> list[str]:
        """SIGKILL ``proc`` (a Popen); what is left ``within_s`` seconds later: a process of its
        tree or of its children's sessions still alive, or one of ``ports`` still held. Kills
        the leftovers before returning them. Returns as soon as nothing is left: ``within_s`` is
        generous (it was 5 s) because some go on their own only after a step of their own, e.g.
        the worker's writer after the batch it is writing, slow on a loaded machine."""
        import signal
        import time

        from fcplan.app.broker import port_is_free

        tree = self.descendants(proc.pid)
        sessions = {s for pid in tree if (s := self.session(pid)) is not None} - {os.getsid(0)}
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

        def left() -> list[str]:
            pids = {p for p in tree if self.alive(p)} | self.in_sessions(sessions)
            held = [f"port {port} still held" for port in ports if not port_is_free("0.0.0.0", port)]
            return [f"{p}: {self.cmdline(p)}" for p in sorted(pids)] + held

        deadline = time.monotonic() + within_s
        while (found := left()) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.kill({p for p in tree if self.alive(p)} | self.in_sessions(sessions))
        return found

    def kill(self, pids: set[int]) -> None:
        """SIGKILL what a failed test left behind (so that one failure does not slow the rest)."""
        import signal

        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def cmdline(self, pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/cmdline").read_text(errors="replace").replace("\x00", " ").strip()
        except OSError:
            return ""


@pytest.fixture
def proc_tree() -> ProcTree:
    return ProcTree()
