"""Replay a real order file onto the ``orders`` topic (``fcplan replay``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from fcplan.core.contracts import ORDERS
from fcplan.streams.producer import JsonProducer


class ReplayError(ValueError):
    pass


def read_orders(path: Path, center_column: str, timezone: str) -> pd.DataFrame:
    """Load ``order_id, <center_column>, ts[, lines, units]`` from a CSV (``.gz`` ok).

    Naive timestamps are local times in ``timezone``; rows come back in time order
    with columns ``order_id, center_id, ts (tz-aware), lines, units``.
    """
    if not path.exists():
        raise ReplayError(f"{path} does not exist")
    frame = pd.read_csv(path, dtype={"order_id": str, center_column: str})
    needed = ["order_id", center_column, "ts"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ReplayError(
            f"{path.name} lacks column(s) {missing}; it has {list(frame.columns)}. "
            "Pass --center-column with the column that names the center/region."
        )
    ts = pd.to_datetime(frame["ts"], errors="coerce", format="mixed")
    if ts.isna().any():
        bad = frame.loc[ts.isna(), "ts"].head(3).tolist()
        raise ReplayError(f"{int(ts.isna().sum())} rows have unreadable ts, e.g. {bad}")
    if ts.dt.tz is None:
        # A wall-clock time that occurs twice (DST ends) is taken as standard time.
        ts = ts.dt.tz_localize(timezone, ambiguous=np.zeros(len(ts), dtype=bool), nonexistent="shift_forward")
    out = pd.DataFrame(
        {
            "order_id": frame["order_id"],
            "center_id": frame[center_column].fillna("unknown").astype(str),
            "ts": ts,
            "lines": frame.get("lines", 1),
            "units": frame.get("units", 1),
        }
    )
    return out.sort_values("ts", kind="stable").reset_index(drop=True)


def order_records(frame: pd.DataFrame) -> Iterator[tuple[str, dict]]:
    for order_id, center, ts, lines, units in zip(
        frame["order_id"], frame["center_id"], frame["ts"], frame["lines"], frame["units"], strict=True
    ):
        yield (
            center,
            {
                "order_id": order_id,
                "center_id": center,
                "ts": ts.isoformat(),
                "lines": int(lines),
                "units": int(units),
            },
        )


def replay(path: Path, center_column: str, timezone: str, servers: str) -> int:
    """Send every order of the file; returns how many were sent."""
    frame = read_orders(path, center_column, timezone)
    with JsonProducer(servers, client_id="fcplan-replay") as producer:
        return producer.send_many(ORDERS, order_records(frame))
