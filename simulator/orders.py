"""Individual simulated orders, drawn so that each daily total is exactly negative binomial.

For each center and local day: the total ``N ~ NB(mean_day, dispersion)``
(numpy's ``negative_binomial(r, r / (r + mean_day))``, the same law as
``scipy.stats.nbinom(r, r / (r + mean_day))``), split across the local hours
multinomially by the hours' expected shares, each order placed uniformly in its
hour (millisecond resolution). Every center-day has its own generator keyed by
``(seed, center id, day)``, so any window reproduces the same orders, and
:func:`sample_daily_counts` gives the daily totals without drawing the orders.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from fcplan.core.locales import Locales
from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.simulator.demand import (
    DEFAULT_COUNTRY,
    DEFAULT_TZ,
    NS_PER_DAY,
    STREAM_ORDERS,
    CenterProfile,
    TimeLike,
    ZoneGroup,
    by_zone_frame,
    center_key,
    day_hours,
    day_starts,
    local_days,
    to_instant,
    to_local_day,
    zone_groups,
)
from fcplan.simulator.expected import hourly_matrix
from fcplan.simulator.promotions import SimulatedPromotion
from fcplan.simulator.shifts import Shift, shift_factors

ORDER_COLUMNS = ["order_id", "center_id", "ts", "lines", "units"]
_BLOCK_DAYS = 31  # days of expected demand computed at once
_DAY_KEY_OFFSET = 1_000_000  # keeps generator keys non-negative before 1970
_MS_PER_HOUR = 3_600_000


def _rng(seed: int, center_id: str, day: int) -> np.random.Generator:
    return np.random.default_rng([seed, STREAM_ORDERS, center_key(center_id), day + _DAY_KEY_OFFSET])


def _nb_total(rng: np.random.Generator, mean: float, dispersion: float) -> int:
    return int(rng.negative_binomial(dispersion, dispersion / (dispersion + mean)))


def _day_window(start: TimeLike, end: TimeLike, tz: str) -> pd.DatetimeIndex:
    """Local days covering the instants ``[start, end)``."""
    last = to_instant(end, tz) - pd.Timedelta(1, "ns")
    return local_days(start, to_local_day(last, tz) + pd.Timedelta(days=1), tz)


def _blocks(days: pd.DatetimeIndex) -> Iterator[pd.DatetimeIndex]:
    for i in range(0, len(days), _BLOCK_DAYS):
        yield days[i : i + _BLOCK_DAYS]


def _block_means(
    centers: Sequence[CenterProfile],
    promotions: Sequence[SimulatedPromotion],
    block: pd.DatetimeIndex,
    tz: str,
    country: str | None,
    shifts: Sequence[Shift] = (),
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray, np.ndarray]:
    """Hours of ``block``, hourly means ``(C, H)``, daily means ``(C, D)``, day bounds ``(D + 1,)``."""
    hours = day_hours(block, tz)
    hourly = hourly_matrix(centers, promotions, hours, country)
    if shifts:
        hourly = hourly * shift_factors([c.center_id for c in centers], shifts, hours)
    starts = day_starts(hours)
    return hours, hourly, np.add.reduceat(hourly, starts, axis=1), np.r_[starts, len(hours)]


def sample_daily_counts(
    centers: Sequence[CenterProfile],
    promotions: Sequence[SimulatedPromotion],
    start: TimeLike,
    end: TimeLike,
    seed: int = 0,
    tz: str = DEFAULT_TZ,
    country: str | None = DEFAULT_COUNTRY,
    locales: Locales | None = None,
) -> pd.DataFrame:
    """The daily order totals that :func:`generate_orders` draws, for local days
    ``[start, end)`` (each center's own with ``locales``), without drawing the orders.

    Returns columns ``unique_id``, ``ds`` (tz-naive local date), ``y`` (float
    count) and ``mean`` (the true expected count); rows by center, then ``ds``.
    """

    def frame(group: list[CenterProfile], g: ZoneGroup) -> pd.DataFrame:
        return _daily_counts(group, promotions, local_days(start, end, g.tz), seed, g.tz, g.country)

    return by_zone_frame(centers, zone_groups(centers, locales, tz, country), frame)


def _daily_counts(
    centers: Sequence[CenterProfile],
    promotions: Sequence[SimulatedPromotion],
    days: pd.DatetimeIndex,
    seed: int,
    tz: str,
    country: str | None,
) -> pd.DataFrame:
    means = np.zeros((len(centers), len(days)))
    counts = np.zeros((len(centers), len(days)))
    offset = 0
    for block in _blocks(days):
        _, _, daily, _ = _block_means(centers, promotions, block, tz, country)
        numbers = block.as_unit("ns").asi8 // NS_PER_DAY
        for i, c in enumerate(centers):
            for j, day in enumerate(numbers):
                counts[i, offset + j] = _nb_total(
                    _rng(seed, c.center_id, int(day)), daily[i, j], c.dispersion
                )
        means[:, offset : offset + len(block)] = daily
        offset += len(block)
    return pd.DataFrame(
        {
            UNIQUE_ID: np.repeat([c.center_id for c in centers], len(days)),
            DS: np.tile(days, len(centers)),
            Y: counts.ravel(),
            "mean": means.ravel(),
        }
    )


def _order_chunks(
    centers: Sequence[CenterProfile],
    promotions: Sequence[SimulatedPromotion],
    start: TimeLike,
    end: TimeLike,
    seed: int,
    tz: str,
    country: str | None,
    shifts: Sequence[Shift] = (),
) -> Iterator[dict[str, np.ndarray]]:
    """Per local day, the orders of all centers in ``[start, end)`` in time order, as
    arrays: ``center`` (index into ``centers``), ``ts`` (UTC epoch ns), ``offset``
    (local minus UTC, ns), ``seq`` (1-based rank in its center-day), ``day``
    (local day number), ``lines``, ``units``."""
    lo_ns = int(to_instant(start, tz).as_unit("ns").value)
    hi_ns = int(to_instant(end, tz).as_unit("ns").value)
    for block in _blocks(_day_window(start, end, tz)):
        hours, means, daily, bounds = _block_means(centers, promotions, block, tz, country, shifts)
        hour_ns = hours.asi8
        hour_offset = hours.tz_localize(None).as_unit("ns").asi8 - hour_ns
        for j, day in enumerate(block.as_unit("ns").asi8 // NS_PER_DAY):
            h0, h1 = bounds[j], bounds[j + 1]
            parts = []
            for i, c in enumerate(centers):
                rng = _rng(seed, c.center_id, int(day))
                mu = means[i, h0:h1]
                total = _nb_total(rng, daily[i, j], c.dispersion)
                per_hour = rng.multinomial(total, mu / mu.sum())
                hour_idx = np.repeat(np.arange(h0, h1), per_hour)
                ts = np.sort(hour_ns[hour_idx] + rng.integers(0, _MS_PER_HOUR, total) * 1_000_000)
                lines = 1 + rng.poisson(c.lines_extra_mean, total)
                units = lines + rng.poisson(c.units_extra_per_line * lines)
                parts.append(
                    (np.full(total, i), ts, hour_offset[hour_idx], np.arange(1, total + 1), lines, units)
                )
            center, ts, offset, seq, lines, units = (np.concatenate(a) for a in zip(*parts, strict=True))
            order = np.argsort(ts, kind="stable")
            keep = order[(ts[order] >= lo_ns) & (ts[order] < hi_ns)]
            if keep.size:
                yield {
                    "center": center[keep],
                    "ts": ts[keep],
                    "offset": offset[keep],
                    "seq": seq[keep],
                    "day": np.full(keep.size, day),
                    "lines": lines[keep],
                    "units": units[keep],
                }


def _zone_chunks(
    centers: Sequence[CenterProfile],
    promotions: Sequence[SimulatedPromotion],
    start: TimeLike,
    end: TimeLike,
    seed: int,
    tz: str,
    country: str | None,
    shifts: Sequence[Shift],
    locales: Locales | None,
) -> Iterator[dict[str, np.ndarray]]:
    """:func:`_order_chunks` of each zone group (``[start, end)`` instants, naive in
    ``tz``), merged in time order; ``center`` indexes ``centers``."""
    groups = zone_groups(centers, locales, tz, country)
    lo, hi = to_instant(start, tz), to_instant(end, tz)
    if len(groups) == 1:
        yield from _order_chunks(centers, promotions, lo, hi, seed, groups[0].tz, groups[0].country, shifts)
        return
    streams = [
        _relabel(_order_chunks(g.pick(centers), promotions, lo, hi, seed, g.tz, g.country, shifts), g.rows)
        for g in groups
    ]
    yield from _merge_chunks(streams)


def _relabel(chunks: Iterator[dict[str, np.ndarray]], rows: tuple[int, ...]) -> Iterator[dict[str, np.ndarray]]:
    index = np.asarray(rows)
    for chunk in chunks:
        yield {**chunk, "center": index[chunk["center"]]}


def _merge_chunks(streams: list[Iterator[dict[str, np.ndarray]]]) -> Iterator[dict[str, np.ndarray]]:
    """Time-ordered chunks of time-ordered chunk streams: everything up to the earliest
    last time of the streams' current chunks goes out (no later chunk can precede it)."""
    heads: list[dict[str, np.ndarray] | None] = [next(s, None) for s in streams]
    while any(h is not None for h in heads):
        live = [h for h in heads if h is not None]
        bound = min(int(h["ts"][-1]) for h in live)
        merged = {key: np.concatenate([h[key][h["ts"] <= bound] for h in live]) for key in live[0]}
        order = np.argsort(merged["ts"], kind="stable")
        yield {key: value[order] for key, value in merged.items()}
        for k, head in enumerate(heads):
            if head is None:
                continue
            rest = head["ts"] > bound
            heads[k] = {key: value[rest] for key, value in head.items()} if rest.any() else next(streams[k], None)


def _offset_text(offset_ns: int) -> str:
    minutes = offset_ns // 60_000_000_000
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _iso(ts: np.ndarray, offset: np.ndarray) -> list[str]:
    """ISO 8601 local times with offset, e.g. ``2025-10-06T14:23:05.123+09:00``."""
    local = np.datetime_as_string((ts + offset).astype("datetime64[ns]"), unit="ms")
    uniq, inv = np.unique(offset, return_inverse=True)
    suffix = [_offset_text(int(o)) for o in uniq]
    if len(suffix) == 1:
        return [s + suffix[0] for s in local.tolist()]
    return [s + suffix[k] for s, k in zip(local.tolist(), inv.tolist(), strict=True)]


@lru_cache(maxsize=4)
def _padded(size: int) -> tuple[str, ...]:
    """``("000000", "000001", ...)``: formatting once makes ids 2-3x faster to build."""
    return tuple(f"{k:06d}" for k in range(size))


def _order_ids(centers: Sequence[CenterProfile], chunk: dict[str, np.ndarray]) -> list[str]:
    """``<center id>-<local yyyymmdd>-<rank in center-day, 6 digits>`` (a chunk of
    several zones holds several local days)."""
    days, inv = np.unique(chunk["day"], return_inverse=True)
    dates = [pd.Timestamp(int(d) * NS_PER_DAY).strftime("%Y%m%d") for d in days]
    prefix = [f"{c.center_id}-{date}-" for date in dates for c in centers]
    which = inv.reshape(-1) * len(centers) + chunk["center"]
    seq = chunk["seq"]
    pad = _padded(1 << max(int(seq.max()), 1 << 15).bit_length())
    return [prefix[i] + pad[k] for i, k in zip(which.tolist(), seq.tolist(), strict=True)]


def generate_orders(
    centers: Sequence[CenterProfile],
    promotions: Sequence[SimulatedPromotion],
    start: TimeLike,
    end: TimeLike,
    seed: int = 0,
    tz: str = DEFAULT_TZ,
    country: str | None = DEFAULT_COUNTRY,
    shifts: Sequence[Shift] = (),
    locales: Locales | None = None,
) -> Iterator[dict[str, Any]]:
    """Orders with ``ts`` in ``[start, end)``, lazily, in timestamp order.

    Each order is a dict: ``order_id`` (str, e.g. ``"FC-BUSAN-20251006-000042"``:
    center, local date, rank in that center-day; the same in any window),
    ``center_id`` (str), ``ts`` (ISO 8601 local time with offset, e.g.
    ``"2025-10-06T14:23:05.123+09:00"``), ``lines`` (int >= 1), ``units``
    (int >= lines). Memory stays at one day of orders. With ``locales`` each center's
    orders follow its own zone and holidays (its ``ts`` carries its zone's offset, its
    order ids its local date); a naive ``start``/``end`` is then in ``tz``.
    """
    ids = [c.center_id for c in centers]
    for chunk in _zone_chunks(centers, promotions, start, end, seed, tz, country, shifts, locales):
        for oid, cidx, ts, lines, units in zip(
            _order_ids(centers, chunk),
            chunk["center"].tolist(),
            _iso(chunk["ts"], chunk["offset"]),
            chunk["lines"].tolist(),
            chunk["units"].tolist(),
            strict=True,
        ):
            yield {"order_id": oid, "center_id": ids[cidx], "ts": ts, "lines": lines, "units": units}


def generate_order_frame(
    centers: Sequence[CenterProfile],
    promotions: Sequence[SimulatedPromotion],
    start: TimeLike,
    end: TimeLike,
    seed: int = 0,
    tz: str = DEFAULT_TZ,
    country: str | None = DEFAULT_COUNTRY,
    shifts: Sequence[Shift] = (),
    locales: Locales | None = None,
) -> pd.DataFrame:
    """The orders of :func:`generate_orders` as one frame, for fast backfill.

    Columns: ``order_id`` (str), ``center_id`` (str), ``ts`` (tz-aware datetime
    in ``tz``: the instant, whatever the center's zone), ``lines`` (int64), ``units``
    (int64); rows in timestamp order.
    """
    chunks = list(_zone_chunks(centers, promotions, start, end, seed, tz, country, shifts, locales))
    if not chunks:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in ORDER_COLUMNS})
        empty["ts"] = pd.to_datetime(empty["ts"], utc=True).dt.tz_convert(tz)
        return empty.astype({"lines": "int64", "units": "int64"})
    ids = np.array([c.center_id for c in centers], dtype=object)
    center = np.concatenate([ch["center"] for ch in chunks])
    ts = np.concatenate([ch["ts"] for ch in chunks])
    return pd.DataFrame(
        {
            "order_id": [oid for ch in chunks for oid in _order_ids(centers, ch)],
            "center_id": ids[center],
            "ts": pd.to_datetime(ts, unit="ns", utc=True).tz_convert(tz),
            "lines": np.concatenate([ch["lines"] for ch in chunks]).astype("int64"),
            "units": np.concatenate([ch["units"] for ch in chunks]).astype("int64"),
        }
    )
