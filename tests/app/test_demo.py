"""The demo keeps going through failures: children restarted with backoff, failed
cycles tried again, a database outage waited out; a settings error still stops it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from fcplan.app import demo as demo_mod
from fcplan.app.demo import Demo, DemoConfig, DemoError


@pytest.fixture
def make_demo(tmp_path: Path, settings_factory, monkeypatch: pytest.MonkeyPatch):
    """A Demo whose restarts wait 0 s and whose messages are collected (``demo.said``)."""
    monkeypatch.setattr(demo_mod, "RESTART_FIRST_S", 0.0)

    def make(**cfg: object) -> Demo:
        settings = settings_factory(database={"url": f"sqlite:///{tmp_path / 'demo.db'}"})
        demo = Demo(settings, DemoConfig(headless=True, log_dir=tmp_path / "logs", **cfg))
        demo.said = []  # type: ignore[attr-defined]
        monkeypatch.setattr(demo, "say", demo.said.append)
        return demo

    return make


def exits_with(code: int):
    """A child start function: a process that exits with ``code``; counts its starts."""
    starts: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])
        starts.append(proc)
        return proc

    return start, starts


def settle(demo: Demo, starts: list[subprocess.Popen]) -> None:
    for proc in starts:
        proc.wait(timeout=30)
    demo._check_children()


def test_when_a_child_exits_then_it_is_restarted_and_the_demo_goes_on(make_demo) -> None:
    demo = make_demo()
    start, starts = exits_with(1)
    demo._add("worker", start)
    for _ in range(3):
        settle(demo, starts)  # notices the exit, schedules a restart
        demo._check_children()  # the (0 s) backoff has passed: starts it again
    assert len(starts) == 4, demo.said
    assert sum("the worker process exited with code 1; restarting it in" in m for m in demo.said) == 3
    assert demo.said.count("restarted the worker process") == 3


def test_restarts_back_off_exponentially_up_to_a_cap(make_demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_mod, "RESTART_FIRST_S", 1.0)
    demo = make_demo()
    start, starts = exits_with(1)
    child = demo._add("simulator", start)
    for _ in range(9):
        settle(demo, starts)
        child.restart_at = 0.0  # pretend the wait is over
        demo._check_children()
    delays = [int(m) for m in re.findall(r"restarting it in (\d+)s", "\n".join(demo.said))]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60], demo.said


def test_when_a_child_exits_with_a_settings_error_then_the_demo_stops_and_says_so(make_demo) -> None:
    demo = make_demo()
    start, starts = exits_with(2)
    demo._add("worker", start)
    starts[0].wait(timeout=30)
    with pytest.raises(DemoError, match=r"worker process exited with code 2 \(a bad setting"):
        demo._check_children()


def test_when_a_restart_itself_fails_then_it_is_tried_again_later(make_demo) -> None:
    demo = make_demo()
    start, starts = exits_with(1)
    attempts = []

    def flaky() -> subprocess.Popen:
        attempts.append(1)
        if len(attempts) in (2, 3):
            raise OSError("no more processes")
        return start()

    demo._add("worker", flaky)
    for _ in range(3):
        settle(demo, starts)
        demo._check_children()
    assert len(attempts) >= 4 and len(starts) >= 2, demo.said
    assert any("could not restart the worker process: no more processes" in m for m in demo.said)


def test_when_cycles_fail_then_they_are_tried_again_sooner_until_a_plan_is_stored(
    make_demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = make_demo(exit_after_plan=True, retrain_every_s=120.0, timeout_s=10_000)
    outcomes = iter([False, False, False, True])
    waits: list[float] = []
    monkeypatch.setattr(demo, "_cycle", lambda env: next(outcomes))
    monkeypatch.setattr(demo, "_sleep", waits.append)
    monkeypatch.setattr(demo, "_summary", lambda engine: None)
    assert demo._plan_loop({}, engine=None) == 0
    assert waits == [5.0, 10.0, 20.0]
    assert any(m.startswith("first plan stored") for m in demo.said)


def test_after_a_plan_a_failed_cycle_does_not_stop_the_loop(make_demo, monkeypatch: pytest.MonkeyPatch) -> None:
    demo = make_demo(retrain_every_s=120.0)
    outcomes = iter([True, False, True])
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            demo.stopping.set()

    monkeypatch.setattr(demo, "_cycle", lambda env: next(outcomes))
    monkeypatch.setattr(demo, "_sleep", sleep)
    assert demo._plan_loop({}, engine=None) == 0
    assert waits == [120.0, 5.0, 120.0]


def test_when_the_database_is_down_then_the_demo_says_so_once_and_notices_its_return(make_demo) -> None:
    from sqlalchemy.exc import OperationalError

    demo = make_demo()
    down = OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
    state = {"up": False}

    def read() -> int:
        if not state["up"]:
            raise down
        return 7

    assert demo._database(read) is None
    assert demo._database(read) is None
    state["up"] = True
    assert demo._database(read) == 7
    assert sum("is unavailable (connection refused)" in m for m in demo.said) == 1, demo.said
    assert "the database is back" in demo.said


def test_when_the_database_is_unreachable_at_start_then_the_demo_says_which_and_what_to_do(
    tmp_path: Path, settings_factory
) -> None:
    from fcplan.app.broker import free_port

    url = f"postgresql+psycopg://fc:s3cret@127.0.0.1:{free_port()}/fcplan"
    demo = Demo(settings_factory(database={"url": url}), DemoConfig(headless=True, log_dir=tmp_path))
    with pytest.raises(DemoError) as info:
        demo._open_database()
    message = str(info.value)
    assert "s3cret" not in message
    assert "postgresql+psycopg://fc:***@127.0.0.1" in message and "FCPLAN_DATABASE_URL" in message


@pytest.mark.integration
def test_when_the_embedded_broker_dies_then_the_demo_starts_it_again_on_its_port_with_the_topics(
    tmp_path: Path, settings_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kafka import KafkaAdminClient

    from fcplan.app.broker import wait_for_metadata
    from fcplan.core.contracts import ORDERS

    monkeypatch.setattr(demo_mod, "RESTART_FIRST_S", 0.0)
    # Port 0: the demo picks one (a port picked here could be taken before its broker binds it).
    settings = settings_factory(kafka={"broker_port": 0, "partitions": 2})
    demo = Demo(settings, DemoConfig(headless=True, log_dir=tmp_path / "logs"))
    try:
        bootstrap = demo._start_broker()
        first = demo.broker.process
        first.kill()
        first.wait()
        demo._check_children()  # notices
        demo._check_children()  # restarts (0 s backoff)
        second = demo.broker.process
        assert second is not None and second.pid != first.pid and second.poll() is None
        wait_for_metadata(bootstrap, timeout_s=30)
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            assert ORDERS in admin.list_topics()
        finally:
            admin.close()
    finally:
        demo.stopping.set()
        demo._stop_children()
    assert demo.broker.process is None or demo.broker.process.poll() is not None


# FCPLAN_FORECAST_MODELS=nope: every retrain failed (once orders were stored) and the cycle was
# tried again for good; the retrain now exits 2 at once and the demo stops saying why.
def test_a_retrain_with_a_bad_setting_stops_the_demo_instead_of_retrying_for_good(
    make_demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = make_demo()
    (tmp_path / "logs").mkdir()
    message = "error: bad FCPLAN_* setting: FCPLAN_FORECAST_MODELS='nope' names unknown model(s) ['nope']"
    monkeypatch.setattr(demo, "_run_step", lambda step, env: (2, "", message))
    with pytest.raises(DemoError, match=r"retrain exited with code 2 \(a bad setting.*names unknown model"):
        demo._cycle({})


@pytest.mark.parametrize(
    ("value", "expected", "args"),
    [
        ("nope", "names unknown model(s) ['nope']", ["retrain", "--no-publish"]),
        ("", "names no model", ["retrain", "--no-publish"]),
        ("nope", "names unknown model(s) ['nope']", ["demo", "--headless", "--simulate-days", "1"]),
    ],
)
def test_retrain_refuses_a_models_setting_it_cannot_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, expected: str, args: list[str]
) -> None:
    from typer.testing import CliRunner

    from fcplan.app.cli import app

    monkeypatch.setenv("FCPLAN_DATABASE_URL", f"sqlite:///{tmp_path / 'fc.db'}")
    monkeypatch.setenv("FCPLAN_FORECAST_MODELS", value)
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 2, out.output
    assert f"FCPLAN_FORECAST_MODELS={value!r} {expected}" in out.output


# Ctrl-C during a retrain printed the killed process's last line as its result:
# "retrain:   warnings.warn('resource_tracker: There appear to be %d '".
def test_when_ctrl_c_stops_a_retrain_then_the_demo_says_so_instead_of_its_last_line(
    make_demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = make_demo()
    (tmp_path / "logs").mkdir()

    def interrupted(step: str, env: dict) -> tuple[int, str, str]:
        demo.stopping.set()  # the signal handler's part
        return -15, "", "  warnings.warn('resource_tracker: There appear to be %d '"

    monkeypatch.setattr(demo, "_run_step", interrupted)
    assert demo._cycle({}) is False
    assert demo.said == ["retrain: stopped before it finished"]
