"""A worker process of :mod:`fcplan.models.workers` ends when the process that started it is killed.

``kill PID`` (SIGTERM) of a running ``fcplan forecast``, or the demo's SIGKILL of its retrain child,
left the worker blocked for good on its task, and with it the fork server and the resource tracker
(three processes, ~0.5 GB, found by i29-probe). Ctrl-C reaches the whole process group and was fine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = """
import os, time
from fcplan.models.workers import {how}
{body}
time.sleep(600)
"""
WORKER = "pool = worker()\nprint(pool.submit(os.getpid).result(), flush=True)\npool.submit(time.sleep, 600)"


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" not in status.read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_when_the_parent_is_killed_then_its_busy_worker_ends(sig: int) -> None:
    code = SCRIPT.format(how="worker", body=WORKER)
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    pid = 0
    try:
        pid = int(parent.stdout.readline())
        assert _alive(pid)
        parent.send_signal(sig)
        parent.wait(timeout=60)
        deadline = time.monotonic() + 60  # a deadline to stop waiting, not a speed claim
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(pid), "the worker outlived the process that started it"
    finally:
        parent.kill()
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)
