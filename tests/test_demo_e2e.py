"""``fcplan demo`` end to end: embedded broker, worker, simulator, retrain, plan.

Runs the real console command in a temporary folder (the demo writes its logs to
./var/logs there) against a SQLite file and an embedded broker on a free port,
then checks the printed summary against the database and that every child
process is gone: after a clean exit, a SIGINT, and a SIGKILL of the demo itself.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def fcplan_exe() -> list[str]:
    script = Path(sys.executable).parent / "fcplan"
    return [str(script)] if script.exists() else [sys.executable, "-m", "fcplan"]


def demo_env(tmp_path: Path) -> dict[str, str]:
    """Broker port 0: the demo picks a free one (again if another process binds it first); a port
    picked here could be taken before the demo's broker binds it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FCPLAN_")}
    env.update({
        "FCPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.db'}",
        "FCPLAN_KAFKA_BROKER_PORT": "0",
        # Tansu answers a group join after half the session timeout: 2 s instead of 5 s for each
        # of the worker's two groups (the demo passes its environment on to the worker).
        "FCPLAN_KAFKA_SESSION_TIMEOUT_S": "4",
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def leftovers(tmp_path: Path, port: int, pids: set[int] = frozenset()) -> list[str]:
    """Live (non-zombie) processes that belong to the demo: one of ``pids``, or one
    whose working folder is tmp_path, or whose command line names it or the port."""
    out = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        stat = _read(entry / "stat")
        if not stat or stat.rsplit(")", 1)[1].split()[0] == "Z":
            continue
        cmdline = _read(entry / "cmdline").replace("\x00", " ").strip()
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            cwd = ""
        # A remembered pid counts only while it still runs fcplan or tansu (pids get reused).
        ours = int(entry.name) in pids and ("fcplan" in cmdline or "tansu" in cmdline)
        if ours or cwd.startswith(str(tmp_path)) or str(tmp_path) in cmdline or f":{port}" in cmdline:
            out.append(f"{entry.name}: {cmdline} (cwd {cwd})")
    return out


def broker_port(text: str) -> int:
    """The embedded broker's port, as the demo said it."""
    found = re.search(r"embedded Kafka-compatible broker \(Tansu\) on [\d.]+:(\d+)", text)
    assert found, text[-3000:]
    return int(found[1])


def wait_for(predicate, timeout_s: float, poll_s: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll_s)
    return predicate()


def start_demo(tmp_path: Path, out: object) -> subprocess.Popen:
    """``fcplan demo --headless`` (30 small days, no second cycle) writing to ``out``."""
    return subprocess.Popen(
        [*fcplan_exe(), "demo", "--headless", "--days", "30", "--scale", "0.1", "--retrain-every", "600"],
        cwd=tmp_path, env=demo_env(tmp_path), stdout=out, stderr=subprocess.STDOUT,
    )


def wait_for_the_worker(proc: subprocess.Popen, log: Path) -> None:
    worker_up = re.compile(r"worker(: \d+ of \d+| stored the backfill)")
    assert wait_for(lambda: bool(worker_up.search(_read(log))) or proc.poll() is not None, 300), \
        f"the worker never reported progress:\n{_read(log)[-3000:]}"
    assert proc.poll() is None, f"the demo exited early:\n{_read(log)[-3000:]}"


def count(engine, table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_demo_runs_to_the_first_plan_and_exits_cleanly(tmp_path: Path, proc_tree) -> None:
    from fcplan.storage.schema import (
        center_hourly,
        forecast_runs,
        forecasts,
        orders,
        staffing_plans,
        stream_metrics,
    )

    log = tmp_path / "demo.out"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*fcplan_exe(), "demo", "--headless", "--exit-after-plan", "--days", "30", "--scale", "0.1",
             "--timeout", "600"],
            cwd=tmp_path, env=demo_env(tmp_path), stdout=out, stderr=subprocess.STDOUT,
        )
        children: set[int] = set()
        try:
            # Remember the demo's children while it runs, to check each one is gone after.
            deadline = time.monotonic() + 660
            while proc.poll() is None and time.monotonic() < deadline:
                children |= proc_tree.descendants(proc.pid)
                time.sleep(1.0)
            code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = _read(log)
    assert code == 0, f"demo exited with {code}:\n{text[-3000:]}"
    assert children, "the demo started no child process?"

    produced = re.search(r"events produced: (\d+) orders, (\d+) promotion events", text)
    printed = {name: int(n) for name, n in re.findall(r"^(hourly|forecast|plan) rows: (\d+)", text, re.M)}
    assert produced, text[-3000:]
    n_orders, n_promos = int(produced[1]), int(produced[2])
    assert n_orders > 0 and n_promos > 0
    assert set(printed) == {"hourly", "forecast", "plan"} and all(v > 0 for v in printed.values()), printed
    assert "stopped every process it started" in text

    engine = create_engine(f"sqlite:///{tmp_path / 'e2e.db'}")
    try:
        # Retrain and plan ran once; live orders may still have landed after the summary.
        tail = text[-2000:]
        assert count(engine, forecasts) == printed["forecast"], tail
        assert count(engine, staffing_plans) == printed["plan"], tail
        assert count(engine, center_hourly) >= printed["hourly"], tail
        with engine.connect() as conn:
            hourly_total = conn.execute(select(func.sum(center_hourly.c.orders))).scalar_one()
            metrics = {(n, r): v for n, r, v in conn.execute(
                select(stream_metrics.c.name, stream_metrics.c.reason, stream_metrics.c.value))}
            runs = conn.execute(select(forecast_runs.c.run_id, forecast_runs.c.quantiles)).all()
            shifts = {tuple(r) for r in conn.execute(select(staffing_plans.c.center_id, staffing_plans.c.shift))}
        stored = count(engine, orders)
        assert hourly_total == stored, "the hourly table must equal a recount of the orders"
        assert metrics[("orders", "accepted")] == stored, metrics
        processed = sum(v for (name, _), v in metrics.items() if name in ("orders", "orders_dead_letters"))
        assert processed >= n_orders, "the demo planned before the backfill was processed"
        assert len(runs) == 1, tail
        assert printed["forecast"] % len(runs[0].quantiles) == 0
        # The demo plans with centers.example.toml: two zones, each center's own shifts, overnight ones.
        assert "centers file: " in text and "centers.example.toml" in text
        assert {("FC-SEOUL-1", "night"), ("FC-GWANGJU", "overnight"), ("FC-GWANGJU", "early")} <= shifts, shifts
    finally:
        engine.dispose()

    port = broker_port(text)
    left = leftovers(tmp_path, port, children)
    assert wait_for(lambda: not leftovers(tmp_path, port, children), 20), f"{left}\n{text[-2000:]}"
    assert (tmp_path / "var" / "logs" / "worker.log").exists()


def test_sigint_stops_the_demo_and_every_child_it_started(tmp_path: Path, proc_tree) -> None:
    log = tmp_path / "demo.out"
    with open(log, "wb") as out:
        proc = start_demo(tmp_path, out)
        children: set[int] = set()
        try:
            wait_for_the_worker(proc, log)
            port = broker_port(_read(log))
            children = proc_tree.descendants(proc.pid)
            assert len(children) >= 3, f"expected broker, worker and simulator below the demo, got {children}"
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = _read(log)
    assert code == 0, f"demo exited with {code} after SIGINT:\n{text[-3000:]}"
    assert "stopped every process it started" in text
    assert "Traceback" not in text
    assert wait_for(lambda: not leftovers(tmp_path, port, children), 20), leftovers(tmp_path, port, children)


def test_when_the_demo_is_killed_with_sigkill_then_no_process_of_it_is_left_and_its_port_is_free(
    tmp_path: Path, proc_tree
) -> None:
    """kill -9 leaves the demo no chance to clean up: its children must go by themselves
    (PR_SET_PDEATHSIG), and the worker's writer when its socket to the worker closes."""
    from fcplan.app.broker import port_is_free

    log = tmp_path / "demo.out"
    with open(log, "wb") as out:
        proc = start_demo(tmp_path, out)
        try:
            wait_for_the_worker(proc, log)
            port = broker_port(_read(log))

            def names() -> dict[int, str]:
                return {pid: proc_tree.cmdline(pid) for pid in proc_tree.descendants(proc.pid)}

            # broker, worker, the worker's writer (a grandchild, started once partitions are assigned), simulator
            assert wait_for(lambda: any("multiprocessing" in c for c in names().values()), 120), \
                f"the worker's writer process never appeared below the demo: {names()}"
            assert any("tansu" in c for c in names().values()) and any(" worker" in c for c in names().values())
            assert not port_is_free("127.0.0.1", port)
            tree = set(names())
            left = proc_tree.sigkill_leftovers(proc, ports=(port,))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    left += leftovers(tmp_path, port, tree)
    assert not left, f"left after kill -9 of the demo: {left}\n{_read(log)[-2000:]}"
