"""A worker process beside this one, for work that runs on the second core while this
process does the rest (the engine's large panels). Started with ``forkserver``: no
fork of a process that may hold torch's threads."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def worker() -> ProcessPoolExecutor:
    """One worker process (use as a context manager, or ``shutdown()`` it)."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("forkserver"))
