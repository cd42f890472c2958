"""``fcplan simulate`` with a centers file: each center's orders and true demand on its own clock."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from fcplan.app.demo import EXAMPLE_CENTERS
from fcplan.app.simulate import SimulationConfig, Simulator
from fcplan.app.simulated_centers import simulation_locales
from fcplan.core.settings import Settings
from fcplan.storage import make_engine
from fcplan.storage.schema import demand_truth

SYDNEY_ID, SYDNEY = "FC-GWANGJU", "Australia/Sydney"


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any]] = []

    def send(self, topic: str, key: str, record: Any) -> None:
        self.sent.append((topic, key, record))

    def send_many(self, topic: str, items: Any) -> int:
        before = len(self.sent)
        self.sent.extend((topic, key, record) for key, record in items)
        return len(self.sent) - before

    def flush(self, timeout_s: float = 60.0) -> None:
        pass


def with_centers_file(settings: Settings) -> Settings:
    planner = settings.planner.model_copy(update={"centers_file": str(EXAMPLE_CENTERS)})
    return settings.model_copy(update={"planner": planner})


def test_without_a_centers_file_the_simulation_stays_single_zone() -> None:
    assert simulation_locales(Settings()) is None
    locales = simulation_locales(with_centers_file(Settings()))
    assert locales is not None and locales.zone(SYDNEY_ID) == SYDNEY and locales.country(SYDNEY_ID) == "AU"


def test_the_backfill_and_the_truth_follow_each_center_s_zone(sqlite_url: str) -> None:
    locales = simulation_locales(with_centers_file(Settings()))
    engine = make_engine(sqlite_url)
    sim = Simulator(SimulationConfig(centers=5, days=14, scale=0.5, locales=locales), "unused:9092", engine)
    producer = FakeProducer()
    sim.backfill(producer)
    orders = pd.DataFrame([r for topic, _, r in producer.sent if topic == "orders"])
    orders["ts"] = pd.to_datetime(orders["ts"], utc=True, format="ISO8601")
    mine = orders[orders["center_id"] == SYDNEY_ID]
    local = mine["ts"].dt.tz_convert(SYDNEY)
    assert (mine["order_id"].str.split("-").str[-2] == local.dt.strftime("%Y%m%d")).all()  # Sydney dates
    profile = np.asarray(sim.centers[4].intraday)
    share = np.bincount(local.dt.hour, minlength=24) / len(mine)
    assert np.corrcoef(share, profile)[0, 1] > 0.9
    with engine.connect() as conn:
        rows = conn.execute(
            select(demand_truth.c.hour, demand_truth.c.expected_orders).where(demand_truth.c.center_id == SYDNEY_ID)
        ).all()
    truth = pd.DataFrame(rows, columns=["hour", "mean"])
    hour = pd.to_datetime(truth["hour"]).dt.tz_localize("UTC").dt.tz_convert(SYDNEY).dt.hour
    truth = truth.groupby(hour)["mean"].sum()
    assert int(truth.idxmax()) == int(np.argmax(profile))  # the true demand peaks at Sydney's peak hour


# --centers 0 and --scale 0 ended on a bare ValueError traceback from the simulator, --speed 0 and
# --days -1 went on to the broker, and `demo --simulate-days -1` ran nothing and printed a summary.
@pytest.mark.parametrize(
    ("args", "expected"),
    [(["simulate", "--scale", "0", "--no-live"], "--scale 0 must be a positive number"),
     (["simulate", "--speed", "0", "--no-live"], "--speed 0 must be a positive number"),
     (["simulate", "--centers", "0", "--no-live"], "Invalid value for '--centers'"),
     (["simulate", "--days", "-1", "--no-live"], "Invalid value for '--days'"),
     (["demo", "--headless", "--simulate-days", "-1"], "Invalid value for '--simulate-days'"),
     (["demo", "--headless", "--simulate-days", "1", "--scale", "-1"], "--scale -1 must be a positive number")],
)
def test_a_simulation_without_centers_volume_or_clock_is_refused(
    args: list[str], expected: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from fcplan.app.cli import app

    monkeypatch.setenv("FCPLAN_DATABASE_URL", f"sqlite:///{tmp_path / 'fc.db'}")
    out = CliRunner().invoke(app, args)
    assert out.exit_code in (1, 2) and not isinstance(out.exception, ValueError)
    assert expected in " ".join(out.output.replace("│", " ").split()), out.output


class _LiveDemo:
    """Stands in for the live demo (broker, worker, simulator...): records that it ran."""

    ran = False

    def __init__(self, *args: object) -> None:
        pass

    def run(self) -> int:
        type(self).ran = True
        return 0


# --shift, --start and --retrain-at without --simulate-days were dropped without a word: the live demo
# ran (for good) without the demand shift asked for.
@pytest.mark.parametrize(
    "args", [["--shift", "FC-BUSAN:+40%@2026-03-10"], ["--start", "2026-03-02"], ["--retrain-at", "03:00"]]
)
def test_simulated_time_options_without_simulate_days_are_refused(
    args: list[str], tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import fcplan.app.demo as demo
    from fcplan.app.cli import app

    monkeypatch.setenv("FCPLAN_DATABASE_URL", f"sqlite:///{tmp_path / 'fc.db'}")
    monkeypatch.setattr(demo, "Demo", _LiveDemo)
    _LiveDemo.ran = False
    out = CliRunner().invoke(app, ["demo", "--headless", *args])
    assert out.exit_code == 1 and not _LiveDemo.ran, out.output
    assert f"{args[0]} go(es) with --simulate-days N" in out.output


# The reverse: --retrain-every, --port, --timeout and --exit-after-plan with --simulate-days were
# dropped without a word (the loop retrains daily at --retrain-at, has no dashboard, exits at its end).
@pytest.mark.parametrize(
    "args", [["--retrain-every", "30"], ["--port", "8600"], ["--timeout", "60"], ["--exit-after-plan"]]
)
def test_live_demo_options_with_simulate_days_are_refused(
    args: list[str], tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import fcplan.app.loop as loop
    from fcplan.app.cli import app

    ran: list[object] = []
    monkeypatch.setenv("FCPLAN_DATABASE_URL", f"sqlite:///{tmp_path / 'fc.db'}")
    monkeypatch.setattr(loop, "run_simulated_loop", lambda *a, **k: ran.append(a))
    out = CliRunner().invoke(app, ["demo", "--headless", "--simulate-days", "1", *args])
    assert out.exit_code == 1 and not ran, out.output
    assert f"{args[0]} go(es) with the live demo, not with --simulate-days" in out.output
