"""The alert webhook retries with backoff and never blocks the caller."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from fcplan.core.webhook import Webhook


class Endpoint:
    """A local HTTP endpoint that fails its first ``failures`` requests with 503."""

    def __init__(self, failures: int) -> None:
        self.failures, self.bodies, self.calls = failures, [], 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.calls += 1
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.calls <= outer.failures:
                    self.send_response(503)
                else:
                    outer.bodies.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


@pytest.fixture
def endpoint() -> Iterator[callable]:
    made = []

    def make(failures: int) -> Endpoint:
        made.append(Endpoint(failures))
        return made[-1]

    yield make
    for e in made:
        e.server.shutdown()


def test_when_the_endpoint_fails_twice_then_the_third_attempt_delivers(endpoint) -> None:
    ep = endpoint(failures=2)
    waits: list[float] = []
    hook = Webhook(ep.url, retries=3, backoff_s=0.5, sleep=waits.append)
    hook.send({"center_id": "FC-A", "status": "open"})
    hook.close()
    assert ep.bodies == [{"center_id": "FC-A", "status": "open"}]
    assert waits == [0.5, 1.0] and (hook.sent, hook.failed) == (1, 0)


def test_when_the_endpoint_never_answers_well_then_the_alert_is_counted_failed(endpoint) -> None:
    ep = endpoint(failures=100)
    hook = Webhook(ep.url, retries=2, backoff_s=0.0, sleep=lambda s: None)
    hook.send({"n": 1})
    hook.close()
    assert (hook.sent, hook.failed, ep.calls) == (0, 1, 3)


def test_send_never_blocks_when_the_queue_is_full() -> None:
    release = threading.Event()
    # the first payload fails at once and its backoff holds the thread until released
    hook = Webhook("http://127.0.0.1:9/never", retries=1, max_queue=1, sleep=lambda s: release.wait())
    results = [hook.send({"n": i}) for i in range(50)]
    assert results.count(False) >= 48 and hook.dropped == results.count(False)
    release.set()


def test_a_url_that_is_not_http_is_refused_with_an_example() -> None:
    with pytest.raises(ValueError, match="https://"):
        Webhook("hooks.example.com")
