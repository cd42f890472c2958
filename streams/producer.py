"""A small JSON producer (kafka-python) shared by the simulator, replay and the
runners that publish forecasts and plans. Keys are center ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from functools import cache
from types import TracebackType
from typing import Any

from fcplan.core.contracts import Record

log = logging.getLogger(__name__)


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def encode(record: Record | Mapping[str, Any]) -> bytes:
    """A typed contract record (:mod:`fcplan.core.contracts`) as its JSON, or a plain
    mapping (the fast path of the order generators) as compact JSON."""
    if isinstance(record, Record):
        return record.to_bytes()
    return json.dumps(record, default=_default, separators=(",", ":")).encode()


@cache  # once a process: the swap is process-wide
def use_compiled_crc32c() -> bool:
    """Give kafka-python aiokafka's compiled CRC-32C, unless it has a compiled one of its own.

    Without the optional ``crc32c`` package kafka-python checksums every record batch it
    builds or reads in pure Python, about 10 MB/s (a quarter of a producer's CPU with
    order-sized records, seconds per 20 MB). aiokafka, a dependency already (the
    worker's client), ships the same checksum compiled (about 2 GB/s). It is checked
    against kafka-python's on a sample before use. Returns whether it is in use.
    """
    import kafka.record.default_records as records
    from kafka.record import util

    if util.crc32c_c is not None:  # kafka-python found the crc32c package
        return False
    try:
        from aiokafka.record._crecords.cutil import crc32c_cython
    except ImportError:  # aiokafka without its extensions (AIOKAFKA_NO_EXTENSIONS)
        return False
    sample = bytes(range(256)) * 3
    if crc32c_cython(sample) != util.crc32c_py(sample):
        log.warning("aiokafka's CRC-32C disagrees with kafka-python's; keeping kafka-python's own")
        return False
    records.calc_crc32c = crc32c_cython
    return True


class JsonProducer:
    """``send(topic, key, record)``; batches with linger; ``close()`` flushes.

    Uses kafka-python with ``acks=all`` and retries; the embedded broker does not
    support idempotent producers, and none is needed: consumers are idempotent.
    """

    def __init__(self, servers: str, client_id: str = "fcplan", connect_timeout_s: float = 30.0) -> None:
        from kafka import KafkaProducer

        use_compiled_crc32c()
        self._producer = KafkaProducer(
            bootstrap_servers=servers,
            client_id=client_id,
            acks="all",
            retries=5,
            linger_ms=20,
            batch_size=512 * 1024,
            max_request_size=4 * 1024 * 1024,
            bootstrap_timeout_ms=round(connect_timeout_s * 1000),
        )
        self.sent = 0

    def send(self, topic: str, key: str, record: Record | Mapping[str, Any] | bytes) -> None:
        value = record if isinstance(record, bytes) else encode(record)
        self._producer.send(topic, key=key.encode(), value=value)
        self.sent += 1

    def send_many(self, topic: str, items: Iterable[tuple[str, Record | Mapping[str, Any] | bytes]]) -> int:
        n = 0
        for key, record in items:
            self.send(topic, key, record)
            n += 1
        return n

    def flush(self, timeout_s: float = 60.0) -> None:
        self._producer.flush(timeout=timeout_s)

    def close(self) -> None:
        self._producer.flush()
        self._producer.close()

    def __enter__(self) -> JsonProducer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
