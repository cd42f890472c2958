"""Factories for the streams integration tests: a fresh broker, worker processes,
a raw producer, bounded waits on the database and a dead-letter reader.

Topic names are fixed (``fcplan.core.contracts``), so every test that uses
:func:`stack` gets a broker of its own (Tansu, memory-only, ~1 s to start), a
fresh SQLite database (or the PostgreSQL one it asks for) and a unique consumer
group. Worker processes are ``python -m fcplan worker -v`` children in their own
process group; whatever a test leaves running is killed at teardown.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fcplan.streams.producer import use_compiled_crc32c

REPO = Path(__file__).resolve().parents[2]
#: Tansu answers a consumer group join after half the session timeout (5 s with the default
#: 10 s), and a worker joins two groups one after the other (promotions, then orders): 4 s
#: makes every worker start and every rebalance about 6 s shorter. The heartbeat (1 s) stays
#: well inside it; test_crash_safety has run on these figures since it was written.
WORKER_TIMEOUTS = {"FCPLAN_KAFKA_SESSION_TIMEOUT_S": "4"}
HOURLY_COLUMNS = ["center_id", "hour", "orders", "lines", "units"]


# --------------------------------------------------------------------------- pure helpers
def hourly_truth(frame: pd.DataFrame) -> pd.DataFrame:
    """Ground truth ``center_id, hour (naive UTC), orders, lines, units`` of distinct orders.

    ``frame`` needs ``order_id, center_id, ts (tz-aware, or ISO strings with offset),
    lines, units``; repeated order ids count once (first occurrence).
    """
    distinct = frame.drop_duplicates("order_id", keep="first")
    ts = pd.to_datetime(distinct["ts"], utc=True, format="ISO8601")
    hour = ts.dt.tz_convert("UTC").dt.tz_localize(None).dt.floor("h").astype("datetime64[ns]")
    out = (
        pd.DataFrame(
            {
                "center_id": distinct["center_id"].astype(str),
                "hour": hour,
                "lines": distinct["lines"].astype("int64"),
                "units": distinct["units"].astype("int64"),
            }
        )
        .groupby(["center_id", "hour"], as_index=False)
        .agg(orders=("lines", "size"), lines=("lines", "sum"), units=("units", "sum"))
    )
    return _canonical(out)


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[HOURLY_COLUMNS].copy()
    out["center_id"] = out["center_id"].astype(str)
    out["hour"] = pd.to_datetime(out["hour"]).astype("datetime64[ns]")
    for col in ("orders", "lines", "units"):
        out[col] = out[col].astype("int64")
    return out.sort_values(["center_id", "hour"]).reset_index(drop=True)


def frame_diff(expected: pd.DataFrame, found: pd.DataFrame, keys: list[str], limit: int = 10) -> str:
    """A readable description of the rows where two frames disagree (empty when equal)."""
    merged = expected.merge(found, on=keys, how="outer", suffixes=("_expected", "_found"), indicator=True)
    values = [c for c in expected.columns if c not in keys]
    bad = merged["_merge"] != "both"
    for col in values:
        bad |= merged[f"{col}_expected"].ne(merged[f"{col}_found"])
    if not bad.any():
        return ""
    rows = merged[bad]
    return (
        f"{int(bad.sum())} of {len(merged)} rows differ (expected {len(expected)} rows, found {len(found)}), "
        f"e.g.\n{rows.head(limit).to_string()}"
    )


def parse_partitions(text: str) -> set[int]:
    """``"{0-1, 3}"`` -> ``{0, 1, 3}`` (faust's partition-set notation)."""
    out: set[int] = set()
    for part in text.strip().strip("{}").split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-")
            out.update(range(int(lo), int(hi) + 1))
        else:
            out.add(int(part))
    return out


_ASSIGNED = re.compile(r"\|\s*orders\s*\|\s*(\{[^}]*\})\s*\|")


CENTERS = np.array([f"FC-{i:02d}" for i in range(8)])
OFFSETS_MIN = np.array([540, 0, -300, 330, 60])  # +09:00, Z, -05:00, +05:30, +01:00
BASE_NS = pd.Timestamp("2024-11-01T00:00:00Z").value


def make_order_stream(
    n: int,
    seed: int,
    span_hours: int = 72,
    jitter_hours: float = 6.0,
    dup_now: float = 0.02,
    dup_late: float = 0.01,
) -> tuple[pd.DataFrame, list[tuple[str, bytes]]]:
    """``n`` distinct orders, then ``(key, value)`` pairs to send: orders in roughly
    time order (each up to ``jitter_hours`` early), ``dup_now`` of them re-sent right
    behind themselves and ``dup_late`` re-sent after everything else.

    Returns the distinct orders (``order_id, center_id, ts`` as sent, ``lines, units``)
    and the messages.
    """
    rng = np.random.default_rng(seed)
    trend = np.sort(rng.integers(0, span_hours * 3_600_000, n)) * 1_000_000
    jitter = rng.integers(0, int(jitter_hours * 3_600_000), n) * 1_000_000
    instant = BASE_NS + trend - jitter  # out of order, at most jitter_hours behind stream time
    offset_min = OFFSETS_MIN[rng.integers(0, len(OFFSETS_MIN), n)]
    local = np.datetime_as_string((instant + offset_min * 60_000_000_000).astype("datetime64[ns]"), unit="ms")
    suffix = np.array(
        ["Z" if m == 0 else f"{'+' if m > 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}" for m in OFFSETS_MIN]
    )
    zone_of = {int(m): s for m, s in zip(OFFSETS_MIN, suffix, strict=True)}
    ts = [t + zone_of[int(m)] for t, m in zip(local.tolist(), offset_min.tolist(), strict=True)]
    center = CENTERS[rng.integers(0, len(CENTERS), n)]
    lines = 1 + rng.poisson(1.5, n)
    units = lines + rng.poisson(2.0, n)
    ids = [f"ord-{seed}-{i:07d}" for i in range(n)]
    values = [
        f'{{"order_id":"{o}","center_id":"{c}","ts":"{t}","lines":{li},"units":{u}}}'.encode()
        for o, c, t, li, u in zip(ids, center.tolist(), ts, lines.tolist(), units.tolist(), strict=True)
    ]
    keys = center.tolist()
    messages: list[tuple[str, bytes]] = []
    again_now = set(rng.choice(n, int(n * dup_now), replace=False).tolist())
    for i in range(n):
        messages.append((keys[i], values[i]))
        if i in again_now:
            messages.append((keys[i], values[i]))
    for i in np.sort(rng.choice(n, int(n * dup_late), replace=False)).tolist():
        messages.append((keys[i], values[i]))
    frame = pd.DataFrame({"order_id": ids, "center_id": center, "ts": ts, "lines": lines, "units": units})
    return frame, messages


# --------------------------------------------------------------------------- workers
@dataclass
class WorkerProcess:
    """One ``fcplan worker -v`` child process with its log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the worker's whole process group (no cleanup, no offset commit)."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def terminate(self, timeout_s: float = 30.0) -> int:
        """SIGTERM (a graceful stop); returns the exit code."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"worker {self.name} did not stop within {timeout_s}s of SIGTERM; its log ends:\n{self.tail(60)}"
            ) from None

    def orders_partitions(self) -> list[set[int]]:
        """Every ``orders`` partition set this worker was assigned, in log order."""
        return [parse_partitions(m.group(1)) for m in _ASSIGNED.finditer(self.log())]

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-n:])


