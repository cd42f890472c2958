"""A worker that stops posts the alerts still queued for the webhook before the process ends."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path
from typing import ClassVar

import pytest

import fcplan.streams.app as app_module
from fcplan.core.settings import Settings
from fcplan.storage import make_engine


class _Hook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_alerts_queued_when_the_worker_stops_are_posted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received.clear()
    monkeypatch.setenv("FCPLAN_FORECAST_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_address[1]}/hook")
    settings = Settings()
    engine = make_engine(f"sqlite:///{tmp_path / 'fcplan.db'}")
    monkeypatch.setattr("fcplan.streams.topics.ensure_topics", lambda *args: None)
    monkeypatch.setattr(app_module, "open_database", lambda url: engine)
    built: list[app_module.Worker] = []
    real_worker = app_module.Worker

    def worker(*args: object) -> app_module.Worker:
        built.append(real_worker(*args))
        return built[-1]

    class StopsAtOnce:
        """The faust worker, stopping just after the feed alert was queued (what SIGTERM does)."""

        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def execute_from_commandline(self) -> None:
            built[0].webhook.send({"kind": "feed_stopped", "opened": True})
            raise SystemExit(0)

    monkeypatch.setattr(app_module, "Worker", worker)
    monkeypatch.setattr(app_module, "_StoppingWorker", StopsAtOnce)
    with pytest.raises(SystemExit):
        app_module.run_worker(settings)
    # posted before run_worker returned, not later by a daemon thread that dies with the process
    assert not built[0].webhook._thread.is_alive()
    server.shutdown()
    assert _Hook.received == [{"kind": "feed_stopped", "opened": True}]

