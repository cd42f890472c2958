"""Starting the dashboard (``fcplan dashboard``, ``fcplan demo``, the browser test's server) and
the demo's broker on a port another process takes between the check and the bind: a picked
port is picked again, a port the user set fails naming it and the setting to change."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fcplan.app import broker as broker_mod
from fcplan.app import dashboard_server
from fcplan.app import demo as demo_mod
from fcplan.app.broker import PortTaken, port_is_free

pytestmark = pytest.mark.integration

#: A stand-in for Streamlit: binds the port (argv[1]) and listens, or exits 1 as Streamlit
#: does ("Port N is not available") when the bind fails.
SERVER = """
import socket, sys, time
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    print(f"Port {sys.argv[1]} is not available", flush=True)
    sys.exit(1)
s.listen(1)
time.sleep(60)
"""


@pytest.fixture
def taken_at_the_bind(monkeypatch: pytest.MonkeyPatch, occupied_port: int) -> int:
    """Stage the race: ``occupied_port`` looks free when first checked (and is the first one
    picked), but another process holds it when the server binds it, and after."""
    real_is_free, real_free_port = broker_mod.port_is_free, broker_mod.free_port
    handed: list[int] = []
    checked: list[int] = []

    def racy_free_port(host: str = "127.0.0.1") -> int:
        handed.append(occupied_port if not handed else real_free_port(host))
        return handed[-1]

    def looks_free(host: str, port: int) -> bool:
        checked.append(port)
        return checked.count(occupied_port) == 1 if port == occupied_port else real_is_free(host, port)

    for module in (broker_mod, dashboard_server, demo_mod):  # where the old and the new code look them up
        monkeypatch.setattr(module, "free_port", racy_free_port, raising=False)
        monkeypatch.setattr(module, "port_is_free", looks_free, raising=False)
    return occupied_port


def fake_server(started: list[subprocess.Popen]):
    def launch(port: int) -> subprocess.Popen:
        started.append(subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdout=subprocess.DEVNULL))
        return started[-1]

    return launch


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_a_picked_port_taken_at_the_bind_is_picked_again(taken_at_the_bind: int) -> None:
    started: list[subprocess.Popen] = []
    try:
        proc, port = dashboard_server.start(fake_server(started), None, prefer=None, host="127.0.0.1")
        assert port != taken_at_the_bind and len(started) == 2
        assert started[0].returncode == 1 and proc is started[1] and proc.poll() is None
        assert broker_mod.listens(proc.pid, port)
    finally:
        stop(started)


def test_the_preferred_port_taken_at_the_bind_is_replaced_by_a_free_one(taken_at_the_bind: int) -> None:
    started: list[subprocess.Popen] = []
    try:
        _, port = dashboard_server.start(fake_server(started), None, prefer=taken_at_the_bind, host="127.0.0.1")
        assert port != taken_at_the_bind and started[0].args[-1] == str(taken_at_the_bind)
    finally:
        stop(started)


def test_a_port_the_user_set_taken_at_the_bind_fails_naming_it_and_the_option(taken_at_the_bind: int) -> None:
    started: list[subprocess.Popen] = []
    try:
        with pytest.raises(PortTaken, match=f"port {taken_at_the_bind} is taken: .* --port$"):
            dashboard_server.start(fake_server(started), taken_at_the_bind, host="127.0.0.1")
        assert len(started) == 1  # no other port was tried
    finally:
        stop(started)


def test_a_server_that_exits_for_another_reason_is_not_taken_for_a_taken_port() -> None:
    def launch(port: int) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])

    with pytest.raises(dashboard_server.DashboardStartError, match="exited with code 3 before it listened"):
        dashboard_server.start(launch, None, prefer=None, host="127.0.0.1")


def test_serve_starts_streamlit_on_another_port_when_the_picked_one_is_taken_at_the_bind(
    taken_at_the_bind: int, tmp_path: Path
) -> None:
    """The old serve() picked one port and failed when another process bound it first."""
    with dashboard_server.serve(f"sqlite:///{tmp_path / 'empty.db'}", log=tmp_path / "dashboard.log") as base:
        assert not base.endswith(f":{taken_at_the_bind}")
    assert f"Port {taken_at_the_bind} is not available" in (tmp_path / "dashboard.log").read_text()


def test_fcplan_dashboard_on_a_port_taken_at_the_bind_says_which_and_what_to_change(
    taken_at_the_bind: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from fcplan.app.cli import app

    monkeypatch.setenv("FCPLAN_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    out = CliRunner().invoke(app, ["dashboard", "--port", str(taken_at_the_bind)])
    assert out.exit_code == 1, out.output
    assert f"port {taken_at_the_bind} is taken" in out.output and "--port" in out.output, out.output


def _demo_on(settings, tmp_path: Path):
    from fcplan.app.demo import Demo, DemoConfig

    demo = Demo(settings, DemoConfig(headless=True, log_dir=tmp_path / "logs"))
    demo.said = []  # type: ignore[attr-defined]
    demo.say = demo.said.append  # type: ignore[method-assign]
    return demo


def test_the_demos_default_broker_port_taken_at_the_bind_is_replaced_by_a_free_one(
    taken_at_the_bind: int, settings_factory, tmp_path: Path
) -> None:
    settings = settings_factory(kafka={"broker_port": taken_at_the_bind})
    settings.kafka.model_fields_set.discard("broker_port")  # as if left to its default (9092)
    demo = _demo_on(settings, tmp_path)
    try:
        servers = demo._start_broker()
        assert not servers.endswith(f":{taken_at_the_bind}") and not port_is_free("127.0.0.1", demo.broker.port)
        assert f"port {taken_at_the_bind} is taken; the embedded broker uses {demo.broker.port} instead" in demo.said
    finally:
        demo.broker.stop()


def test_the_demos_broker_port_the_user_set_taken_at_the_bind_stops_it_naming_the_setting(
    taken_at_the_bind: int, settings_factory, tmp_path: Path
) -> None:
    from fcplan.app.demo import DemoError

    demo = _demo_on(settings_factory(kafka={"broker_port": taken_at_the_bind}), tmp_path)
    with pytest.raises(DemoError, match=f"port {taken_at_the_bind} .*FCPLAN_KAFKA_BROKER_PORT.* is taken") as info:
        demo._start_broker()
    assert "--port" not in str(info.value)  # the demo's --port is the dashboard's
    assert demo.broker.process is None
