"""Screenshot a running fcplan dashboard page with Playwright and the system Chromium.

    python scripts/screenshot.py http://localhost:8599 /tmp/dash_forecast.png
    python scripts/screenshot.py http://localhost:8599/staffing /tmp/dash_staffing.png --wait-for svg

No browser download: it drives Debian's ``/usr/bin/chromium`` (``--chromium``
to point elsewhere). It waits for ``--wait-for`` (a CSS selector; by default a
metric tile or a chart), then for Streamlit to stop running the script, then
takes a full-page PNG.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fcplan.app.dashboard_server import CHART, CHROMIUM, CHROMIUM_ARGS, CONTENT_HEIGHT_JS, RUNNING

ARGS = [*CHROMIUM_ARGS, "--disable-sync"]
DEFAULT_WAIT = f'[data-testid="stMetric"], {CHART}'


def screenshot(url: str, out: Path, wait_for: str = DEFAULT_WAIT, width: int = 1400, height: int = 1000,
               timeout_s: float = 60.0, settle_ms: int = 1500, chromium: str = CHROMIUM,
               full_page: bool = True) -> Path:
    """Open ``url``, wait for ``wait_for`` and for the app to go idle, save a PNG to ``out``.

    ``full_page`` grows the window to the page's content (up to 8000 px) first.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url, wait_until="domcontentloaded", timeout=timeout_s * 1000)
            page.wait_for_selector(wait_for, state="visible", timeout=timeout_s * 1000)
            try:
                page.wait_for_selector(RUNNING, state="hidden", timeout=timeout_s * 1000)
            except PlaywrightTimeout:
                print("warning: the app still looks busy; taking the screenshot anyway", file=sys.stderr)
            page.wait_for_timeout(settle_ms)  # let Vega finish drawing
            if full_page:
                # Streamlit scrolls inside its main section, so grow the window to the content instead.
                tall = page.evaluate(CONTENT_HEIGHT_JS)
                if tall > height:
                    page.set_viewport_size({"width": width, "height": min(int(tall) + 40, 8000)})
                    page.wait_for_timeout(settle_ms)
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="page URL, e.g. http://localhost:8599 or http://localhost:8599/models")
    parser.add_argument("out", type=Path, help="PNG file to write")
    parser.add_argument("--wait-for", default=DEFAULT_WAIT, help="CSS selector to wait for")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the selector")
    parser.add_argument("--chromium", default=CHROMIUM, help="Chromium executable")
    parser.add_argument("--viewport-only", action="store_true", help="capture the window, not the whole page")
    args = parser.parse_args(argv)
    try:
        path = screenshot(args.url, args.out, args.wait_for, args.width, args.height, args.timeout,
                          chromium=args.chromium, full_page=not args.viewport_only)
    except Exception as exc:  # a CLI: say what failed rather than dump a trace
        print(f"error: screenshot of {args.url} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
