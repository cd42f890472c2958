"""``fcplan demo``: the whole system on the embedded defaults, from one command.

Starts the embedded broker (unless ``FCPLAN_KAFKA_BOOTSTRAP`` is set), the
streams worker, the simulator (backfill, then live), a retrain + plan cycle
every ``retrain_every_s`` and the dashboard, each as a child process; Ctrl-C
(or SIGTERM) stops every one of them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from fcplan.app.broker import EmbeddedBroker, free_port, port_is_free
from fcplan.core.settings import Settings
from fcplan.storage import make_engine, reset
from fcplan.storage import queries as q
from fcplan.storage.schema import stream_metrics


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
    port: int = 8501
    fresh: bool | None = None
    timeout_s: float = 900.0
    log_dir: Path = Path("var/logs")
    #: The centers file the demo plans with (FCPLAN_PLANNER_CENTERS_FILE wins when set).
    centers_file: Path | None = None


def dashboard_command(port: int) -> list[str]:
    from fcplan import dashboard

    app = Path(dashboard.__file__).parent / "app.py"
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]


#: The demo's centers: two time zones, overnight shifts (see the file).
EXAMPLE_CENTERS = Path(__file__).resolve().parents[2] / "centers.example.toml"


def _fcplan(*args: str) -> list[str]:
    return [sys.executable, "-m", "fcplan", *args]


class Demo:
    def __init__(self, settings: Settings, cfg: DemoConfig) -> None:
        self.settings = settings
        self.cfg = cfg
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.stopping = threading.Event()
        self.broker: EmbeddedBroker | None = None
        self.backfilled: dict | None = None
        self.started = time.monotonic()

    # ------------------------------------------------------------ helpers
    def say(self, message: str) -> None:
        print(f"[fcplan demo {time.monotonic() - self.started:6.1f}s] {message}", flush=True)

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

    def _spawn(
        self, name: str, cmd: list[str], env: dict[str, str], stdout: int | None = None
    ) -> subprocess.Popen:
        self.cfg.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.cfg.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
        proc = subprocess.Popen(cmd, env=env, stdout=stdout or log, stderr=log, start_new_session=True)
        self.children.append((name, proc))
        return proc

    def _check_children(self) -> None:
        for name, proc in self.children:
            code = proc.poll()
            if code is not None and not self.stopping.is_set():
                raise DemoError(
                    f"the {name} process exited with code {code}; see {self.cfg.log_dir / name}.log"
                )

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stopping.is_set():
            self._check_children()
            time.sleep(0.5)

    def _stop_children(self) -> None:
        for _name, proc in reversed(self.children):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _name, proc in reversed(self.children):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    # -------------------------------------------------------------- phases
    def _start_broker(self) -> str:
        k = self.settings.kafka
        if not k.embedded:
            self.say(f"using Kafka at {k.bootstrap}")
            return k.servers
        port = k.broker_port
        if not port_is_free(k.broker_host, port):
            port = free_port(k.broker_host)
            self.say(f"port {k.broker_port} is taken; the embedded broker uses {port} instead")
        self.cfg.log_dir.mkdir(parents=True, exist_ok=True)
        self.broker = EmbeddedBroker(
            host=k.broker_host, port=port, log_path=self.cfg.log_dir / "broker.log"
        ).start()
        self.say(f"embedded Kafka-compatible broker (Tansu) on {self.broker.bootstrap}")
        return self.broker.bootstrap

    def _read_backfill(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                self.backfilled = json.loads(line)
                return
            except json.JSONDecodeError:
                continue

    def _processed(self, engine: object) -> int:
        names = ("orders", "orders_dead_letters")
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
                raise DemoError("the backfill did not reach the database in time; see var/logs/worker.log")
            if self.backfilled is not None:
                done = self._processed(engine)
                if done >= self.backfilled["backfilled_orders"]:
                    self.say(f"worker stored the backfill: {done} orders processed")
                    return
                if done != last:
                    self.say(
                        f"worker: {done} of {self.backfilled['backfilled_orders']} backfilled orders processed"
                    )
                    last = done
            time.sleep(1.0)

    def _cycle(self, env: dict[str, str]) -> bool:
        """Retrain then plan; True when a plan was stored."""
        for step in ("retrain", "plan"):
            if self.stopping.is_set():
                return False
            out = subprocess.run(_fcplan(step), env=env, capture_output=True, text=True)
            text = (out.stdout.strip() or out.stderr.strip()).splitlines()
            self.say(f"{step}: {text[-1] if text else ''}")
            if out.returncode != 0:
                (self.cfg.log_dir / f"{step}.log").write_text(out.stdout + out.stderr)
                return False
        return True

    def run(self) -> int:
        def on_signal(signum: int, _frame: object) -> None:
            self.stopping.set()

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

    def _run(self) -> int:
        url = self.settings.database.url
        engine = make_engine(url)
        fresh = self.cfg.fresh if self.cfg.fresh is not None else url.startswith("sqlite")
        if fresh:
            reset(engine)
        servers = self._start_broker()
        from fcplan.streams.topics import ensure_topics

        ensure_topics(servers, self.settings.kafka.partitions)
        env = self._env(servers)
        if env.get("FCPLAN_PLANNER_CENTERS_FILE"):
            self.say(f"centers file: {env['FCPLAN_PLANNER_CENTERS_FILE']}")
        if not self.cfg.headless:
            self._spawn("dashboard", dashboard_command(self.cfg.port), env)
            self.say(f"dashboard: http://localhost:{self.cfg.port}")
        self._spawn("worker", _fcplan("worker"), env)
        sim = self._spawn(
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
            stdout=subprocess.PIPE,
        )
        threading.Thread(target=self._read_backfill, args=(sim,), daemon=True).start()
        self.say(f"simulating {self.cfg.centers} centers: {self.cfg.days} days of history, then live")
        self._wait_for_backfill(engine)
        planned = False
        while not self.stopping.is_set():
            if self._cycle(env) and not planned:
                planned = True
                self.say(f"first plan stored {time.monotonic() - self.started:.1f}s after start")
                if self.cfg.exit_after_plan:
                    self._summary(engine)
                    return 0
            self._sleep(self.cfg.retrain_every_s)
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
