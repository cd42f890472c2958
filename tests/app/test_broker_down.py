"""``fcplan worker``, ``simulate`` and ``replay`` with no Kafka broker answering (a new user's first
try, before ``fcplan broker``): each ended on a 60-line traceback (``KafkaTimeoutError: Unable to
bootstrap``); now it is one line saying where no broker answers and what to start, exit status 5."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcplan.app.cli import app
from fcplan.app.console import EXIT_BROKER_DOWN

NOWHERE = "127.0.0.1:1"  # nothing listens there
WAIT_S = 1.5  # FCPLAN_KAFKA_CONNECT_TIMEOUT_S (30 s by default)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in [v for v in os.environ if v.startswith("FCPLAN_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("FCPLAN_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("FCPLAN_KAFKA_BOOTSTRAP", NOWHERE)
    monkeypatch.setenv("FCPLAN_KAFKA_CONNECT_TIMEOUT_S", str(WAIT_S))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _said_broker_down(args: list[str], command: str) -> None:
    out = CliRunner().invoke(app, args)
    assert out.exit_code == EXIT_BROKER_DOWN, out.output
    assert not isinstance(out.exception, Exception) or isinstance(out.exception, SystemExit), out.exception
    assert f"error: no Kafka broker answers at {NOWHERE}" in out.output
    assert "start one (`fcplan broker`" in out.output and f"run `fcplan {command}` again" in out.output


def test_replay_without_a_broker_says_to_start_one(env: Path) -> None:
    (env / "orders.csv").write_text("order_id,ts,lines,units,center_id\n1,2026-03-02 10:00:00,1,2,FC-A\n")
    _said_broker_down(["replay", "orders.csv"], "replay")


def test_simulate_without_a_broker_says_to_start_one(env: Path) -> None:
    _said_broker_down(["simulate", "--days", "0", "--centers", "1", "--no-live"], "simulate")


class _NeverAnswers:
    """kafka-python's admin client when no broker answers (after its 15 s bootstrap timeout)."""

    def __init__(self, **configs: object) -> None:
        from kafka.errors import KafkaTimeoutError

        raise KafkaTimeoutError(f"Unable to bootstrap from {configs['bootstrap_servers']}")


def test_the_worker_without_a_broker_says_to_start_one(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kafka

    monkeypatch.setattr(kafka, "KafkaAdminClient", _NeverAnswers)
    _said_broker_down(["worker"], "worker")


def test_a_producer_waits_for_a_broker_as_long_as_the_setting_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """simulate, replay and the forecast's publishing give up on a silent broker after
    FCPLAN_KAFKA_CONNECT_TIMEOUT_S (kafka-python's own default is 30 s)."""
    import kafka

    from fcplan.streams.producer import JsonProducer

    seen: dict[str, object] = {}

    class _Recorded:
        def __init__(self, **configs: object) -> None:
            seen.update(configs)

    monkeypatch.setattr(kafka, "KafkaProducer", _Recorded)
    JsonProducer(NOWHERE, connect_timeout_s=WAIT_S)
    assert seen["bootstrap_timeout_ms"] == 1500
