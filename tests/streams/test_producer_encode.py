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


def test_record_batches_checksummed_with_the_compiled_crc32c_carry_kafka_pythons_own_checksum() -> None:
    """use_compiled_crc32c swaps kafka-python's pure-Python CRC-32C for aiokafka's: a batch
    built with it carries the checksum kafka-python's own function gives."""
    import kafka.record.default_records as records
    from kafka.record import util

    from fcplan.streams.producer import use_compiled_crc32c

    use_compiled_crc32c()
    builder = records.DefaultRecordBatchBuilder(
        magic=2, compression_type=0, is_transactional=False, producer_id=-1, producer_epoch=-1,
        base_sequence=-1, batch_size=1 << 20,
    )
    for i in range(50):
        builder.append(i, timestamp=1_700_000_000_000 + i, key=b"FC-1", value=bytes(range(256)) * (i + 1), headers=[])
    buffer = bytes(builder.build())
    batch = records.DefaultRecordBatch(buffer)
    assert batch.crc == util.crc32c_py(buffer[records.DefaultRecordBase.ATTRIBUTES_OFFSET :])
    assert [r.value for r in batch] == [bytes(range(256)) * (i + 1) for i in range(50)]
