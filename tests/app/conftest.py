"""Fixtures of the app tests."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

CENTERS = Path(__file__).resolve().parents[2] / "centers.example.toml"


@pytest.fixture
def centers_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding the example ``centers.toml``, with no ``FCPLAN_`` variables set."""
    for var in [v for v in os.environ if v.startswith("FCPLAN_")]:
        monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    shutil.copy(CENTERS, tmp_path / "centers.toml")
    return tmp_path


@pytest.fixture
def here(centers_dir: Path) -> Path:
    """The folder the offline-plan tests run in (``centers_dir``: its centers.toml, the cwd)."""
    return centers_dir


@pytest.fixture
def occupied_port() -> Iterator[int]:
    """A port this process listens on (taken, for the code under test)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])
