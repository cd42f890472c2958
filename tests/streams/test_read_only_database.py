"""PostgreSQL read-only (a hot standby after a failover, ``default_transaction_read_only`` set by an
operator, or by a cloud provider whose storage is full) is an outage, waited out, not bad data.

Before, its error (SQLSTATE 25006, raised by psycopg as InternalError) was taken for a fault of the
records: every batch was bisected down to single records; the orders writer then failed on its counters
and the consumer stopped and started again every 30 s, and every promotion was dead-lettered as
``unwritable`` while the database could not be written."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from fcplan.core.contracts import Promotion
from fcplan.storage import make_engine
from fcplan.storage.outage import Backoff, is_outage
from fcplan.streams.batch_decode import Fetch
from fcplan.streams.order_writer import process_fetch
from fcplan.streams.sink import store_promotions
from fcplan.streams.validation import Limits

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

ADMIN_URL = os.environ.get("FCPLAN_TEST_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
FAST = Backoff(0.01, 2.0, 0.05)


def read_only(db_url: str, on: bool) -> None:
    """The test's database read-only (or writable again) for new sessions; its open sessions are ended,
    as a failover ends them."""
    name = db_url.rsplit("/", 1)[1]
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            setting = "on" if on else "off"
            conn.execute(sa.text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {setting}'))
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
    finally:
        admin.dispose()


def fetch(*ids: str) -> Fetch:
    ts = datetime.now(UTC).replace(minute=0, second=0, microsecond=0).isoformat()
    return Fetch.of([json.dumps({"order_id": i, "center_id": "FC1", "ts": ts, "lines": 1, "units": 2}).encode()
                     for i in ids])


def test_orders_written_while_postgresql_is_read_only_wait_for_it_and_are_stored(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        assert process_fetch(fetch("a-1"), engine, Limits(), backoff=FAST).dead == []
        read_only(pg_url, True)
        waits = []

        def keep_going() -> bool:
            waits.append(1)
            if len(waits) == 4:
                read_only(pg_url, False)
            return True

        written = process_fetch(fetch("b-1", "b-2", "b-3"), engine, Limits(), keep_going=keep_going, backoff=FAST)
        assert written.dead == []
        assert len(waits) >= 4
        with engine.connect() as conn:
            stored = sorted(conn.execute(sa.text("SELECT order_id FROM orders")).scalars())
            counts = conn.execute(sa.text("SELECT reason, value FROM stream_metrics WHERE name = 'orders'"))
            counted = {reason: value for reason, value in counts}
        assert stored == ["a-1", "b-1", "b-2", "b-3"]
        assert counted == {"accepted": 4}
    finally:
        engine.dispose()


def test_promotions_written_while_postgresql_is_read_only_are_an_outage_not_unwritable(pg_url: str) -> None:
    engine = make_engine(pg_url)
    promo = Promotion.model_validate({"promo_id": "P1", "start": "2026-12-10T00:00:00Z",
                                      "end": "2026-12-11T00:00:00Z", "kind": "sale", "discount_pct": 10})
    try:
        read_only(pg_url, True)
        engine.dispose()  # not the ended session's error: the read-only one's
        with pytest.raises(Exception) as caught:  # any exception, as long as it is an outage
            store_promotions(engine, [promo])
        assert is_outage(caught.value), caught.value
        read_only(pg_url, False)
        assert store_promotions(engine, [promo]).unwritable == []
    finally:
        engine.dispose()
