"""Time to render each dashboard page in a real browser, on a network-sized database.

    nice -n 10 .venv/bin/python benchmarks/dashboard_load.py            # 50 centers, a year
    nice -n 10 .venv/bin/python benchmarks/dashboard_load.py --quick    # 10 centers, 90 days

Seeds a SQLite database (``fcplan.app.seed_db``): ``--centers`` centers (a tenth of
them in Sydney) with ``--days`` days of hourly orders and one forecast run a day over
them (older runs compacted to their day-ahead forecast, as retention leaves them), a
challenger, a plan, alerts. Serves the dashboard on it and opens every page in Debian's
headless Chromium (``/usr/bin/chromium``): the seconds from navigation until the page's
heading and key element show and Streamlit stops running, on a first visit (cold
caches) and a second one, and switching pages through the top bar. The peer, measured in the
same run: the same pages on a
small database (4 centers, 60 days). Target: <= 2 s per page.

Last line: one JSON object, per-page seconds.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, sync_playwright

from fcplan.app.dashboard_server import CHROMIUM, CHROMIUM_ARGS, HEADER, PAGES, RUNNING, serve
from fcplan.app.seed_db import SeedSpec, seed_database

TARGET_S = 2.0
TIMEOUT_MS = 120_000
NAV_LINK = '[data-testid="stTopNavLink"]'


def spec_for(centers: int, days: int) -> SeedSpec:
    names = tuple(f"FC-{i:03d}" for i in range(centers))
    return SeedSpec(
        centers=names,
        days=days,
        past_runs=days - 1,
        zones={c: "Australia/Sydney" for c in names[::10]},
        challenger_lift=1.3,
    )


def _drawn(page: Page, heading: str, key: str) -> None:
    page.locator(HEADER, has_text=heading).first.wait_for(state="visible", timeout=TIMEOUT_MS)
    page.locator(key).first.wait_for(state="visible", timeout=TIMEOUT_MS)
    page.locator(RUNNING).wait_for(state="hidden", timeout=TIMEOUT_MS)


def render_seconds(browser: BrowserContext, base: str, path: str, heading: str, key: str) -> float:
    """Seconds from opening the page's address in a new tab until it has drawn (a full load;
    the tab shares the browser's cache with the others, as a manager's tabs do)."""
    page = browser.new_page()
    try:
        started = time.perf_counter()
        page.goto(f"{base}/{path}", wait_until="domcontentloaded", timeout=TIMEOUT_MS)
        _drawn(page, heading, key)
        return time.perf_counter() - started
    finally:
        page.close()


def switch_seconds(browser: BrowserContext, base: str) -> dict[str, float]:
    """Seconds from a click on each page's link in the top bar until it has drawn (as a manager
    goes from page to page), after opening the landing page."""
    page = browser.new_page()
    out = {}
    try:
        page.goto(base, wait_until="domcontentloaded", timeout=TIMEOUT_MS)
        _drawn(page, *PAGES[0][1:])
        for path, heading, key in [*PAGES[1:], PAGES[0]]:
            started = time.perf_counter()
            page.locator(NAV_LINK, has_text=heading).first.click(timeout=TIMEOUT_MS)
            _drawn(page, heading, key)
            out[path or "network"] = round(time.perf_counter() - started, 2)
    finally:
        page.close()
    return out


def measure(spec: SeedSpec, folder: Path, name: str) -> dict[str, dict[str, float]]:
    """``{"cold": {page: s}, "warm": {page: s}, "seed_s": ...}`` for one seeded database."""
    url = f"sqlite:///{folder / f'{name}.db'}"
    started = time.perf_counter()
    seed_database(url, spec)
    seed_s = time.perf_counter() - started
    print(f"{name}: seeded {len(spec.centers)} centers x {spec.days} days in {seed_s:.0f} s", flush=True)
    out: dict[str, dict[str, float]] = {"seed_s": {"all": round(seed_s, 1)}}
    with serve(url, spec.tz, log=folder / f"{name}.log") as base, sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True)
        try:
            browser = chromium.new_context(viewport={"width": 1400, "height": 1000})
            # The very first page: nothing cached, in the browser or in the dashboard's process.
            out["first"] = {"network": round(render_seconds(browser, base, *PAGES[0]), 2)}
            print(f"{name} first open {out['first']['network']:.2f} s", flush=True)
            for visit in ("cold", "warm"):
                out[visit] = {}
                for path, heading, key in PAGES:
                    seconds = render_seconds(browser, base, path, heading, key)
                    out[visit][path or "network"] = round(seconds, 2)
                    print(f"{name} {visit:4s} {path or 'network':9s} {seconds:6.2f} s", flush=True)
            out["switch"] = switch_seconds(browser, base)
            print(f"{name} switch {out['switch']}", flush=True)
        finally:
            chromium.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--centers", type=int, default=50)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--quick", action="store_true", help="10 centers, 90 days")
    args = parser.parse_args(argv)
    centers, days = (10, 90) if args.quick else (args.centers, args.days)
    with tempfile.TemporaryDirectory(prefix="fcplan-dash-") as tmp:
        folder = Path(tmp)
        big = measure(spec_for(centers, days), folder, "network")
        small = measure(spec_for(4, 60), folder, "small")
    worst, worst_switch = max(big["cold"].values()), max(big["switch"].values())
    print(f"{centers} centers x {days} days: worst full page load {worst:.2f} s, worst page switch "
          f"{worst_switch:.2f} s (target {TARGET_S} s); on 4 centers x 60 days: {max(small['cold'].values()):.2f} s "
          f"and {max(small['switch'].values()):.2f} s")
    print(json.dumps({
        "centers": centers, "days": days, "seconds_per_page": big["cold"], "seconds_per_page_second_visit": big["warm"],
        "seconds_per_page_switch": big["switch"], "peer_4_centers_60_days": small["cold"],
        "peer_4_centers_60_days_switch": small["switch"], "worst_load_s": worst, "worst_switch_s": worst_switch,
        "first_open_s": big["first"]["network"], "target_s": TARGET_S, "seed_s": big["seed_s"]["all"],
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
