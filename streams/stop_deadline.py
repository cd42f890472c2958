"""A deadline on a worker's graceful stop.

After SIGTERM or SIGINT the worker stops its agents, lets the orders writer finish
the batch it is writing and leaves its consumer groups. Each step is bounded, but
the steps belong to three libraries (faust, aiokafka, mode); if the stop as a whole
still takes longer than ``timeout_s``, this ends the process: it logs where every
thread was waiting, kills the orders writer (its batch rolls back) and exits with
:data:`STOP_TIMEOUT_EXIT`. Nothing is lost: offsets are committed only after their
batch was written, so what was in flight is read again by whoever takes the
partitions over, and the idempotent sink absorbs the overlap.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import sys
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

#: The exit code of a worker that did not stop within its deadline.
STOP_TIMEOUT_EXIT = 3


class StopDeadline:
    """Calls ``on_expire(timeout_s)`` from a daemon thread unless :meth:`cancel` came
    first, ``timeout_s`` after the first :meth:`arm` (later calls change nothing)."""

    def __init__(self, timeout_s: float, on_expire: Callable[[float], None] | None = None) -> None:
        self.timeout_s = timeout_s
        self.on_expire = on_expire or force_exit
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def arm(self) -> None:
        with self._lock:
            if self._timer is None:
                self._timer = threading.Timer(self.timeout_s, self.on_expire, args=(self.timeout_s,))
                self._timer.daemon = True
                self._timer.name = "fcplan-stop-deadline"
                self._timer.start()

    @property
    def armed(self) -> bool:
        return self._timer is not None

    def cancel(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()


def force_exit(timeout_s: float) -> None:
    """Log where the process is stuck, kill its orders writers and exit at once."""
    from fcplan.streams.order_writer import kill_writers

    log.error(
        "worker: still stopping %g s after the signal; exiting now (code %d). Nothing is lost: "
        "uncommitted batches are read again. Where each thread was waiting:", timeout_s, STOP_TIMEOUT_EXIT,
    )
    try:
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stdout.flush()
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        kill_writers()
    finally:
        os._exit(STOP_TIMEOUT_EXIT)
