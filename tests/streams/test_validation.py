"""Raw event bytes -> a record or a rejection with a reason (no broker)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from fcplan.core.contracts import Order, Promotion
from fcplan.streams.validation import (
    ABSURD,
    FUTURE,
    INVALID,
    MALFORMED,
    OVERSIZE,
    UNDECODABLE,
    UNKNOWN_CENTER,
    Limits,
    Rejected,
    exception_detail,
    parse_order,
    parse_promotion,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def order_bytes(**overrides: object) -> bytes:
    """A valid order event, with fields replaced (None drops a field)."""
    data: dict[str, object] = {
        "order_id": "o-1", "center_id": "ICN1", "ts": "2024-06-01T20:30:00+09:00", "lines": 2, "units": 3,
    }
    data.update(overrides)
    return json.dumps({k: v for k, v in data.items() if v is not None}).encode()


def promo_bytes(**overrides: object) -> bytes:
    data: dict[str, object] = {
        "promo_id": "p-1", "center_ids": ["ICN1"], "start": "2024-06-01T00:00:00+09:00",
        "end": "2024-06-03T00:00:00+09:00", "kind": "flash", "discount_pct": 20,
    }
    data.update(overrides)
    return json.dumps({k: v for k, v in data.items() if v is not None}).encode()


def reason(result: object) -> str:
    assert isinstance(result, Rejected), f"expected a rejection, got {result!r}"
    return result.reason


def test_a_valid_order_is_accepted_with_its_time_zone_kept() -> None:
    order = parse_order(order_bytes(), Limits(), NOW)
    assert isinstance(order, Order)
    assert order.ts == datetime(2024, 6, 1, 11, 30, tzinfo=UTC)
    assert order.units == 3


@pytest.mark.parametrize(
    "raw",
    [None, b"", b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'"an order"', b"42"],
    ids=["null", "empty", "broken-json", "not-utf8", "array", "string", "number"],
)
def test_when_bytes_are_not_a_json_object_then_the_order_is_malformed(raw: bytes | None) -> None:
    assert reason(parse_order(raw, Limits(), NOW)) == MALFORMED


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"order_id": None}, "order_id"),
        ({"order_id": ""}, "order_id"),
        ({"center_id": None}, "center_id"),
        ({"ts": "yesterday"}, "ts"),
        ({"lines": 0}, "lines"),
        ({"units": -1}, "units"),
        ({"lines": "two"}, "lines"),
    ],
)
def test_when_a_field_is_missing_or_wrong_then_the_order_is_invalid_and_names_it(
    overrides: dict, field: str
) -> None:
    result = parse_order(order_bytes(**overrides), Limits(), NOW)
    assert reason(result) == INVALID
    assert field in result.detail


def test_when_a_timestamp_has_no_time_zone_then_the_order_is_invalid() -> None:
    result = parse_order(order_bytes(ts="2024-06-01T11:30:00"), Limits(), NOW)
    assert reason(result) == INVALID
    assert "ts" in result.detail
    assert "timezone" in result.detail.lower()


def test_when_units_are_fewer_than_lines_then_the_order_is_invalid() -> None:
    result = parse_order(order_bytes(lines=5, units=4), Limits(), NOW)
    assert reason(result) == INVALID
    assert "units (4) must be at least lines (5)" in result.detail


def test_when_a_message_is_bigger_than_the_limit_then_it_is_oversize_before_parsing() -> None:
    raw = order_bytes(note="x" * 500)
    result = parse_order(raw, Limits(max_bytes=256), NOW)
    assert reason(result) == OVERSIZE
    assert f"{len(raw)} bytes, limit 256" in result.detail
    assert reason(parse_order(b"{" * 300, Limits(max_bytes=256), NOW)) == OVERSIZE


def test_unknown_fields_are_ignored() -> None:
    assert isinstance(parse_order(order_bytes(channel="app"), Limits(), NOW), Order)


@pytest.mark.parametrize("overrides", [{"lines": 10_001, "units": 10_001}, {"units": 1_000_001}])
def test_when_quantities_exceed_the_limits_then_the_order_is_an_absurd_quantity(overrides: dict) -> None:
    assert reason(parse_order(order_bytes(**overrides), Limits(), NOW)) == ABSURD


def test_quantities_at_the_limit_are_accepted() -> None:
    assert isinstance(parse_order(order_bytes(lines=1000, units=100_000), Limits(), NOW), Order)


def test_when_an_order_is_more_than_max_future_ahead_then_it_is_future() -> None:
    ahead = (NOW + timedelta(hours=1, seconds=1)).isoformat()
    result = parse_order(order_bytes(ts=ahead), Limits(), NOW)
    assert reason(result) == FUTURE
    assert "ahead of now" in result.detail


def test_an_order_exactly_max_future_ahead_is_accepted() -> None:
    at_limit = (NOW + timedelta(hours=1)).isoformat()
    assert isinstance(parse_order(order_bytes(ts=at_limit), Limits(), NOW), Order)


def test_old_orders_are_not_judged_late_here() -> None:
    old = (NOW - timedelta(days=400)).isoformat()
    assert isinstance(parse_order(order_bytes(ts=old), Limits(), NOW), Order)


def test_when_centers_are_listed_then_an_unlisted_center_is_unknown() -> None:
    limits = Limits(centers=frozenset({"ICN1", "PUS1"}))
    assert isinstance(parse_order(order_bytes(center_id="PUS1"), limits, NOW), Order)
    result = parse_order(order_bytes(center_id="GMP9"), limits, NOW)
    assert reason(result) == UNKNOWN_CENTER
    assert "'GMP9'" in result.detail


def test_when_no_centers_are_listed_then_every_center_is_accepted() -> None:
    assert isinstance(parse_order(order_bytes(center_id="ANY"), Limits(), NOW), Order)


# ---------------------------------------------------------------- promotions


def test_a_valid_promotion_is_accepted() -> None:
    promo = parse_promotion(promo_bytes(), Limits())
    assert isinstance(promo, Promotion)
    assert promo.center_ids == ["ICN1"]
    assert promo.status == "active"


@pytest.mark.parametrize("value", ["all", ["all"], None])
def test_all_centers_is_spelled_all_or_left_out(value: object) -> None:
    raw = promo_bytes(center_ids=value) if value is not None else promo_bytes(center_ids=None)
    promo = parse_promotion(raw, Limits(centers=frozenset({"ICN1"})))
    assert isinstance(promo, Promotion)
    assert promo.center_ids is None


def test_an_empty_center_list_is_invalid() -> None:
    result = parse_promotion(promo_bytes(center_ids=[]), Limits())
    assert reason(result) == INVALID
    assert "at least one center" in result.detail


@pytest.mark.parametrize("end", ["2024-05-31T00:00:00+09:00", "2024-06-01T00:00:00+09:00"])
def test_when_a_promotion_ends_before_or_as_it_starts_then_it_is_invalid(end: str) -> None:
    result = parse_promotion(promo_bytes(end=end), Limits())
    assert reason(result) == INVALID
    assert "must be after start" in result.detail


def test_when_a_promotion_lasts_over_a_year_then_it_is_invalid() -> None:
    result = parse_promotion(promo_bytes(end="2025-06-03T00:00:00+09:00"), Limits())
    assert reason(result) == INVALID
    assert "at most a year" in result.detail


def test_a_promotion_of_exactly_366_days_is_accepted() -> None:
    assert isinstance(parse_promotion(promo_bytes(end="2025-06-02T00:00:00+09:00"), Limits()), Promotion)


def test_a_promotion_for_an_unlisted_center_is_unknown_center() -> None:
    result = parse_promotion(promo_bytes(center_ids=["XXX"]), Limits(centers=frozenset({"ICN1"})))
    assert reason(result) == UNKNOWN_CENTER
    assert "['XXX']" in result.detail


def test_a_promotion_naming_a_listed_and_an_unlisted_center_is_kept_for_the_listed_one() -> None:
    from fcplan.streams.validation import PARTLY_UNKNOWN_CENTER, Narrowed

    result = parse_promotion(promo_bytes(center_ids=["ICN1", "XXX"]), Limits(centers=frozenset({"ICN1"})))
    assert isinstance(result, Narrowed)
    assert result.promotion.center_ids == ["ICN1"] and result.rejected.reason == PARTLY_UNKNOWN_CENTER
    assert "['XXX']" in result.rejected.detail


@pytest.mark.parametrize(
    "overrides",
    [{"discount_pct": 150}, {"status": "paused"}, {"start": "2024-06-01T00:00:00"}, {"kind": None}],
)
def test_a_promotion_with_a_bad_field_is_invalid(overrides: dict) -> None:
    assert reason(parse_promotion(promo_bytes(**overrides), Limits())) == INVALID


def test_a_promotion_that_is_not_json_is_malformed_and_a_huge_one_oversize() -> None:
    assert reason(parse_promotion(b"<xml/>", Limits())) == MALFORMED
    assert reason(parse_promotion(promo_bytes(note="x" * 300), Limits(max_bytes=256))) == OVERSIZE


# --------------------------------------------------------------------------- no record raises
class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("model", [Order, Promotion], ids=["order", "promotion"])
def test_when_judging_a_record_raises_then_it_is_rejected_as_undecodable_with_the_exception(
    monkeypatch: pytest.MonkeyPatch, model: type
) -> None:
    def explode(raw: bytes, **kw: object) -> object:
        raise Boom("the validator broke on this record")

    monkeypatch.setattr(model, "model_validate_json", explode)
    raw = order_bytes() if model is Order else promo_bytes()
    result = parse_order(raw, Limits(), NOW) if model is Order else parse_promotion(raw, Limits())
    assert reason(result) == UNDECODABLE
    assert result.detail == "Boom: the validator broke on this record"


def test_when_a_value_is_nested_thousands_of_levels_deep_then_it_is_rejected_not_raised() -> None:
    deep = order_bytes()[:-1] + b',"x":' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert reason(parse_order(deep, Limits(), NOW)) == MALFORMED
    assert reason(parse_promotion(promo_bytes()[:-1] + b',"x":' + b"[" * 5000 + b"]" * 5000 + b"}", Limits())) == (
        MALFORMED
    )


def test_an_exception_detail_is_short_and_always_encodable() -> None:
    detail = exception_detail(ValueError("\ud800" + "x" * 5000))
    detail.encode("utf-8")  # a lone surrogate would not encode
    assert detail.startswith("ValueError: \\ud800x") and len(detail) < 600
