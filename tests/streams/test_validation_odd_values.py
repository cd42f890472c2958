"""Event values nobody listed (session 13): a boolean for a count, an order stamped 1600, a
promotion in 2326, a promotion version stamped in year 9999. Each was accepted; now each is a
dead letter with a reason naming the field, on the authoritative and the batch path alike; and
rows stored before these checks no longer make every read of the hours or promotions fail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from fcplan.core.contracts import Order, Promotion
from fcplan.storage import make_engine, queries
from fcplan.storage.schema import center_hourly, promotions
from fcplan.streams.batch_decode import Fetch, decode_fetch
from fcplan.streams.validation import FUTURE, INVALID, Limits, Rejected, parse_order, parse_promotion

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def order_bytes(**overrides: object) -> bytes:
    data = {"order_id": "o-1", "center_id": "ICN1", "ts": "2026-12-06T20:30:00+09:00", "lines": 2, "units": 3}
    data.update(overrides)
    return json.dumps(data).encode()


def promo_bytes(**overrides: object) -> bytes:
    data = {"promo_id": "p-1", "center_ids": ["ICN1"], "start": "2026-12-10T00:00:00+09:00",
            "end": "2026-12-12T00:00:00+09:00", "kind": "flash", "discount_pct": 20}
    data.update(overrides)
    return json.dumps(data).encode()


def both_paths(raw: bytes) -> tuple[Order | Rejected, Rejected | None]:
    """parse_order's judgement, and the batch decoder's for the same value among good ones."""
    decoded = decode_fetch(Fetch.of([order_bytes(order_id="x"), raw, order_bytes(order_id="y")]), Limits(), NOW)
    fast = dict(decoded.rejected).get(1)
    return parse_order(raw, Limits(), NOW), fast


# "lines": true was stored as one line, "units": false refused only as "units >= 1".
@pytest.mark.parametrize("field", ["lines", "units"])
def test_a_boolean_count_is_a_dead_letter_naming_the_field(field: str) -> None:
    result, fast = both_paths(order_bytes(**{field: True}))
    assert isinstance(result, Rejected) and result.reason == INVALID
    assert field in result.detail and "boolean" in result.detail
    assert fast == result


def test_a_boolean_discount_is_a_dead_letter() -> None:
    result = parse_promotion(promo_bytes(discount_pct=True), Limits(), NOW)
    assert isinstance(result, Rejected) and result.reason == INVALID and "discount_pct" in result.detail


def test_counts_written_as_numbers_or_digits_are_still_accepted() -> None:
    for raw in (order_bytes(lines="2"), order_bytes(lines=2.0), order_bytes(units="3")):
        result, fast = both_paths(raw)
        assert isinstance(result, Order) and (result.lines, result.units) == (2, 3)
        assert fast is None


# A new center's first order stamped 1600 was stored (nothing was older than it); then every
# read of the hourly table (retrain, dashboard, drift monitor) raised OutOfBoundsDatetime.
@pytest.mark.parametrize("ts", ["1600-01-01T10:00:00+00:00", "0001-01-01T00:00:00+09:00", "1969-12-31T23:59:59Z"])
def test_an_order_stamped_before_1970_is_a_dead_letter(ts: str) -> None:
    result, fast = both_paths(order_bytes(ts=ts))
    assert isinstance(result, Rejected) and result.reason == INVALID
    assert "ts" in result.detail and "1970" in result.detail
    assert fast == result


def test_an_order_stamped_at_the_epoch_is_still_accepted() -> None:
    result, fast = both_paths(order_bytes(ts="1970-01-01T00:00:00Z"))
    assert isinstance(result, Order) and fast is None


# A promotion in 2326 (a typo for 2026) was stored; then every read of the calendar raised.
@pytest.mark.parametrize(("start", "end"), [("2326-01-01T00:00:00Z", "2326-01-03T00:00:00Z"),
                                            ("1600-01-01T00:00:00Z", "1600-01-03T00:00:00Z")])
def test_a_promotion_outside_1970_to_2200_is_a_dead_letter(start: str, end: str) -> None:
    result = parse_promotion(promo_bytes(start=start, end=end), Limits(), NOW)
    assert isinstance(result, Rejected) and result.reason == INVALID
    assert "start" in result.detail and "check the year" in result.detail


# The newest updated_at wins: a version stamped 9999 could never be corrected or cancelled again.
def test_a_promotion_version_stamped_in_the_future_is_a_dead_letter() -> None:
    result = parse_promotion(promo_bytes(updated_at="9999-01-01T00:00:00Z"), Limits(), NOW)
    assert isinstance(result, Rejected) and result.reason == FUTURE and "updated_at" in result.detail
    ok = parse_promotion(promo_bytes(updated_at=(NOW + timedelta(minutes=5)).isoformat()), Limits(), NOW)
    assert isinstance(ok, Promotion)


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path}/odd.db")
    yield eng
    eng.dispose()


# Rows stored before the checks above (an older worker): every read raised OutOfBoundsDatetime,
# so the retrainer failed on every cycle, for good. Now they are left out with a warning.
def test_stored_times_pandas_cannot_hold_are_left_out_of_reads(engine: Engine, caplog) -> None:
    now = datetime(2026, 1, 1)
    with engine.begin() as conn:
        conn.execute(center_hourly.insert(), [
            {"center_id": "A", "hour": datetime(1600, 1, 1, 10), "orders": 1, "lines": 1, "units": 1,
             "updated_at": now},
            {"center_id": "A", "hour": datetime(2025, 12, 30, 10), "orders": 4, "lines": 4, "units": 4,
             "updated_at": now},
        ])
        conn.execute(promotions.insert(), [
            {"promo_id": "typo", "center_ids": None, "start": datetime(2326, 1, 1), "end": datetime(2326, 1, 3),
             "kind": "sale", "discount_pct": 10.0, "status": "active", "updated_at": datetime(2326, 1, 1)},
            {"promo_id": "ok", "center_ids": None, "start": datetime(2025, 12, 1), "end": datetime(2025, 12, 3),
             "kind": "sale", "discount_pct": 10.0, "status": "active", "updated_at": datetime(2025, 12, 1)},
        ])
    daily = queries.daily_orders(engine, "UTC")
    assert daily["y"].tolist() == [4.0]
    assert queries.promotion_calendar(engine)["promo_id"].tolist() == ["ok"]
    assert "1600-01-01" in caplog.text and "typo" in caplog.text


# NaN (which pydantic's JSON parser reads) was refused as "less than or equal to 100".
def test_a_nan_discount_says_it_is_not_a_number() -> None:
    raw = promo_bytes().replace(b'"discount_pct": 20', b'"discount_pct": NaN')
    result = parse_promotion(raw, Limits(), NOW)
    assert isinstance(result, Rejected) and result.reason == INVALID
    assert "discount_pct" in result.detail and "NaN" in result.detail


# "ICN1\x00" was stored as a new center for good (hours, forecasts and plans of a center nobody
# runs); an order id with a BEL was stored too.
@pytest.mark.parametrize(("field", "value", "code"),
                         [("center_id", "ICN1\u0000", "U+0000"), ("order_id", "o\u0007x", "U+0007"),
                          ("center_id", "IC\u0085N1", "U+0085")])
def test_an_id_with_a_control_character_is_a_dead_letter_naming_it(field: str, value: str, code: str) -> None:
    result, fast = both_paths(order_bytes(**{field: value}))
    assert isinstance(result, Rejected) and result.reason == INVALID
    assert field in result.detail and code in result.detail
    assert fast == result


def test_ids_in_other_scripts_and_with_surrounding_whitespace_are_still_accepted() -> None:
    for raw in (order_bytes(center_id="서울-1"), order_bytes(center_id="ICN1\n")):
        result, fast = both_paths(raw)
        assert isinstance(result, Order) and fast is None


# [""] was stored and applied to no center; ["all", "ICN1"] was a center named "all"; ["ALL"] too.
@pytest.mark.parametrize(("ids", "expected"), [([""], "empty id"), (["ICN1", " "], "empty id"),
                                               (["all", "ICN1"], '"all" beside other centers'),
                                               (["ICN1\u0000"], "U+0000")])
def test_promotion_center_ids_that_name_no_center_are_a_dead_letter(ids: list[str], expected: str) -> None:
    result = parse_promotion(promo_bytes(center_ids=ids), Limits(), NOW)
    assert isinstance(result, Rejected) and result.reason == INVALID and expected in result.detail


@pytest.mark.parametrize("ids", ["all", ["all"], "ALL", [" All "]])
def test_all_in_any_case_means_every_center(ids) -> None:
    result = parse_promotion(promo_bytes(center_ids=ids), Limits(), NOW)
    assert isinstance(result, Promotion) and result.center_ids is None
