"""The dashboard served on a free port, for the browser test and the load benchmark.

:func:`serve` starts ``streamlit run dashboard/app.py`` on a database (a child that
dies with this process) and yields its address once it answers. The constants say
how those tools drive Debian's headless Chromium (``apt-get install -y chromium``;
no browser is ever downloaded) and which Streamlit elements mean "busy" and "failed".
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fcplan.app.broker import free_port
from fcplan.app.demo import dashboard_command
from fcplan.app.procs import spawn

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
)
#: Streamlit shows this element while a script or fragment runs.
RUNNING = '[data-testid="stStatusWidget"]'
#: ... and this one for an exception the page did not catch (with its traceback).
EXCEPTION = '[data-testid="stException"]'
#: The page's own title (``st.header``), rendered once the script has drawn it.
HEADER = '[data-testid="stHeading"]'
#: The page's full height: Streamlit scrolls inside its main section, so a whole-page
#: picture needs the window grown to it first.
CONTENT_HEIGHT_JS = "() => Math.max(...Array.from(document.querySelectorAll('*'), e => e.scrollHeight))"
CHART = '[data-testid="stVegaLiteChart"] :is(canvas, svg)'
TABLE = '[data-testid="stDataFrame"]'
#: Every page: its url path (the landing page's is empty), the start of its heading, and the
#: element that shows it has drawn its data (a seeded database).
PAGES = (
    ("", "Network", TABLE),
    ("center", "Center", CHART),
    ("staffing", "Staffing plan", '[data-testid="stDownloadButton"]'),
    ("whatif", "What-if", CHART),
    ("models", "Models", CHART),
    ("alerts", "Alerts", TABLE),
    ("stream", "Stream health", '[data-testid="stMetric"]'),
)


class DashboardStartError(RuntimeError):
    pass


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def serve(database_url: str, timezone: str | None = None, log: Path | None = None,
          attempts: int = 240, pause_s: float = 0.25) -> Iterator[str]:
    """Serve the dashboard on ``database_url`` at a free port; yields ``http://127.0.0.1:<port>``.

    Waits for Streamlit's health endpoint (``attempts`` polls ``pause_s`` apart);
    :class:`DashboardStartError`, with the end of its log, when it never answers.
    """
    port = free_port()
    env = {**os.environ, "FCPLAN_DATABASE_URL": database_url}
    if timezone:
        env["FCPLAN_TIMEZONE"] = timezone
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    proc = spawn([*dashboard_command(port), "--server.address", "127.0.0.1"], env=env, stdout=out,
                 stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(attempts):
            if proc.poll() is not None or _healthy(base):
                break
            time.sleep(pause_s)
        if proc.poll() is not None or not _healthy(base):
            said = log.read_text(errors="replace")[-2000:] if log else "(no log kept)"
            raise DashboardStartError(f"the dashboard did not answer at {base} (exit code {proc.poll()}): {said}")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]
