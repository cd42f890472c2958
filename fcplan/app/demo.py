"""``fcplan demo``: the whole system on the embedded defaults, from one command.

Starts the embedded broker (unless ``FCPLAN_KAFKA_BOOTSTRAP`` is set), the
streams worker, the simulator (backfill, then live), a retrain + plan cycle
every ``retrain_every_s`` and the dashboard, each as a child process; Ctrl-C
(or SIGTERM) stops every one of them.

It keeps running through failures: a child that exits is restarted with
capped exponential backoff (unless it exited with a settings error, status 2,
which a restart cannot fix); a failed retrain or plan is tried again sooner
than the next cycle; a database outage is reported and waited out. Every child
dies with the demo, even when the demo is killed with SIGKILL
(:mod:`fcplan.app.procs`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from fcplan.app.broker import EmbeddedBroker, PortTaken, port_is_free
from fcplan.app.console import EXIT_BAD_SETTING  # a child's status for a bad setting or option: a restart cannot fix it
from fcplan.app.dashboard_server import DEFAULT_PORT, DashboardStartError, dashboard_command
from fcplan.app.dashboard_server import start as start_dashboard
from fcplan.app.procs import spawn
from fcplan.core.settings import Settings
from fcplan.storage import make_engine, outage, reset
from fcplan.storage import queries as q
from fcplan.storage.metrics import ORDERS_PROCESSED
from fcplan.storage.schema import stream_metrics

#: Restart backoff: 1 s, 2 s, 4 s, ... at most 60 s; a child that ran this long starts again at 1 s.
RESTART_FIRST_S = 1.0
RESTART_CAP_S = 60.0
STABLE_S = 60.0
#: A failed retrain/plan cycle is retried after 5 s, 10 s, ... at most the cycle interval.
CYCLE_RETRY_FIRST_S = 5.0


class DemoError(RuntimeError):
    pass


@dataclass(frozen=True)
class DemoConfig:
    headless: bool = False
    exit_after_plan: bool = False
    centers: int = 5
    days: int = 120
    scale: float = 0.5
    speed: float = 1.0
    retrain_every_s: float = 120.0
    #: The dashboard's port (--port); None: 8501, or a free one when another process holds it.
    port: int | None = None
    fresh: bool | None = None
    timeout_s: float = 900.0
    log_dir: Path = Path("var/logs")
    #: The centers file the demo plans with (FCPLAN_PLANNER_CENTERS_FILE wins when set).
    centers_file: Path | None = None


@dataclass
class Child:
    """A long-running child: how to start it, and its restart bookkeeping."""

    name: str
    start: Callable[[], subprocess.Popen]
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None


#: The demo's centers: two time zones, overnight shifts (see the file).
EXAMPLE_CENTERS = Path(__file__).resolve().parents[2] / "centers.example.toml"


def _fcplan(*args: str) -> list[str]:
    return [sys.executable, "-m", "fcplan", *args]


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


class Demo:
    def __init__(self, settings: Settings, cfg: DemoConfig) -> None:
        self.settings = settings
        self.cfg = cfg
        self.children: list[Child] = []
        self.stopping = threading.Event()
        self.broker: EmbeddedBroker | None = None
        self.backfilled: dict | None = None
        self.started = time.monotonic()
        self._step: subprocess.Popen | None = None  # the retrain or plan run in progress
        self._db_down = False
        self.dashboard_port = cfg.port  # once started, restarts keep it

    # ------------------------------------------------------------ helpers
    def say(self, message: str) -> None:
        print(f"[fcplan demo {time.monotonic() - self.started:6.1f}s] {message}", flush=True)

    def _log(self, name: str) -> Path:
        return self.cfg.log_dir / f"{name}.log"

    def _env(self, servers: str) -> dict[str, str]:
        env = {
            **os.environ,
            "FCPLAN_KAFKA_BOOTSTRAP": servers,
            "FCPLAN_DATABASE_URL": self.settings.database.url,
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
            "PYTHONUNBUFFERED": "1",
        }
        if self.cfg.centers_file is not None:
            env.setdefault("FCPLAN_PLANNER_CENTERS_FILE", str(Path(self.cfg.centers_file).resolve()))
        if self.cfg.speed > 1:
            # The simulated clock runs ahead of the wall clock: let the worker accept it.
            env.setdefault("FCPLAN_STREAMS_MAX_FUTURE_HOURS", str(24 * 365))
        return env

    def _popen(self, name: str, cmd: list[str], env: dict[str, str], pipe_stdout: bool = False) -> subprocess.Popen:
        """Start ``cmd`` in its own session, logging to ``<log_dir>/<name>.log``; it dies with the demo."""
        self.cfg.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self._log(name), "ab") as log:  # the child keeps its own copy
            stdout = subprocess.PIPE if pipe_stdout else log
            return spawn(cmd, env=env, stdout=stdout, stderr=log, start_new_session=True)

    def _add(self, name: str, start: Callable[[], subprocess.Popen]) -> Child:
        child = Child(name, start)
        self.children.append(child)
        self._launch(child)
        return child

    def _launch(self, child: Child) -> None:
        child.proc = None
        child.proc = child.start()
        child.started_at = time.monotonic()
        child.restart_at = None

    def _check_children(self) -> None:
        """Restart children that exited, with backoff; a settings error ends the demo."""
        for child in self.children:
            if self.stopping.is_set():
                return
            now = time.monotonic()
            code = None if child.proc is None else child.proc.poll()
            if child.proc is not None and code is None:
                if child.failures and now - child.started_at >= STABLE_S:
                    child.failures = 0
                continue
            if child.restart_at is None:
                if code == EXIT_BAD_SETTING:
                    raise DemoError(
                        f"the {child.name} process exited with code {code} (a bad setting or option; "
                        f"restarting cannot fix it); see {self._log(child.name)}"
                    )
                self._schedule_restart(child, f"the {child.name} process exited with code {code}", now)
            elif now >= child.restart_at:
                try:
                    self._launch(child)
                except Exception as exc:  # e.g. the broker's port still held, the topics not created yet
                    self._schedule_restart(child, f"could not restart the {child.name} process: {exc}", now)
                else:
                    self.say(f"restarted the {child.name} process")

    def _schedule_restart(self, child: Child, why: str, now: float) -> None:
        delay = outage.backoff_s(child.failures, RESTART_FIRST_S, RESTART_CAP_S)
        child.failures += 1
        child.restart_at = now + delay
        self.say(f"{why}; restarting it in {delay:.0f}s (see {self._log(child.name)})")

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stopping.is_set():
            self._check_children()
            time.sleep(0.5)

    def _stop_children(self) -> None:
        """SIGTERM every child's process group, then SIGKILL what is left after 15 s;
        the broker last, so that the others can leave the stream cleanly."""
        broker = [c for c in self.children if c.name == "broker"]
        for group in ([c for c in self.children if c.name != "broker"], broker):
            procs = [c.proc for c in reversed(group) if c.proc is not None]
            for proc in procs:
                if proc.poll() is None:
                    _signal_group(proc, signal.SIGTERM)
            deadline = time.monotonic() + 15
            for proc in procs:
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    _signal_group(proc, signal.SIGKILL)
                    proc.wait()

    def _database(self, read: Callable[[], int]) -> int | None:
        """``read()``, or None while the database is unavailable (said once per outage)."""
        try:
            value = read()
        except Exception as exc:
            if not outage.is_outage(exc):
                raise
            if not self._db_down:
                self.say(f"{outage.describe(self.settings.database.url, exc)}; waiting for it to come back")
            self._db_down = True
            return None
        if self._db_down:
            self.say("the database is back")
            self._db_down = False
        return value

    # -------------------------------------------------------------- phases
    def _start_broker(self) -> str:
        k = self.settings.kafka
        if not k.embedded:
            self.say(f"using Kafka at {k.bootstrap}")
            return k.servers
        # A port the user set (FCPLAN_KAFKA_BROKER_PORT) is used as set. The default one, when
        # taken (before the start or at Tansu's bind), is replaced by a free one, as is 0 (picked
        # again if another process takes that one first); restarts keep the port it got.
        chosen = "broker_port" in k.model_fields_set and k.broker_port != 0
        self.cfg.log_dir.mkdir(parents=True, exist_ok=True)
        self.broker = EmbeddedBroker(host=k.broker_host, port=k.broker_port if chosen else None,
                                     prefer=k.broker_port or None, log_path=self._log("broker"))
        try:
            self._add("broker", self._start_embedded_broker)
        except PortTaken:
            raise DemoError(
                f"port {k.broker_port} on {k.broker_host} (FCPLAN_KAFKA_BROKER_PORT) is taken: stop whatever "
                "listens there, or set FCPLAN_KAFKA_BROKER_PORT to another port (unset: a free one)"
            ) from None
        if k.broker_port and self.broker.port != k.broker_port:
            self.say(f"port {k.broker_port} is taken; the embedded broker uses {self.broker.port} instead")
        self.say(f"embedded Kafka-compatible broker (Tansu) on {self.broker.bootstrap}")
        return self.broker.bootstrap

    def _start_embedded_broker(self) -> subprocess.Popen:
        """(Re)start the memory-only broker on its port and create the topics again."""
        from fcplan.streams.topics import ensure_topics

        assert self.broker is not None
        self.broker.stop()
        self.broker.start()
        ensure_topics(self.broker.bootstrap, self.settings.kafka.partitions)
        assert self.broker.process is not None
        return self.broker.process

    def _start_dashboard(self, env: dict[str, str]) -> subprocess.Popen:
        """(Re)start the dashboard once it listens: on --port, else 8501 or a free port (see
        :func:`fcplan.app.dashboard_server.start`); restarts keep the port it got."""
        proc, self.dashboard_port = start_dashboard(
            lambda port: self._popen("dashboard", dashboard_command(port), env), self.dashboard_port)
        return proc

    def _start_simulator(self, env: dict[str, str]) -> subprocess.Popen:
        proc = self._popen(
            "simulator",
            _fcplan(
                "simulate",
                "--centers",
                str(self.cfg.centers),
                "--days",
                str(self.cfg.days),
                "--scale",
                str(self.cfg.scale),
                "--speed",
                str(self.cfg.speed),
            ),
            env,
            pipe_stdout=True,
        )
        threading.Thread(target=self._read_backfill, args=(proc,), daemon=True).start()
        return proc

    def _read_backfill(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                self.backfilled = json.loads(line)
                return
            except json.JSONDecodeError:
                continue

    def _processed(self, engine: object) -> int:
        names = ORDERS_PROCESSED
        with engine.connect() as conn:  # type: ignore[attr-defined]
            total = conn.execute(
                select(func.coalesce(func.sum(stream_metrics.c.value), 0)).where(
                    stream_metrics.c.name.in_(names)
                )
            ).scalar_one()
        return int(total)

    def _wait_for_backfill(self, engine: object) -> None:
        deadline = time.monotonic() + self.cfg.timeout_s
        last = -1
        while not self.stopping.is_set():
            self._check_children()
            if time.monotonic() > deadline:
                raise DemoError(f"the backfill did not reach the database in time; see {self._log('worker')}")
            backfilled = self.backfilled
            if backfilled is not None:
                done = self._database(lambda: self._processed(engine))
                if done is not None and done >= backfilled["backfilled_orders"]:
                    self.say(f"worker stored the backfill: {done} orders processed")
                    return
                if done is not None and done != last:
                    self.say(f"worker: {done} of {backfilled['backfilled_orders']} backfilled orders processed")
                    last = done
            time.sleep(1.0)

    def _run_step(self, step: str, env: dict[str, str]) -> tuple[int, str, str]:
        """Run ``fcplan <step>`` to the end (a stop signal ends it): status, stdout, stderr."""
        proc = spawn(
            _fcplan(step),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self._step = proc
        try:
            out, err = proc.communicate()
        finally:
            self._step = None
        return proc.returncode, out, err

    def _cycle(self, env: dict[str, str]) -> bool:
        """Retrain then plan; True when a plan was stored."""
        for step in ("retrain", "plan"):
            if self.stopping.is_set():
                return False
            code, out, err = self._run_step(step, env)
            if code != 0 and self.stopping.is_set():  # Ctrl-C ended it: its last line was a shutdown warning
                self.say(f"{step}: stopped before it finished")
                return False
            lines = (out.strip() or err.strip()).splitlines()
            self.say(f"{step}: {lines[-1] if lines else ''}")
            if code != 0:
                self._log(step).write_text(out + err)
                if code == EXIT_BAD_SETTING:  # it was tried again, cycle after cycle, for good
                    raise DemoError(f"{step} exited with code {code} (a bad setting; trying again cannot fix it): "
                                    f"{lines[-1] if lines else ''}")
                return False
        return True

    def run(self) -> int:
        def on_signal(signum: int, _frame: object) -> None:
            self.stopping.set()
            step = self._step
            if step is not None and step.poll() is None:
                _signal_group(step, signal.SIGTERM)

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            return self._run()
        finally:
            self.stopping.set()
            self._stop_children()
            if self.broker is not None:
                self.broker.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.say("stopped every process it started")

    def _open_database(self) -> object:
        url = self.settings.database.url
        fresh = self.cfg.fresh if self.cfg.fresh is not None else url.startswith("sqlite")
        try:
            engine = make_engine(url)
            if fresh:
                reset(engine)
        except Exception as exc:
            if not outage.is_outage(exc):
                raise
            raise DemoError(
                f"{outage.describe(url, exc)}: start the database or fix FCPLAN_DATABASE_URL, then run the demo again"
            ) from exc
        return engine

    def _run(self) -> int:
        if not self.cfg.headless and self.cfg.port is not None and not port_is_free("0.0.0.0", self.cfg.port):
            raise DemoError(f"port {self.cfg.port} is taken: stop what listens there or choose another with --port")
        engine = self._open_database()
        servers = self._start_broker()
        from fcplan.streams.topics import ensure_topics

        ensure_topics(servers, self.settings.kafka.partitions)
        env = self._env(servers)
        if env.get("FCPLAN_PLANNER_CENTERS_FILE"):
            self.say(f"centers file: {env['FCPLAN_PLANNER_CENTERS_FILE']}")
        if not self.cfg.headless:
            try:
                self._add("dashboard", lambda: self._start_dashboard(env))
            except (PortTaken, DashboardStartError) as exc:
                raise DemoError(f"{exc}; see {self._log('dashboard')}") from None
            if self.cfg.port is None and self.dashboard_port != DEFAULT_PORT:
                self.say(f"port {DEFAULT_PORT} is taken; the dashboard uses {self.dashboard_port} instead")
            self.say(f"dashboard: http://localhost:{self.dashboard_port}")
        self._add("worker", lambda: self._popen("worker", _fcplan("worker"), env))
        self._add("simulator", lambda: self._start_simulator(env))
        self.say(f"simulating {self.cfg.centers} centers: {self.cfg.days} days of history, then live")
        self._wait_for_backfill(engine)
        return self._plan_loop(env, engine)

    def _plan_loop(self, env: dict[str, str], engine: object) -> int:
        """Retrain + plan every ``retrain_every_s``; a failed cycle is tried again sooner."""
        planned = False
        failures = 0
        while not self.stopping.is_set():
            if self._cycle(env):
                failures = 0
                if not planned:
                    planned = True
                    self.say(f"first plan stored {time.monotonic() - self.started:.1f}s after start")
                    if self.cfg.exit_after_plan:
                        self._summary(engine)
                        return 0
                wait = self.cfg.retrain_every_s
            else:
                if self.stopping.is_set():
                    break
                wait = outage.backoff_s(failures, CYCLE_RETRY_FIRST_S, self.cfg.retrain_every_s)
                failures += 1
                self.say(f"the cycle did not store a plan; trying again in {wait:.0f}s")
            if self.cfg.exit_after_plan and time.monotonic() - self.started > self.cfg.timeout_s:
                raise DemoError(f"no plan was stored within {self.cfg.timeout_s:.0f}s; see {self.cfg.log_dir}")
            self._sleep(wait)
        return 0

    def _summary(self, engine: object) -> None:
        counts = q.row_counts(engine)  # type: ignore[arg-type]
        produced = self.backfilled or {}
        print(
            f"events produced: {produced.get('backfilled_orders', 0)} orders, "
            f"{produced.get('promotion_events', 0)} promotion events\n"
            f"hourly rows: {counts['hourly']}\n"
            f"forecast rows: {counts['forecast']} ({counts['forecast_days']} center-days x quantiles)\n"
            f"plan rows: {counts['plan']} (center-day-shifts)",
            flush=True,
        )
