"""Children started through fcplan.procs.spawn die with their parent, even by SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from fcplan.app import procs

linux_only = pytest.mark.skipif(not procs.parent_death_supported(), reason="PR_SET_PDEATHSIG is Linux-only")

# A parent that starts `sleep` through spawn (from the main thread, or from a thread
# that ends at once), prints the child's pid and waits to be killed.
PARENT = textwrap.dedent(
    """
    import sys, threading, time
    from fcplan.app.procs import spawn

    pids = []
    def start():
        pids.append(spawn(["sleep", "300"]).pid)

    if sys.argv[1] == "thread":
        t = threading.Thread(target=start)
        t.start()
        t.join()  # the thread that asked for the child is gone now
    else:
        start()
    print(pids[0], flush=True)
    time.sleep(300)
    """
)


def wait_until(condition, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def start_parent(mode: str) -> tuple[subprocess.Popen, int]:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, mode], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    line = parent.stdout.readline()
    assert line.strip().isdigit(), f"the parent printed {line!r}"
    return parent, int(line)


@linux_only
@pytest.mark.parametrize("mode", ["main", "thread"])
def test_when_the_parent_is_killed_with_sigkill_then_its_child_dies_too(mode: str, proc_tree) -> None:
    alive = proc_tree.alive
    parent, child = start_parent(mode)
    try:
        assert alive(child), "the child did not start"
        if mode == "thread":
            # The asking thread has ended: the child must outlive it (it was forked by the spawner thread).
            assert alive(child), "the child died with the thread that asked for it, not with its process"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert wait_until(lambda: not alive(child)), f"child {child} outlived its SIGKILLed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if alive(child):
            os.kill(child, signal.SIGKILL)


def test_when_prctl_is_missing_then_spawn_is_plain_popen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(procs, "_PRCTL", None)
    assert procs.die_with_parent() is None
    assert not procs.parent_death_supported()
    with procs.spawn([sys.executable, "-c", "print('ok')"], stdout=subprocess.PIPE, text=True) as proc:
        out, _ = proc.communicate()
    assert proc.returncode == 0 and out.strip() == "ok"


def test_spawn_refuses_a_preexec_fn_of_its_own() -> None:
    with pytest.raises(TypeError, match="preexec_fn"):
        procs.spawn(["true"], preexec_fn=lambda: None)