@dataclass
class Stack:
    """A broker of its own, a database, a consumer group and the workers started on them."""

    bootstrap: str
    db_url: str
    app_id: str
    workdir: Path
    broker: Any = None  # the EmbeddedBroker, to tell "the broker died" from "the worker is slow"
    workers: list[WorkerProcess] = field(default_factory=list)
    _engine: Any = None
    _producer: Any = None

    # ---- environment and processes
    def env(self, **overrides: str) -> dict[str, str]:
        """The worker's environment: no inherited ``FCPLAN_*``, then ours, then ``overrides``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FCPLAN_")}
        env.update(
            **WORKER_TIMEOUTS,
            FCPLAN_KAFKA_BOOTSTRAP=self.bootstrap,
            FCPLAN_DATABASE_URL=self.db_url,
            FCPLAN_STREAMS_APP_ID=self.app_id,
            OMP_NUM_THREADS="1",
            PYTHONUNBUFFERED="1",
        )
        env.update(overrides)
        return env

    def start_worker(self, *, sqlite_busy_ms: int | None = None, **env: str) -> WorkerProcess:
        """Start ``fcplan worker -v`` with ``FCPLAN_*`` overrides, e.g. ``FCPLAN_CENTERS="A,B"``;
        ``sqlite_busy_ms`` replaces make_engine's default SQLite busy timeout (30 s) in it."""
        self.engine  # noqa: B018 - the schema first: see test_scale_out's fresh-database test
        name = f"w{len(self.workers)}"
        log_path = self.workdir / f"worker-{name}.log"
        python = [sys.executable, "-m", "fcplan"]
        if sqlite_busy_ms is not None:
            python = [sys.executable, "-c", (
                "import functools, sys, fcplan.storage as s; "
                f"s.make_engine = functools.partial(s.make_engine, sqlite_busy_ms={int(sqlite_busy_ms)}); "
                "from fcplan.app.cli import main; sys.argv[0] = 'fcplan'; main()"
            )]
        with open(log_path, "wb") as out:
            proc = subprocess.Popen(
                [*python, "worker", "-v"],
                cwd=self.workdir,
                env=self.env(**env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = WorkerProcess(name, proc, log_path)
        self.workers.append(worker)
        return worker

    def run_cli(self, *args: str, timeout_s: float = 300.0, **env: str) -> subprocess.CompletedProcess[str]:
        """Run ``fcplan <args>`` to completion in the repository root; fails on a non-zero exit."""
        done = subprocess.run(
            [sys.executable, "-m", "fcplan", *args],
            cwd=REPO,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        assert done.returncode == 0, f"fcplan {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
        return done

    # ---- producing
    @property
    def producer(self) -> Any:
        if self._producer is None:
            from kafka import KafkaProducer

            use_compiled_crc32c()  # 22 MB in test_fuzz_worker: seconds of pure-Python CRC otherwise
            self._producer = KafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                retries=5,
                linger_ms=20,
                batch_size=512 * 1024,
                max_request_size=4 * 1024 * 1024,
            )
        return self._producer

    def produce(
        self, topic: str, items: Iterable[tuple[str | None, bytes | None]], partition: int | None = None
    ) -> int:
        """Send raw ``(key, value)`` pairs exactly as given and flush; returns how many."""
        n = 0
        for key, value in items:
            self.producer.send(topic, key=None if key is None else key.encode(), value=value, partition=partition)
            n += 1
        self.producer.flush(timeout=120)
        return n

    # ---- the database
    @property
    def engine(self) -> Any:
        if self._engine is None:
            from fcplan.storage import make_engine

            self._engine = make_engine(self.db_url)  # the schema exists before any worker starts
        return self._engine

    def scalar(self, sql: str) -> Any:
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()

    def order_count(self) -> int:
        return int(self.scalar("SELECT count(*) FROM orders"))

    def order_ids(self) -> list[str]:
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT order_id FROM orders")).scalars())

    def hourly(self) -> pd.DataFrame:
        """``center_hourly`` as ``center_id, hour (naive UTC), orders, lines, units``, sorted."""
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT center_id, hour, orders, lines, units FROM center_hourly")).all()
        return _canonical(pd.DataFrame(rows, columns=HOURLY_COLUMNS))

    def metrics(self) -> Counter[tuple[str, str]]:
        """``stream_metrics`` as ``{(name, reason): value}``."""
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT name, reason, value FROM stream_metrics")).all()
        return Counter({(n, r): int(v) for n, r, v in rows})

    def dead_letter_metrics(self, name: str = "orders_dead_letters") -> Counter[str]:
        return Counter({r: v for (n, r), v in self.metrics().items() if n == name})

    def promotions(self) -> dict[str, dict]:
        """The ``promotions`` table by ``promo_id``, typed (datetimes naive UTC, lists)."""
        import sqlalchemy as sa

        from fcplan.storage.schema import promotions

        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(promotions)).mappings().all()
        return {r["promo_id"]: dict(r) for r in rows}

    # ---- waiting
    def wait_for(
        self,
        what: str,
        probe: Callable[[], Any],
        expected: Any,
        timeout_s: float = 60.0,
        interval_s: float = 0.25,
    ) -> Any:
        """Poll ``probe()`` until it equals ``expected``; fail after ``timeout_s`` saying what
        was expected, what was last found and how each worker ended."""
        deadline = time.monotonic() + timeout_s
        found: Any = None
        while True:
            try:
                found = probe()
            except Exception as exc:  # e.g. SQLite busy while the worker writes
                found = f"<{type(exc).__name__}: {exc}>"
            if found == expected:
                return found
            dead = [w for w in self.workers if not w.alive() and w.proc.returncode not in (0, -9, -15)]
            broker_gone = self.broker_exit_code() is not None
            if dead or broker_gone or time.monotonic() > deadline:
                tails = "\n".join(f"--- {w.name} (exit {w.proc.poll()}):\n{w.tail()}" for w in self.workers)
                reason = (
                    f"the broker exited with code {self.broker_exit_code()} (killed from outside?)"
                    if broker_gone
                    else f"worker {dead[0].name} died"
                    if dead
                    else f"timed out after {timeout_s:.0f}s"
                )
                pytest.fail(f"{what}: {reason}; expected {expected!r}, found {found!r}\n{tails}")
            time.sleep(interval_s)

    def broker_exit_code(self) -> int | None:
        proc = getattr(self.broker, "_proc", None)
        return None if proc is None else proc.poll()

    def wait_for_assignment(self, worker: WorkerProcess, partitions: set[int], timeout_s: float = 60.0) -> None:
        """Until the worker's latest ``orders`` assignment is exactly ``partitions``."""
        self.wait_for(
            f"worker {worker.name}'s orders partitions",
            lambda: (worker.orders_partitions() or [None])[-1],
            partitions,
            timeout_s,
        )

    # ---- reading topics
    def read_topic(self, topic: str, expected: int, timeout_s: float = 30.0, quiet_s: float = 1.5) -> list[dict]:
        """Every record of ``topic``, read from the beginning until ``expected`` have come
        and then ``quiet_s`` more pass without another; fails unless exactly ``expected``.

        Records are dicts: ``key``, ``value`` (bytes, as stored), ``headers``
        (``{name: str}``), ``partition``, ``offset``. (Tansu's ListOffsets answers do
        not count records, so end offsets cannot tell how many a topic holds.)
        """
        consumer, parts = self._consumer(topic)
        records: list[dict] = []
        try:
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            deadline = time.monotonic() + timeout_s
            quiet_until = None
            while time.monotonic() < deadline:
                polled = [rec for batch in consumer.poll(timeout_ms=250).values() for rec in batch]
                records += [
                    {
                        "key": rec.key,
                        "value": rec.value,
                        "headers": {k: v.decode() for k, v in (rec.headers or [])},
                        "partition": rec.partition,
                        "offset": rec.offset,
                    }
                    for rec in polled
                ]
                if len(records) >= expected:
                    if polled or quiet_until is None:
                        quiet_until = time.monotonic() + quiet_s
                    elif time.monotonic() >= quiet_until:
                        break
        finally:
            consumer.close()
        assert len(records) == expected, (
            f"{topic}: expected {expected} records, read {len(records)} in {timeout_s:.0f}s, e.g. "
            f"{[(r['value'] or b'')[:80] for r in records[:5]]}"
        )
        return records

    def _consumer(self, topic: str) -> tuple[Any, list[Any]]:
        from kafka import KafkaConsumer, TopicPartition

        use_compiled_crc32c()
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
        deadline = time.monotonic() + 30
        partitions = consumer.partitions_for_topic(topic)
        while not partitions and time.monotonic() < deadline:
            time.sleep(0.2)
            partitions = consumer.partitions_for_topic(topic)
        assert partitions, f"topic {topic} has no partitions on {self.bootstrap}"
        return consumer, [TopicPartition(topic, p) for p in sorted(partitions)]

    # ---- assertions
    hourly_truth = staticmethod(hourly_truth)

    def assert_hourly(self, expected: pd.DataFrame) -> None:
        """``center_hourly`` equals ``expected`` (from :func:`hourly_truth`) exactly."""
        diff = frame_diff(expected, self.hourly(), ["center_id", "hour"])
        assert not diff, f"center_hourly differs from the ground truth: {diff}"

    def wait_for_orders(self, expected: int, timeout_s: float = 60.0) -> None:
        self.wait_for("rows in the orders table", self.order_count, expected, timeout_s)

    def close(self) -> None:
        for worker in self.workers:
            if worker.alive():
                worker.kill()
        if self._producer is not None:
            self._producer.close(timeout=5)
        if self._engine is not None:
            self._engine.dispose()


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """``stack_factory(db_url=None)``: a fresh broker (4 partitions, fcplan's topics),
    a fresh database (SQLite in tmp_path unless ``db_url``) and a unique consumer group."""
    from fcplan.app.broker import EmbeddedBroker
    from fcplan.streams.topics import ensure_topics

    brokers: list[EmbeddedBroker] = []
    stacks: list[Stack] = []

    def make(db_url: str | None = None) -> Stack:
        workdir = tmp_path / f"stack{len(stacks)}"
        workdir.mkdir()
        broker = EmbeddedBroker(log_path=workdir / "broker.log").start()
        brokers.append(broker)
        ensure_topics(broker.bootstrap, partitions=4)
        stack = Stack(
            bootstrap=broker.bootstrap,
            db_url=db_url or f"sqlite:///{workdir / 'fcplan.db'}",
            app_id=f"fcplan-test-{uuid.uuid4().hex[:8]}",
            workdir=workdir,
            broker=broker,
        )
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.close()
    for broker in brokers:
        broker.stop()


@pytest.fixture
def stack(stack_factory: Callable[..., Stack]) -> Stack:
    """A fresh broker + SQLite database + consumer group (see :func:`stack_factory`)."""
    return stack_factory()


@pytest.fixture
def order_stream() -> Callable[..., tuple[pd.DataFrame, list[tuple[str, bytes]]]]:
    """:func:`make_order_stream`: ``order_stream(n, seed, ...) -> (distinct orders, messages)``."""
    return make_order_stream
