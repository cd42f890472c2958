"""``run_engine`` called at the top level of a user's script, without ``if __name__ == "__main__":``.

Each worker process of :mod:`fcplan.models.workers` runs the main script's top level again as it
starts (multiprocessing's forkserver/spawn way); there the script's ``run_engine`` call tried to start
processes of its own, the worker died and the user's run ended in ``BrokenProcessPool`` (a 60-line
traceback, found by i29-probe). Now the worker leaves quietly, the engine does that work in its own
process (one warning saying how to use the second core) and the forecast is the same.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

BODY = """
import numpy as np, pandas as pd
from fcplan.models.engine import run_engine
h = pd.DataFrame({{"unique_id": "a", "ds": pd.date_range("2025-01-01", periods=60), "y": 30.0 + np.arange(60) % 7}})
run_engine(h, 7, [0.1, 0.5, 0.9], models=["ets", "seasonal_naive", "moving_average"]).forecast.to_csv({out!r})
"""


def _run(tmp_path: Path, name: str, guarded: bool) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path / f"{name}.csv"
    body = BODY.format(out=str(out))
    if guarded:
        body = "if __name__ == '__main__':\n" + "".join(f"    {line}\n" for line in body.strip().splitlines())
    script = tmp_path / f"{name}.py"
    script.write_text(body)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=500,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=tmp_path)
    return done, out


@pytest.mark.slow
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the engine starts workers on two cores or more")
def test_a_script_without_a_main_guard_gets_its_forecast_and_a_hint(tmp_path: Path) -> None:
    bare, bare_out = _run(tmp_path, "bare", guarded=False)
    assert bare.returncode == 0, bare.stderr[-3000:]
    assert "BrokenProcessPool" not in bare.stderr.replace("ended abruptly (BrokenProcessPool)", "")
    assert 'if __name__ == "__main__":' in bare.stderr
    guarded, guarded_out = _run(tmp_path, "guarded", guarded=True)
    assert guarded.returncode == 0, guarded.stderr[-3000:]
    assert "ended abruptly" not in guarded.stderr
    pd.testing.assert_frame_equal(pd.read_csv(bare_out), pd.read_csv(guarded_out))
