"""A worker process beside this one, for work that runs on the second core while this
process does the rest (the engine's backtest, calibration windows and final fit). Started
with ``forkserver``: no fork of a process that may hold torch's threads.

The fork server imports :data:`PRELOAD` once (the statistical models, LightGBM): each worker
is then forked from it ready in milliseconds instead of importing them anew (about 1.5 s).
:func:`warm_up` starts the server early, so that those imports run on the other core while
this process works."""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext
from typing import Any

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
    "fcplan.models.worker_preload",  # last: freezes what the others imported (see its docstring)
)


log = logging.getLogger(__name__)

#: set once a worker process ended as it started (see :func:`_fall_back`): no more are started
_BROKEN: list[bool] = []

#: the exit status of a worker that found itself running the user's main script's top level
BOOTSTRAP_EXIT = 3


def _context() -> BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))  # takes effect when the server starts
    return context


def in_worker() -> bool:
    """Whether this process is a multiprocessing child, or the fork server importing a main
    script without a ``__main__`` guard (there no further workers are started)."""
    main = sys.modules.get("__main__")
    return multiprocessing.parent_process() is not None or getattr(main, "__name__", "") == "__mp_main__"


def usable() -> bool:
    """Whether this process may start worker processes: it is no worker itself, and none of its
    workers has ended as it started (:func:`_fall_back`)."""
    return not in_worker() and not _BROKEN


def bootstrapping() -> bool:
    """Whether this process is a worker re-running the main script's top level as it starts (the
    script has no ``if __name__ == "__main__":`` guard around its ``run_engine`` call)."""
    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


def leave_if_bootstrapping() -> None:
    """Called by the engine's entry points: in a worker that is re-running a script without a
    ``__main__`` guard, end the worker quietly (the parent then does the work itself, see
    :func:`_fall_back`) instead of running the whole engine again there, or failing on
    multiprocessing's "An attempt has been made to start a new process before ..."."""
    if bootstrapping():
        raise SystemExit(BOOTSTRAP_EXIT)


def _fall_back(exc: BaseException) -> None:
    """A worker process ended abruptly: say so once and start no more (the caller does the work
    in this process; what it computes is the same, only on one core)."""
    if not _BROKEN:
        _BROKEN.append(True)
        log.warning(
            "a worker process ended abruptly (%s); running on in this process, on one core. If this is a "
            "script calling run_engine or run_backtest at its top level, each worker process runs it again "
            "as it starts: put the call under `if __name__ == \"__main__\":` to use a second core",
            exc.__class__.__name__,
        )


def warm_up() -> None:
    """Start the fork server now (it imports :data:`PRELOAD` in its own process)."""
    _context()
    from multiprocessing import forkserver

    forkserver.ensure_running()


def _exit_with_parent() -> None:
    """Run in each worker as it starts: a thread that ends the worker once the process that
    started it is gone. A ``fcplan forecast`` killed by SIGTERM or SIGKILL (``kill PID``, a demo
    ending its retrain child) left its worker blocked for good on a task or a full result pipe,
    and with it the fork server and the resource tracker: three processes and ~0.5 GB that
    outlived it. Ctrl-C reaches the worker too (same process group), so it needed no help."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the parent's end of the pipe closes: it exited or was killed
        os._exit(1)

    threading.Thread(target=watch, name="fcplan-parent-watch", daemon=True).start()


def worker() -> ProcessPoolExecutor:
    """One worker process (use as a context manager, or ``shutdown()`` it); it ends with this process."""
    return ProcessPoolExecutor(max_workers=1, mp_context=_context(), initializer=_exit_with_parent)


class Submitted:
    """``pool.submit(fn, *args)`` made from a thread, so that this process goes on with its own
    share of the work at once: starting a worker process waits for the fork server, which
    answers only once it has imported :data:`PRELOAD` (about 1.5 s for the first worker of a
    run, time this process would otherwise sit idle). :meth:`result` waits for the result
    (or raises the worker's error); the caller shuts ``pool`` down afterwards as before."""

    def __init__(self, pool: ProcessPoolExecutor, fn: Callable[..., Any], *args: Any) -> None:
        self._pool, self._fn, self._args = pool, fn, args
        self._outcome: list[Any] = []
        self._thread = threading.Thread(target=self._submit, args=(fn, args), name="fcplan-submit", daemon=True)
        self._thread.start()

    def _submit(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self._outcome.append(self._pool.submit(fn, *args))
        except BaseException as exc:  # handed to the caller by result()
            self._outcome.append(exc)

    def result(self) -> Any:
        self._thread.join()
        outcome = self._outcome[0]
        try:
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome.result()
        except BrokenProcessPool as exc:  # the worker died (a script without a __main__ guard): here instead
            _fall_back(exc)
            return self._fn(*self._args)


#: what a :class:`Shared` worker process was given once: its function and the arguments after the item
_SHARED: list[Any] = []


def _keep(fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    _exit_with_parent()
    _SHARED[:] = [fn, args]


def _call_shared(item: Any) -> Any:
    fn, args = _SHARED
    return fn(item, *args)


class Shared:
    """``fn(item, *args)`` for each of ``items``, shared between a worker process and this one: a
    thread hands the worker the first item not yet taken, one at a time, while this process works
    on its own share; :meth:`results` then takes the items left, first come first served, until
    none is (list scheduling: neither process idles while the other has a queue). Give ``items``
    costliest first. ``args`` (the panel, the windows) travel to the worker once, when it starts.
    Only where each item runs depends on the timing, never what it computes."""

    def __init__(self, fn: Callable[..., Any], items: Sequence[Any], *args: Any) -> None:
        self._fn, self._args, self._n, self._items = fn, args, len(items), list(items)
        self._queue = deque(enumerate(items))
        self._lock = threading.Lock()
        self._done: dict[int, Any] = {}
        self._error: BaseException | None = None
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=_context(), initializer=_keep,
                                         initargs=(fn, args))
        self._thread = threading.Thread(target=self._feed, name="fcplan-shared", daemon=True)
        self._thread.start()

    def _take(self) -> tuple[int, Any] | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def _feed(self) -> None:
        try:
            while (job := self._take()) is not None:
                i, item = job
                self._done[i] = self._pool.submit(_call_shared, item).result()
        except BaseException as exc:  # handed to the caller by results()
            self._error = exc

    def results(self) -> list[Any]:
        """Every item's result, in the order of ``items``, once this process has run the items the
        worker did not take (or raises the worker's error)."""
        try:
            while (job := self._take()) is not None:
                i, item = job
                self._done[i] = self._fn(item, *self._args)
            self._thread.join()
        finally:
            self._pool.shutdown()
        if isinstance(self._error, BrokenProcessPool):  # the worker died: its items (and the one it held) here
            _fall_back(self._error)
            for i, item in enumerate(self._items):
                if i not in self._done:
                    self._done[i] = self._fn(item, *self._args)
        elif self._error is not None:
            raise self._error
        return [self._done[i] for i in range(self._n)]
