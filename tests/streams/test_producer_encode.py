"""The producer's encoding: typed contract records and plain mappings give the same JSON shape."""

from __future__ import annotations

import json
from datetime import date

from fcplan.core.contracts import ForecastRecord, StaffingPlanRecord
from fcplan.streams.producer import encode


def test_when_a_typed_record_is_sent_then_its_json_is_the_contract() -> None:
    record = ForecastRecord(run_id="r1", model_version="v", center_id="FC-1", ds=date(2025, 1, 2),
                            quantiles={"0.5": 10.0})
    assert json.loads(encode(record)) == {
        "run_id": "r1", "model_version": "v", "center_id": "FC-1", "ds": "2025-01-02", "quantiles": {"0.5": 10.0},
    }


def test_when_a_plan_record_and_its_mapping_are_encoded_then_they_read_back_alike() -> None:
    fields = {"plan_id": "p", "center_id": "FC-1", "day": date(2025, 1, 2), "shift": "day", "packers": 3,
              "orders_planned": 120.5}
    assert json.loads(encode(StaffingPlanRecord(**fields))) == json.loads(encode(fields))
