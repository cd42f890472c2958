"""Starting the dashboard's Streamlit server, and serving it for the browser test and the load benchmark.

:func:`start` starts Streamlit on a port and returns once it listens there: on a picked
port (``fcplan demo`` and ``fcplan dashboard`` without ``--port``) it picks again when
another process bound the port first, as the embedded broker does
(:func:`fcplan.app.broker.on_free_port`); on a port the user chose, a
:class:`~fcplan.app.broker.PortTaken` names it and the option to change.
:func:`serve` starts ``streamlit run dashboard/app.py`` on a database (a child that
dies with this process) and yields its address once it answers. The constants say
how those tools drive Debian's headless Chromium (``apt-get install -y chromium``;
no browser is ever downloaded) and which Streamlit elements mean "busy" and "failed".
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fcplan.app.broker import PortTaken, listens, on_free_port, port_is_free
from fcplan.app.procs import spawn

#: The port the dashboard prefers when none is given (Streamlit's).
DEFAULT_PORT = 8501
#: How long Streamlit may take to listen (it imports everything first: seconds, more on a busy machine).
START_S = 120.0

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


def dashboard_command(port: int) -> list[str]:
    from fcplan import dashboard

    app = Path(dashboard.__file__).parent / "app.py"
    return [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _start_on(launch: Callable[[int], subprocess.Popen], port: int, host: str, option: str,
              timeout_s: float) -> subprocess.Popen:
    """``launch(port)``, once it listens on ``port``; :class:`PortTaken` when another process holds it."""
    taken = PortTaken(f"port {port} is taken: stop whatever listens there, or choose another with {option}")
    if not port_is_free(host, port):
        raise taken
    proc = launch(port)
    deadline = time.monotonic() + timeout_s
    while (code := proc.poll()) is None:
        ours = listens(proc.pid, port)  # None where /proc cannot tell: then whoever answers
        if ours or (ours is None and _healthy(f"http://127.0.0.1:{port}")):
            return proc
        if time.monotonic() > deadline:
            _stop(proc)
            raise DashboardStartError(f"the dashboard did not listen on port {port} in {timeout_s:.0f}s")
        time.sleep(0.1)
    # Streamlit says "Port N is not available" and exits 1 when its bind fails.
    if not port_is_free(host, port):
        raise taken
    raise DashboardStartError(f"the dashboard exited with code {code} before it listened on port {port}")


def start(launch: Callable[[int], subprocess.Popen], port: int | None, option: str = "--port",
          host: str = "0.0.0.0", prefer: int | None = DEFAULT_PORT,
          timeout_s: float = START_S) -> tuple[subprocess.Popen, int]:
    """``launch(port)`` (Streamlit on ``port``), once it listens: the process and its port.

    ``port`` None: on ``prefer``, else (taken, before the start or at Streamlit's bind) on a
    free port, picked again while another process takes it first. A given ``port`` is used
    as given: :class:`PortTaken` names it and ``option`` (the setting to change) when it is
    taken; :class:`DashboardStartError` when Streamlit exits for another reason or never listens.
    """
    got: list[int] = []

    def start_on(p: int) -> subprocess.Popen:
        proc = _start_on(launch, p, host, option, timeout_s)
        got.append(p)
        return proc

    if port is not None:
        return start_on(port), port
    return on_free_port(start_on, host, prefer), got[-1]


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

    Starts it with :func:`start` (a port another process takes first is picked again), then
    waits for Streamlit's health endpoint (``attempts`` polls ``pause_s`` apart);
    :class:`DashboardStartError`, with the end of its log, when it never answers.
    """
    env = {**os.environ, "FCPLAN_DATABASE_URL": database_url}
    if timezone:
        env["FCPLAN_TIMEZONE"] = timezone
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 (closed below)

    def launch(port: int) -> subprocess.Popen:
        return spawn([*dashboard_command(port), "--server.address", "127.0.0.1"], env=env, stdout=out,
                     stderr=subprocess.STDOUT)

    proc: subprocess.Popen | None = None
    try:
        try:
            proc, port = start(launch, None, host="127.0.0.1", prefer=None)
            base = f"http://127.0.0.1:{port}"
            for _ in range(attempts):
                if proc.poll() is not None or _healthy(base):
                    break
                time.sleep(pause_s)
            if proc.poll() is not None or not _healthy(base):
                raise DashboardStartError(f"the dashboard did not answer at {base} (exit code {proc.poll()})")
        except (PortTaken, DashboardStartError) as exc:
            said = log.read_text(errors="replace")[-2000:] if log else "(no log kept)"
            raise DashboardStartError(f"{exc}: {said}") from None
        yield base
    finally:
        if proc is not None:
            _stop(proc)
        if log:
            out.close()  # type: ignore[union-attr]
