"""Test wQL against log(pool size), the scaling law of NAVER CLOVA's ensgen.

Pools grow from one statistical model to four model families, then to bagged
variants of them (other seeds and lookbacks, ``run_engine(bags=...)``); the two
baselines are always in the pool. On each panel the last ``--tests`` windows of
14 days are held out one at a time: the engine backtests, weights and calibrates
on the history before the window, forecasts it and is scored on it (mean wQL over
levels 0.1..0.9). The slope of wQL against log2(pool size) is fitted by least
squares (negative: a bigger pool helps). A PNG of wQL (y) against log2 pool size
(x) is written to ``var/pool_scaling.png`` (drawn with the standard library: no
labels; the JSON carries the numbers). The last line is one JSON object.

Panels: the simulator (fcplan.simulator), the Online Retail daily orders
(data/online_retail_ii_orders.csv.gz) and a synthetic panel with level shifts
(see benchmarks/calibration.py). Run with ``OMP_NUM_THREADS=1 nice -n 10
.venv/bin/python benchmarks/pool_scaling.py`` (``--quick``: 2 panels, 1 window, 4 pools).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import struct
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
from calibration import held_out, panels  # benchmarks/calibration.py: the same panels and windows

from fcplan.core.panel import KEYS, Y
from fcplan.core.quantiles import quantile_columns
from fcplan.models.engine import run_engine
from fcplan.models.metrics import wql

ROOT = Path(__file__).resolve().parents[1]
PNG = ROOT / "var" / "pool_scaling.png"
LEVELS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
COLS = quantile_columns(LEVELS)
FAMILIES = ["theta", "ets", "glm", "lightgbm"]
#: (models, bags): pools of growing size.
POOLS = [(["theta"], 1), (["theta", "ets"], 1), (FAMILIES, 1), (FAMILIES, 2), (FAMILIES, 3)]
PANELS = ("simulator", "online_retail", "level_shifts")


def run_pool(models: list[str], bags: int, tests: int, quick: bool) -> tuple[int, float]:
    """(pool size, mean test wQL over panels and held-out windows)."""
    scores, size = [], 0
    for name, (panel, horizon) in panels(quick).items():
        if name not in PANELS[: 2 if quick else 3]:
            continue
        for history, actuals in held_out(panel, horizon, tests):
            result = run_engine(history, horizon, LEVELS, freq="D", models=models, bags=bags)
            size = max(size, len(result.weights))
            scored = result.forecast.merge(actuals[[*KEYS, Y]], on=KEYS, how="inner")
            scores.append(wql(scored[Y].to_numpy("float64"), scored[COLS].to_numpy("float64"), LEVELS))
    return size, float(np.mean(scores))


def _line(img: np.ndarray, a: tuple[int, int], b: tuple[int, int], color: int = 0) -> None:
    n = max(abs(b[0] - a[0]), abs(b[1] - a[1]), 1)
    for t in np.linspace(0.0, 1.0, n + 1):
        img[round(a[1] + t * (b[1] - a[1])), round(a[0] + t * (b[0] - a[0]))] = color


def write_png(path: Path, x: list[float], y: list[float], width: int = 480, height: int = 320) -> None:
    """A grey-scale PNG: axes, the points (x, y) as squares joined by lines."""
    img = np.full((height, width), 255, dtype=np.uint8)
    pad = 30
    _line(img, (pad, height - pad), (width - pad, height - pad))
    _line(img, (pad, pad), (pad, height - pad))
    span_x = (max(x) - min(x)) or 1.0
    span_y = (max(y) - min(y)) or 1.0
    pts = [
        (round(pad + 10 + (xi - min(x)) / span_x * (width - 2 * pad - 20)),
         round(height - pad - 10 - (yi - min(y)) / span_y * (height - 2 * pad - 20)))
        for xi, yi in zip(x, y, strict=True)
    ]
    for a, b in itertools.pairwise(pts):
        _line(img, a, b, 90)
    for px, py in pts:
        img[py - 3 : py + 4, px - 3 : px + 4] = 0
    raw = b"".join(b"\x00" + row.tobytes() for row in img)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 panels, 1 held-out window, 4 pools")
    parser.add_argument("--tests", type=int, default=2, help="held-out windows per panel")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    warnings.filterwarnings("ignore")
    start = time.perf_counter()
    tests = 1 if args.quick else args.tests
    sizes, losses = [], []
    for models, bags in POOLS[:4] if args.quick else POOLS:
        size, loss = run_pool(models, bags, tests, args.quick)
        sizes.append(size)
        losses.append(loss)
        print(f"pool {size:3d} members ({'+'.join(models)}, bags {bags}): test wQL {loss:.4f}", flush=True)
    logs = np.log2(sizes)
    slope = float(np.polyfit(logs, losses, 1)[0]) if len(set(sizes)) > 1 else float("nan")
    write_png(PNG, list(logs), losses)
    print(json.dumps({
        "benchmark": "pool_scaling",
        "pool_sizes": sizes,
        "test_wql": [round(v, 4) for v in losses],
        "slope_wql_per_doubling": round(slope, 5),
        "best_over_smallest": round(min(losses) / losses[0], 4),
        "png": str(PNG.relative_to(ROOT)),
        "seconds": round(time.perf_counter() - start, 1),
    }))


if __name__ == "__main__":
    main()
