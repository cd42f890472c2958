"""The ``fcplan`` console command, run as a user would run it (a subprocess)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SUBCOMMANDS = ("broker", "worker", "simulate", "replay", "retrain", "plan", "dashboard", "demo", "forecast",
               "backtest")


def fcplan_exe() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m fcplan``."""
    script = Path(sys.executable).parent / "fcplan"
    return [str(script)] if script.exists() else [sys.executable, "-m", "fcplan"]


@pytest.fixture
def run(tmp_path: Path):
    """Run ``fcplan ARGS`` in tmp_path with a clean FCPLAN_* environment plus ``env``. ``timeout``
    only catches a command that hangs: on a loaded two-core machine the imports alone of a command
    that refuses its options at once took 57 s (fcplan demo --start 9999-12-31; 15 s on a quieter
    one), so it is minutes, not the 60 s it was."""

    def call(
        *args: str, env: dict[str, str] | None = None, timeout: float = 300, exe: list[str] | None = None
    ) -> subprocess.CompletedProcess:
        base = {k: v for k, v in os.environ.items() if not k.startswith("FCPLAN_")}
        base.update({
            "FCPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            # Nothing listens there: a command that reaches for Kafka by mistake fails fast.
            "FCPLAN_KAFKA_BOOTSTRAP": "127.0.0.1:1",
            "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", "OMP_NUM_THREADS": "1",
        })
        base.update(env or {})
        return subprocess.run([*(exe or fcplan_exe()), *args], cwd=tmp_path, env=base, capture_output=True, text=True,
                              timeout=timeout)

    return call


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_help_lists_every_sub_command(run) -> None:
    out = run("--help")
    assert out.returncode == 0, out.stderr
    listed = {word for line in out.stdout.splitlines() for word in line.replace("│", " ").split()[:1]}
    missing = [name for name in SUBCOMMANDS if name not in listed]
    assert missing == [], f"--help does not list {missing}:\n{out.stdout}"


def test_no_arguments_shows_the_help(run) -> None:
    out = run()
    assert "Usage" in out.stdout + out.stderr
    assert "retrain" in out.stdout + out.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [("FCPLAN_KAFKA_BROKER_PORT", "ninety"), ("FCPLAN_TIMEZONE", "Mars/Olympus"),
     ("FCPLAN_PLANNER_SHRINKAGE", "2")],
)
def test_a_bad_setting_gives_a_one_line_error_naming_the_variable_and_exit_2(
    run, variable: str, value: str
) -> None:
    out = run("plan", env={variable: value})
    assert out.returncode == 2
    assert out.stdout == ""
    err = lines(out.stderr)
    assert len(err) == 1, f"expected one line, got {len(err)}:\n{out.stderr}"
    assert err[0].startswith("error: ")
    assert variable in err[0], f"the message should name {variable}: {err[0]}"
    assert value in err[0]


# A port outside 1-65535 was an OverflowError traceback from bind(); --retrain-every 0 retrained
# without a pause and --timeout -1 gave up before the backfill; --start 9999-12-31 a traceback.
@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (("broker", "--port", "70000"), {}, "--port"),
        (("broker", "--port", "-1"), {}, "--port"),
        (("dashboard", "--port", "99999"), {}, "--port"),
        (("broker",), {"FCPLAN_KAFKA_BROKER_PORT": "70000"}, "FCPLAN_KAFKA_BROKER_PORT"),
        (("demo", "--retrain-every", "0"), {}, "--retrain-every 0 must be a positive number of seconds"),
        (("demo", "--timeout", "-1"), {}, "--timeout -1 must be a positive number of seconds"),
        (("demo", "--simulate-days", "1", "--start", "9999-12-31"), {}, "outside the years 1971 to 2199"),
    ],
    ids=["broker-port-high", "broker-port-negative", "dashboard-port", "port-variable", "retrain-every",
         "timeout", "start-year"],
)
def test_an_option_out_of_range_is_refused_without_a_traceback(run, args, env, expected: str) -> None:
    out = run(*args, env=env)
    assert out.returncode in (1, 2), out.stdout + out.stderr
    assert expected in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_plan_on_an_empty_database_says_to_run_retrain_first_and_exits_3(run) -> None:
    out = run("plan")
    assert out.returncode == 3, out.stderr
    assert "run `fcplan retrain` first" in out.stdout


def test_retrain_on_an_empty_database_says_orders_are_needed_and_exits_3(run) -> None:
    out = run("retrain")
    assert out.returncode == 3, out.stderr
    assert "no orders stored yet" in out.stdout.lower()


