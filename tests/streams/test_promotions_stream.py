"""The promotions stream end to end: versions (newest ``updated_at`` wins, an
older one arriving late never overwrites), cancellation, and bad input to
``promotions-dlq`` with the original bytes while the worker goes on."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

import pytest

from fcplan.core.contracts import PROMOTIONS, PROMOTIONS_DLQ

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def promo(promo_id: str, updated_at: str | None, **fields: object) -> dict:
    out = {
        "promo_id": promo_id,
        "center_ids": ["FC-A"],
        "start": "2024-06-01T00:00:00+09:00",
        "end": "2024-06-03T00:00:00+09:00",
        "kind": "discount",
        "discount_pct": 10.0,
        "status": "active",
        "updated_at": updated_at,
    }
    out.update(fields)
    return {k: v for k, v in out.items() if v is not None}


def keyed(*promos: dict) -> list[tuple[str, bytes]]:
    return [(p["promo_id"], json.dumps(p).encode()) for p in promos]


def summary(stack) -> dict[str, tuple]:
    """``promo_id -> (status, discount_pct, updated_at naive UTC, center_ids)``."""
    return {
        pid: (row["status"], row["discount_pct"], row["updated_at"], row["center_ids"])
        for pid, row in stack.promotions().items()
    }


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_when_promotions_are_created_updated_reordered_and_cancelled_then_the_newest_version_is_stored(stack):
    stack.start_worker()
    accepted = lambda: stack.metrics()[("promotions", "accepted")]  # noqa: E731

    # Phase 1: creations; P4's newer version comes first in the same batch.
    phase_1 = keyed(
        promo("P1", "2024-05-01T10:00:00Z", discount_pct=10.0),
        promo("P2", "2024-05-01T10:00:00+09:00"),
        promo("P3", None, center_ids="all", discount_pct=5.0),  # no updated_at: the version is its start
        promo("P4", "2024-05-02T00:00:00Z", discount_pct=40.0),
        promo("P4", "2024-05-01T00:00:00Z", discount_pct=30.0),
    )
    stack.produce(PROMOTIONS, phase_1)
    stack.wait_for("promotions accepted", accepted, len(phase_1))
    assert summary(stack) == {
        "P1": ("active", 10.0, utc("2024-05-01T10:00:00"), ["FC-A"]),
        "P2": ("active", 10.0, utc("2024-05-01T01:00:00"), ["FC-A"]),
        "P3": ("active", 5.0, utc("2024-05-31T15:00:00"), None),
        "P4": ("active", 40.0, utc("2024-05-02T00:00:00"), ["FC-A"]),
    }

    # Phase 2: an update and a cancellation.
    phase_2 = keyed(
        promo("P1", "2024-05-03T00:00:00Z", discount_pct=25.0, center_ids=["FC-A", "FC-B"]),
        promo("P2", "2024-05-04T00:00:00Z", status="cancelled"),
    )
    stack.produce(PROMOTIONS, phase_2)
    stack.wait_for("promotions accepted", accepted, len(phase_1) + len(phase_2))

    # Phase 3: older versions arrive after the newer ones were stored.
    phase_3 = keyed(
        promo("P1", "2024-05-02T00:00:00Z", discount_pct=99.0),
        promo("P2", "2024-05-03T00:00:00Z", status="active"),
        promo("P4", "2024-05-01T12:00:00Z", discount_pct=1.0),
    )
    stack.produce(PROMOTIONS, phase_3)
    stack.wait_for("promotions accepted", accepted, len(phase_1) + len(phase_2) + len(phase_3))

    assert summary(stack) == {
        "P1": ("active", 25.0, utc("2024-05-03T00:00:00"), ["FC-A", "FC-B"]),
        "P2": ("cancelled", 10.0, utc("2024-05-04T00:00:00"), ["FC-A"]),
        "P3": ("active", 5.0, utc("2024-05-31T15:00:00"), None),
        "P4": ("active", 40.0, utc("2024-05-02T00:00:00"), ["FC-A"]),
    }
    row = stack.promotions()["P1"]
    assert (row["start"], row["end"]) == (utc("2024-05-31T15:00:00"), utc("2024-06-02T15:00:00"))
    assert stack.read_topic(PROMOTIONS_DLQ, expected=0) == []


def test_when_promotions_are_bad_then_each_goes_to_the_dlq_with_its_bytes_and_reason_and_the_worker_goes_on(
    stack,
):
    bad = [
        (b'{"promo_id": "B1", "start": ', "malformed"),
        (b'"just a string"', "malformed"),
        (
            json.dumps(promo("B2", None, end="2024-05-01T00:00:00Z")).encode(),
            "invalid",
        ),  # ends before it starts
        (json.dumps({"promo_id": "B3", "kind": "discount"}).encode(), "invalid"),  # missing fields
        (json.dumps(promo("B4", None, discount_pct=150)).encode(), "invalid"),
        (json.dumps(promo("B5", None, start="2024-06-01T00:00:00")).encode(), "invalid"),  # no zone
        (json.dumps(promo("B6", None, end="2026-06-03T00:00:00+09:00")).encode(), "invalid"),  # two years
        (json.dumps(promo("B7", None, center_ids=["FC-NOPE"])).encode(), "unknown_center"),
        # stored for FC-A, and dead-lettered whole for FC-NOPE
        (json.dumps(promo("B9", None, center_ids=["FC-A", "FC-NOPE"])).encode(), "unknown_center_partly"),
        (json.dumps(promo("B8", None, note="x" * 2000)).encode(), "oversize"),
    ]
    good_before = keyed(promo("G1", "2024-05-01T00:00:00Z"))
    good_after = keyed(promo("G2", "2024-05-01T00:00:00Z", center_ids=["FC-B"]))
    worker = stack.start_worker(FCPLAN_CENTERS="FC-A,FC-B", FCPLAN_STREAMS_MAX_MESSAGE_BYTES="1024")
    stack.produce(PROMOTIONS, good_before + [("bad", value) for value, _ in bad] + good_after)

    expected = Counter(reason for _, reason in bad)
    stack.wait_for(
        "promotion dead letters by reason",
        lambda: stack.dead_letter_metrics("promotions_dead_letters"),
        expected,
    )
    stack.wait_for("good promotions stored", lambda: sorted(stack.promotions()), ["B9", "G1", "G2"])
    assert stack.promotions()["B9"]["center_ids"] == ["FC-A"]
    dlq = stack.read_topic(PROMOTIONS_DLQ, expected=len(bad))
    reasons = {value: reason for value, reason in bad}
    assert sorted(r["value"] for r in dlq) == sorted(reasons), "dead letters are byte-exact copies, once each"
    for rec in dlq:
        assert rec["headers"]["dlq.reason"] == reasons[rec["value"]], (rec["value"][:60], rec["headers"])
        assert rec["headers"]["dlq.topic"] == PROMOTIONS
        assert rec["key"] == b"bad"
    assert stack.metrics()[("promotions", "accepted")] == 2
    assert worker.alive(), f"the worker died on bad input:\n{worker.tail()}"
