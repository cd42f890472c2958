"""Pure simulated demand for fulfillment centers: profiles, promotions, orders, oracle.

No Kafka here: a producer streams :func:`generate_orders` and the promotions'
``to_event()``. Windows are half-open ``[start, end)``; naive times are local
(``Asia/Seoul`` by default). See :mod:`fcplan.simulator.demand` for the model.
"""

from fcplan.simulator.demand import CenterProfile, make_centers
from fcplan.simulator.expected import expected_daily, expected_hourly
from fcplan.simulator.oracle import COVARIATES, Oracle, simulate_daily_panel
from fcplan.simulator.orders import generate_order_frame, generate_orders, sample_daily_counts
from fcplan.simulator.promotions import (
    SimulatedPromotion,
    make_promotions,
    promotion_uplift,
    promotions_known_at,
)

__all__ = [
    "COVARIATES",
    "CenterProfile",
    "Oracle",
    "SimulatedPromotion",
    "expected_daily",
    "expected_hourly",
    "generate_order_frame",
    "generate_orders",
    "make_centers",
    "make_promotions",
    "promotion_uplift",
    "promotions_known_at",
    "sample_daily_counts",
    "simulate_daily_panel",
]
