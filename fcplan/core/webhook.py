"""An optional alert webhook: JSON POST with retries and backoff, on its own thread.

:meth:`Webhook.send` only puts the payload on a bounded queue and returns at
once, so a slow or dead endpoint never blocks the stream or the retrainer. A
payload is retried ``retries`` times with exponential backoff, then dropped and
counted (``failed``); when the queue is full the payload is dropped and counted
(``dropped``).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class Webhook:
    def __init__(
        self,
        url: str,
        retries: int = 5,
        backoff_s: float = 1.0,
        timeout_s: float = 5.0,
        max_queue: int = 1000,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(
                f"the alert webhook must be an http(s) URL, e.g. https://hooks.example.com/fcplan; got {url!r}"
            )
        self.url, self.retries, self.backoff_s, self.timeout_s = url, retries, backoff_s, timeout_s
        self.sent = self.failed = self.dropped = 0
        self._sleep = sleep
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="alert-webhook", daemon=True)
        self._thread.start()

    def send(self, payload: dict[str, Any]) -> bool:
        """Queue ``payload`` (JSON-serialisable); False when the queue is full (dropped)."""
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            self.dropped += 1
            log.warning("alert webhook queue full: an alert was not posted to %s", self.url)
            return False
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        """Post what is queued (within ``timeout_s``) and stop the thread."""
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            return
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while (payload := self._queue.get()) is not None:
            self._post(payload)

    def _post(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, default=str).encode()
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"}, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    if 200 <= response.status < 300:
                        self.sent += 1
                        return
            except Exception as exc:  # any failure is retried, then counted: the loop goes on
                log.info("alert webhook attempt %d to %s failed: %s", attempt + 1, self.url, exc)
            if attempt < self.retries:
                self._sleep(self.backoff_s * 2**attempt)
        self.failed += 1
        log.warning("alert webhook: gave up posting to %s after %d attempts", self.url, self.retries + 1)
