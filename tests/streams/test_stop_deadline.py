"""A worker's graceful stop has a deadline: past it the process exits, logging where it
was stuck and killing its orders writer, so no stop hangs for good."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from fcplan.streams.stop_deadline import STOP_TIMEOUT_EXIT, StopDeadline


def test_when_armed_then_it_expires_once_with_its_timeout():
    expired: list[float] = []
    done = threading.Event()
    deadline = StopDeadline(0.05, lambda t: (expired.append(t), done.set()))
    assert not deadline.armed
    deadline.arm()
    deadline.arm()  # a second signal does not start a second clock
    assert done.wait(10)
    assert expired == [0.05]


def test_when_cancelled_before_it_expires_then_nothing_happens():
    expired = threading.Event()
    deadline = StopDeadline(0.2, lambda t: expired.set())
    deadline.arm()
    deadline.cancel()
    assert not expired.wait(0.6)


def test_when_never_armed_then_it_never_expires():
    expired = threading.Event()
    StopDeadline(0.01, lambda t: expired.set())
    assert not expired.wait(0.3)


# A process stuck in its stop, with an orders writer child: the deadline ends both.
STUCK = textwrap.dedent(
    """
    import asyncio, sys, time
    from fcplan.streams.order_writer import OrderWriter
    from fcplan.streams.stop_deadline import StopDeadline
    from fcplan.streams.validation import Limits

    async def main():
        async with OrderWriter(sys.argv[1], Limits()) as writer:
            print("writer", writer._process.pid, flush=True)
            StopDeadline(0.5).arm()
            time.sleep(120)  # a stop that blocks everything, the event loop too

    asyncio.run(main())
    """
)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.integration
def test_when_a_stop_hangs_past_its_deadline_then_the_process_exits_and_its_writer_is_killed(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", STUCK, f"sqlite:///{tmp_path / 'fcplan.db'}"],
        capture_output=True, text=True, timeout=100,
    )
    assert done.returncode == STOP_TIMEOUT_EXIT, done.stderr[-3000:]
    assert "still stopping 0.5 s" in done.stderr and " in main" in done.stderr, done.stderr[-3000:]
    writer = int(done.stdout.split()[1])
    assert not _alive(writer), "the orders writer outlived its worker"



@pytest.mark.integration
@pytest.mark.slow
def test_a_worker_arms_its_stop_deadline_on_sigterm(stack):
    # A deadline shorter than any real stop: the worker must end by it, with the log saying so.
    worker = stack.start_worker(FCPLAN_STREAMS_STOP_TIMEOUT_S="0.01")
    stack.wait_for("the worker joined the orders group", lambda: bool(worker.orders_partitions()), True, timeout_s=90)
    assert worker.terminate(timeout_s=60) == STOP_TIMEOUT_EXIT, worker.tail()
    assert "still stopping 0.01 s after the signal" in worker.log()
