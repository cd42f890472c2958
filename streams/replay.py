"""Replay a real order file onto the ``orders`` topic (``fcplan replay``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from fcplan.core.contracts import ORDERS
from fcplan.core.panel import PanelError, parse_timestamps
from fcplan.streams.producer import JsonProducer


class ReplayError(ValueError):
    pass


def read_orders(path: Path, center_column: str, timezone: str) -> pd.DataFrame:
    """Load ``order_id, <center_column>, ts[, lines, units]`` from a CSV (``.gz`` ok).

    Naive timestamps are local times in ``timezone``; rows come back in time order
    with columns ``order_id, center_id, ts (tz-aware), lines, units``. Anything that
    would fail or be changed while sending (an empty or fractional count, an unknown zone,
    a row without an order id) is a :class:`ReplayError` naming it, before any order is sent.
    """
    if not path.exists():
        raise ReplayError(f"{path} does not exist")
    if not path.is_file():
        raise ReplayError(f"{path} is a directory; pass an order CSV file")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ReplayError(f"unknown time zone {timezone!r}; pass an IANA zone such as Europe/London") from exc
    try:
        frame = pd.read_csv(path, dtype={"order_id": str, center_column: str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise ReplayError(f"{path.name} is not a readable CSV ({' '.join(str(exc).split())}); give a comma-separated "
                          f"file (.csv or .csv.gz) with order_id, ts, lines, units and {center_column}") from exc
    needed = ["order_id", center_column, "ts"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ReplayError(
            f"{path.name} lacks column(s) {missing}; it has {list(frame.columns)}. "
            "Pass --center-column with the column that names the center/region."
        )
    _require(frame["order_id"].notna() & (frame["order_id"].astype(str).str.strip() != ""), frame, "order_id",
             "is empty", "give every order its id")
    # an order without a center was sent to a center named "unknown", planned like a real one
    _require(frame[center_column].notna() & (frame[center_column].astype(str).str.strip() != ""), frame,
             center_column, "is empty", "give every order its center, or drop those rows")
    ts = _timestamps(frame["ts"], zone)
    out = pd.DataFrame(
        {
            "order_id": frame["order_id"],
            "center_id": frame[center_column].astype(str),
            "ts": ts,
            "lines": _counts(frame, "lines"),
            "units": _counts(frame, "units"),
        }
    )
    return out.sort_values("ts", kind="stable").reset_index(drop=True)


def _require(ok: pd.Series, frame: pd.DataFrame, column: str, what: str, fix: str) -> None:
    if not ok.all():
        rows = np.flatnonzero(~ok.to_numpy())
        value = frame[column].iloc[rows[0]]
        shown = "empty" if pd.isna(value) else repr(value.item() if isinstance(value, np.generic) else value)
        raise ReplayError(
            f"{column} {what} in {len(rows)} row(s), e.g. line {rows[0] + 2} ({shown}); "
            f"{fix}; nothing was sent"
        )


def _counts(frame: pd.DataFrame, column: str) -> pd.Series | int:
    """A ``lines``/``units`` column as whole numbers of at least 1 (1 when the file has none):
    an empty cell, text or 2.5 failed half-way through the replay or was cut to 2."""
    if column not in frame.columns:
        return 1
    values = pd.to_numeric(frame[column], errors="coerce")
    ok = values.notna() & np.isfinite(values.astype("float64")) & (values >= 1) & (values == values.round())
    _require(ok, frame, column, "is not a whole number of at least 1", "fix those rows or drop the column (1 each)")
    return values.astype("int64") if values.abs().max() < 2**53 else values.map(int)


def _timestamps(raw: pd.Series, zone: ZoneInfo) -> pd.Series:
    """``ts`` as tz-aware times: naive ones local to ``zone``, offsets kept as instants (a file
    with +00:00 and +01:00 rows across daylight saving failed with 'Mixed timezones')."""
    text = raw.astype("string").str.strip()
    offset = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True).fillna(False)
    if offset.any() and not offset.all():
        _require(offset, pd.DataFrame({"ts": raw}), "ts", "has no UTC offset while other rows have one",
                 "write every row with its offset, or none (then --timezone applies)")
    try:
        ts = pd.to_datetime(raw, errors="coerce", format="mixed", utc=bool(offset.all()))
    except (ValueError, TypeError, OverflowError) as exc:
        raise ReplayError(f"ts is not readable ({exc}); write it as YYYY-MM-DD HH:MM:SS[+HH:MM]") from exc
    if not offset.all() and ts.notna().all():  # naive times, read as a person reads them, one layout for every
        # row: 1772445600 was 1970-01-01 00:00:01.77, "02/03/2026" February 3 beside "13/03/2026" March 13
        try:
            ts = parse_timestamps(raw, "orders")
        except PanelError as exc:
            raise ReplayError(" ".join(str(exc).split()).replace("orders.ds", "ts")) from exc
    if ts.isna().any():
        bad = raw[ts.isna()].head(3).tolist()
        raise ReplayError(f"{int(ts.isna().sum())} rows have unreadable ts, e.g. {bad}")
    if ts.dt.tz is None:
        # A wall-clock time that occurs twice (DST ends) is taken as standard time.
        ts = ts.dt.tz_localize(zone.key, ambiguous=np.zeros(len(ts), dtype=bool), nonexistent="shift_forward")
    return ts


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


def replay(path: Path, center_column: str, timezone: str, servers: str, connect_timeout_s: float = 30.0) -> int:
    """Send every order of the file; returns how many were sent."""
    frame = read_orders(path, center_column, timezone)
    with JsonProducer(servers, client_id="fcplan-replay", connect_timeout_s=connect_timeout_s) as producer:
        return producer.send_many(ORDERS, order_records(frame))
