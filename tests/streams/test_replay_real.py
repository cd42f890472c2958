"""Real data end to end: ``fcplan replay`` of the Online Retail II orders through
the worker gives exactly the file's daily orders per region (local days,
Europe/London), and nothing is judged late, future or bad."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fcplan.core.contracts import ORDERS_DLQ
from fcplan.storage.queries import daily_orders

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DATA = Path(__file__).resolve().parents[2] / "data" / "online_retail_ii_orders.csv.gz"
TZ = "Europe/London"
TOTAL = 41_943


def file_daily_counts(path: Path) -> pd.DataFrame:
    """``unique_id (region), ds (local day), y`` straight from the file: its ``ts`` are
    naive local times, so the local day is the date as written."""
    raw = pd.read_csv(path, dtype={"order_id": str, "region": str}, usecols=["order_id", "ts", "region"])
    day = pd.to_datetime(raw["ts"], format="ISO8601").dt.normalize().astype("datetime64[ns]")
    out = raw.assign(ds=day).groupby(["region", "ds"], as_index=False).size()
    return out.rename(columns={"region": "unique_id", "size": "y"}).astype({"y": float})


def test_when_the_real_order_file_is_replayed_then_daily_orders_per_region_equal_the_file(stack):
    if not DATA.exists():
        pytest.fail(f"{DATA} is missing: the repository ships it (see data/README.md)")
    expected = file_daily_counts(DATA)
    assert expected["y"].sum() == TOTAL

    stack.start_worker(FCPLAN_TIMEZONE=TZ)
    done = stack.run_cli(
        "replay",
        str(DATA.relative_to(DATA.parents[1])),
        "--center-column",
        "region",
        "--timezone",
        TZ,
        FCPLAN_TIMEZONE=TZ,
    )
    assert f"sent {TOTAL} orders" in done.stdout, done.stdout

    def accounted() -> dict[str, int]:
        m = stack.metrics()
        return {
            "accepted": m[("orders", "accepted")],
            "duplicate": m[("orders", "duplicate")],
            "dead letters": sum(stack.dead_letter_metrics().values()),
        }

    stack.wait_for(
        "every replayed order accounted for", lambda: sum(accounted().values()), TOTAL, timeout_s=180
    )
    assert accounted() == {"accepted": TOTAL, "duplicate": 0, "dead letters": 0}, (
        f"dead letters by reason: {dict(stack.dead_letter_metrics())}"
    )
    assert stack.read_topic(ORDERS_DLQ, expected=0) == []

    found = daily_orders(stack.engine, TZ)
    assert (found["y"] >= 0).all() and found["y"].sum() == TOTAL
    found = found[found["y"] > 0].sort_values(["unique_id", "ds"]).reset_index(drop=True)
    found["ds"] = pd.to_datetime(found["ds"]).astype("datetime64[ns]")
    expected = expected.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        found[["unique_id", "ds", "y"]], expected[["unique_id", "ds", "y"]], check_dtype=False
    )
    # Spot checks a reader can verify by hand from the file.
    per_region = expected.groupby("unique_id")["y"].sum().to_dict()
    assert found.groupby("unique_id")["y"].sum().to_dict() == per_region