def test_replay_of_a_missing_file_says_it_does_not_exist(run, tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    out = run("replay", str(missing))
    assert out.returncode == 1
    assert lines(out.stderr) == [f"error: {missing} does not exist"]


def test_replay_of_a_file_without_the_needed_columns_names_them_and_the_fix(run, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("order_id,region,timestamp\n1,north,2024-06-01 10:00\n")
    out = run("replay", str(path))
    assert out.returncode == 1
    err = out.stderr
    assert "orders.csv lacks column(s) ['center_id', 'ts']" in err
    assert "['order_id', 'region', 'timestamp']" in err
    assert "--center-column" in err


def test_replay_with_the_center_column_option_gets_past_the_column_check(run, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("order_id,region,ts\n1,north,not-a-time\n")
    out = run("replay", str(path), "--center-column", "region")
    assert out.returncode == 1
    assert "1 rows have unreadable ts, e.g. ['not-a-time']" in out.stderr


def closed_port() -> int:
    from fcplan.app.broker import free_port

    return free_port()  # nothing listens there


@pytest.mark.parametrize("command", ["retrain", "plan", "simulate"])
def test_when_postgresql_is_unreachable_then_the_command_says_so_in_one_line_and_exits_4(run, command) -> None:
    url = f"postgresql+psycopg://planner:s3cret@127.0.0.1:{closed_port()}/fcplan"
    out = run(command, env={"FCPLAN_DATABASE_URL": url})
    assert out.returncode == 4, out.stdout + out.stderr
    err = lines(out.stderr)
    assert len(err) == 1, f"expected one line, got {len(err)}:\n{out.stderr}"
    assert "Traceback" not in out.stderr and "s3cret" not in out.stderr + out.stdout
    assert err[0].startswith("error: the database postgresql+psycopg://planner:***@127.0.0.1:"), err[0]
    assert "is unavailable (connection failed" in err[0] and "Connection refused" in err[0], err[0]
    assert "start the database (or fix FCPLAN_DATABASE_URL)" in err[0]
    assert f"run `fcplan {command}` again" in err[0]


#: ``fcplan`` with a 3 s SQLite busy timeout instead of make_engine's 30 s: a test of what
#: happens once the timeout has run out need not wait for 30 s of it.
SHORT_BUSY_FCPLAN = [sys.executable, "-c", (
    "import functools, sys, fcplan.storage as s; "
    "s.make_engine = functools.partial(s.make_engine, sqlite_busy_ms=3_000); "
    "from fcplan.app.cli import main; sys.argv[0] = 'fcplan'; main()"
)]


@pytest.mark.slow
def test_when_the_sqlite_file_is_locked_then_plan_says_so_in_one_line_and_exits_4(run, tmp_path: Path) -> None:
    """The lock outlasts SQLite's busy timeout (fcplan.storage.make_engine; shortened here)."""
    import sqlite3

    from fcplan.storage import make_engine

    path = tmp_path / "cli.db"
    make_engine(f"sqlite:///{path}").dispose()
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        out = run("plan", exe=SHORT_BUSY_FCPLAN)
    finally:
        holder.close()
    assert out.returncode == 4, out.stdout + out.stderr
    err = lines(out.stderr)
    assert len(err) == 1 and "Traceback" not in out.stderr, out.stderr
    assert err[0].startswith(f"error: the database sqlite:///{path} is unavailable (database is locked)"), err[0]
    assert run("plan").returncode == 3, "once the lock is gone the command works again"


def test_the_console_script_is_installed() -> None:
    assert shutil.which("fcplan", path=str(Path(sys.executable).parent)), "run `pip install -e .`"


@pytest.mark.slow
def test_when_fcplan_dashboard_is_killed_with_sigkill_then_streamlit_stops_and_the_port_is_free(
    tmp_path: Path, proc_tree
) -> None:
    import time

    from fcplan.app.broker import free_port, port_is_free

    def wait_until(condition, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not condition():
            time.sleep(0.1)
        return condition()

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FCPLAN_")}
    env["FCPLAN_DATABASE_URL"] = f"sqlite:///{tmp_path / 'dash.db'}"
    cli = subprocess.Popen([*fcplan_exe(), "dashboard", "--port", str(port)], cwd=tmp_path, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: not port_is_free("0.0.0.0", port) or cli.poll() is not None, 300)
        assert cli.poll() is None, f"fcplan dashboard exited with {cli.returncode}"
        assert any("streamlit" in proc_tree.cmdline(p) for p in proc_tree.descendants(cli.pid))
        left = proc_tree.sigkill_leftovers(cli, ports=(port,))
        assert not left, f"left after kill -9 of fcplan dashboard: {left}"
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
