"""The promotion status values have one name each: the contract's literal and the constant agree."""

from __future__ import annotations

from typing import get_args

from fcplan.core.contracts import CANCELLED, Promotion


def test_the_cancelled_constant_is_a_status_the_promotion_contract_accepts() -> None:
    assert CANCELLED in get_args(Promotion.model_fields["status"].annotation)
    promo = Promotion(promo_id="p", start="2024-06-01T00:00:00Z", end="2024-06-02T00:00:00Z", kind="discount",
                      discount_pct=5, status=CANCELLED)
    assert promo.status == CANCELLED
