"""Child processes that end when their parent dies, even by SIGKILL.

:func:`spawn` is :class:`subprocess.Popen` with Linux's ``PR_SET_PDEATHSIG``
set in the child before it runs its program: when the parent goes, for any
reason, the kernel sends the child ``SIGKILL``. Where ``prctl`` does not exist
(macOS, Windows) it is plain ``Popen``.

The kernel sends the signal when the *thread* that forked the child ends, not
the process. So a spawn from any thread but the main one is handed to one
long-lived spawner thread, which lives as long as the process.

A child's own children are its business: each program that starts processes
must arrange for them to stop (``fcplan`` programs use :func:`spawn` too; the
orders writer stops when its socket to the worker closes).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1

_spawner: ThreadPoolExecutor | None = None
_spawner_lock = threading.Lock()


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    prctl = getattr(libc, "prctl", None)
    if prctl is not None:
        prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _load_prctl()


def parent_death_supported() -> bool:
    """True where children can be told to die with their parent (Linux)."""
    return _PRCTL is not None


def die_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive ``sig`` when this process's
    current thread ends; None where that is not supported.

    The parent may die between ``fork`` and ``prctl``; the child then finds
    itself adopted and sends itself ``sig`` at once.
    """
    prctl = _PRCTL
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return preexec


def _spawner_thread() -> ThreadPoolExecutor:
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fcplan-spawner")
        return _spawner


def spawn(args: list[str], **popen_kwargs: Any) -> subprocess.Popen:
    """``subprocess.Popen(args, **popen_kwargs)`` for a child that dies with this process.

    Takes every ``Popen`` argument except ``preexec_fn``.
    """
    if "preexec_fn" in popen_kwargs:
        raise TypeError("spawn sets preexec_fn itself; call subprocess.Popen for a custom one")
    if threading.current_thread() is threading.main_thread() or _PRCTL is None:
        return subprocess.Popen(args, preexec_fn=die_with_parent(), **popen_kwargs)
    # The spawner thread forks, so the child outlives the calling thread but not the process.
    return _spawner_thread().submit(
        lambda: subprocess.Popen(args, preexec_fn=die_with_parent(), **popen_kwargs)
    ).result()

