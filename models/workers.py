"""A worker process beside this one, for work that runs on the second core while this
process does the rest (the engine's backtest, calibration windows and final fit). Started
with ``forkserver``: no fork of a process that may hold torch's threads.

The fork server imports :data:`PRELOAD` once (the statistical models, LightGBM): each worker
is then forked from it ready in milliseconds instead of importing them anew (about 1.5 s).
:func:`warm_up` starts the server early, so that those imports run on the other core while
this process works."""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext

#: Modules the fork server imports once for all workers (torch is not among them: the
#: networks train in the main process). ``__main__`` as multiprocessing's default has it.
PRELOAD = (
    "__main__",
    "fcplan.models.engine",
    "fcplan.models.stats",
    "fcplan.models.glm",
    "fcplan.models.lgbm",
    "lightgbm",
    "statsmodels.tsa.statespace.sarimax",
    "statsmodels.tsa.exponential_smoothing.ets",
    "statsmodels.tsa.forecasting.theta",
)


def _context() -> BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))  # takes effect when the server starts
    return context


def in_worker() -> bool:
    """Whether this process is a multiprocessing child, or the fork server importing a main
    script without a ``__main__`` guard (there no further workers are started)."""
    main = sys.modules.get("__main__")
    return multiprocessing.parent_process() is not None or getattr(main, "__name__", "") == "__mp_main__"


def warm_up() -> None:
    """Start the fork server now (it imports :data:`PRELOAD` in its own process)."""
    _context()
    from multiprocessing import forkserver

    forkserver.ensure_running()


def worker() -> ProcessPoolExecutor:
    """One worker process (use as a context manager, or ``shutdown()`` it)."""
    return ProcessPoolExecutor(max_workers=1, mp_context=_context())
