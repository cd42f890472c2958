"""The loop in simulated time: daily retrains with logged decisions, plans, and an alert
on an injected shift that triggers a retrain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from fcplan.app.loop import LoopConfig, run_simulated_loop, shifts_from_specs
from fcplan.core.locales import Locales
from fcplan.core.settings import Settings
from fcplan.storage import make_engine
from fcplan.storage import queries as q

TZ = "Asia/Seoul"


def test_simulated_days_retrain_daily_and_a_shift_triggers_a_retrain(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    cfg = LoopConfig(
        days=2,  # day 1: the first retrain; day 2: a daily retrain, then the 10:00 shift and its triggered one
        centers=2,
        scale=1.0,
        history_days=42,
        start=pd.Timestamp("2026-03-02", tz=TZ).to_pydatetime(),
        shifts=shifts_from_specs(["FC-SEOUL-1:+80%@2026-03-03T10:00"], TZ),
    )
    said: list[str] = []
    summary = run_simulated_loop(Settings(), engine, cfg, say=said.append)
    assert summary.days == 2 and summary.daily_retrains == 2
    assert summary.triggered_retrains >= 1 and summary.plans == summary.daily_retrains + summary.triggered_retrains
    assert [a.split()[0] for a in summary.alerts_opened] == ["FC-SEOUL-1"]
    decisions = q.decisions_frame(engine)
    assert len(decisions) == summary.daily_retrains + summary.triggered_retrains
    assert decisions["reason"].str.contains("drifted").any()
    by_kind = summary.as_dict()["decisions_by_kind"]
    assert sum(by_kind.values()) == len(decisions) and by_kind["first"] == 1 and by_kind["drifted"] >= 1
    assert summary.as_dict()["late_orders"] == {}  # the simulator stores each hour once, complete
    assert any("triggered by alerts on ['FC-SEOUL-1']" in line for line in said)
    alerts = q.alerts_frame(engine)
    assert alerts["center_id"].tolist() == ["FC-SEOUL-1"] and alerts["kind"].tolist() == ["cusum_up"]
    assert pd.Timestamp(alerts["window_end"].iloc[0]) > pd.Timestamp("2026-03-03 01:00")  # 10:00 local in UTC
    # Runs, decisions, plans and alerts are stamped on the simulated clock: on the wall clock the
    # dashboard showed a plan "made" in December beside a simulated today in March, and an alert
    # stamped after the retrain it triggered in the same simulated hour was linked to none.
    simulated = (pd.Timestamp("2026-03-01 15:00"), pd.Timestamp("2026-03-03 15:00"))  # local days in UTC
    plan = q.latest_plan_run(engine)
    stamps = [plan["created_at"], *q.decisions_frame(engine)["created_at"], q.latest_forecast_run(engine)["created_at"],
              *alerts["created_at"]]
    assert all(simulated[0] <= pd.Timestamp(t) < simulated[1] for t in stamps), stamps
    from fcplan.dashboard.summaries import alert_retrains

    assert alert_retrains(alerts, q.decisions_frame(engine))["caused"].tolist() == [True]


def test_fcplan_demo_simulate_days_prints_its_summary_and_plans_with_the_centers_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fc.db'}"
    env = {"FCPLAN_DATABASE_URL": url, "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    centers = tmp_path / "centers.toml"
    centers.write_text(
        '[defaults]\ntimezone = "Asia/Seoul"\n\n'
        '[[defaults.shifts]]\nname = "long"\nstart = "07:00"\nend = "19:00"\npaid_hours = 12\n\n'
        '[[defaults.shifts]]\nname = "late"\nstart = "19:00"\nend = "07:00"\npaid_hours = 12\n'
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "fcplan",
            "demo",
            "--headless",
            "--simulate-days",
            "1",
            "--centers",
            "2",
            "--start",
            "2026-03-02",
            "--centers-file",
            str(centers),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["simulated_days"] == 1 and summary["daily_retrains"] == 1 and summary["plans"] >= 1
    engine = make_engine(url)
    plan = q.plan_frame(engine, q.latest_plan_run(engine)["plan_id"])
    assert set(plan["shift"]) == {"long", "late"}


def demo_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str):
    """``fcplan demo ARGS`` in this process (typer's CliRunner): for the argument checks, which
    refuse before anything runs (the subprocess test above runs the real command)."""
    from typer.testing import CliRunner

    from fcplan.app.cli import app

    for var in [v for v in os.environ if v.startswith("FCPLAN_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("FCPLAN_DATABASE_URL", f"sqlite:///{tmp_path / 'fc.db'}")
    return CliRunner().invoke(app, ["demo", *args])


def test_a_bad_shift_spec_is_refused_with_the_expected_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = demo_in_process(tmp_path, monkeypatch, "--headless", "--simulate-days", "2", "--shift", "FC-A:40")
    assert out.exit_code == 1 and "CENTER:+40%@2026-03-10" in out.stderr


def test_the_loop_publishes_its_clock_and_the_dashboard_today_follows_it(sqlite_url: str) -> None:
    from fcplan.dashboard.data import local_today

    engine = make_engine(sqlite_url)
    cfg = LoopConfig(days=1, centers=1, history_days=21, start=pd.Timestamp("2026-03-02", tz=TZ).to_pydatetime())
    said: list[str] = []
    summary = run_simulated_loop(Settings(), engine, cfg, say=said.append)
    # 21 days are too short to backtest the 15-day horizon: the baseline forecasts, and a plan follows
    assert summary.failed_retrains == 0 and summary.daily_retrains == 1 and summary.plans == 1
    assert q.simulated_now(engine) == pd.Timestamp("2026-03-02 15:00").to_pydatetime()  # 2026-03-03 00:00 in Seoul
    assert local_today(TZ, sqlite_url) == pd.Timestamp("2026-03-03")


def test_a_failed_retrain_keeps_the_champion_and_the_loop_goes_on(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fcplan.app import loop

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(loop, "retrain", fail)
    engine = make_engine(sqlite_url)
    cfg = LoopConfig(days=1, centers=1, history_days=21, start=pd.Timestamp("2026-03-02", tz=TZ).to_pydatetime())
    said: list[str] = []
    summary = run_simulated_loop(Settings(), engine, cfg, say=said.append)
    # 04:00 and the tries after 1, 2, 4 and 8 hours (a lasting failure is not tried every hour)
    assert summary.failed_retrains == 5 and summary.plans == 0
    assert any("the database went away" in m and "the loop goes on" in m for m in said)
    assert [m.rsplit("tries again at ", 1)[-1] for m in said if "retrain failed" in m] == [
        "2026-03-02 05:00", "2026-03-02 07:00", "2026-03-02 11:00", "2026-03-02 19:00", "2026-03-03 11:00"]
    assert q.simulated_now(engine) == pd.Timestamp("2026-03-02 15:00").to_pydatetime()  # the day still ran to its end


def test_a_bad_retrain_time_is_refused_with_an_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = demo_in_process(tmp_path, monkeypatch, "--headless", "--simulate-days", "2", "--retrain-at", "25:00")
    assert out.exit_code == 1 and "--retrain-at a local time such as 04:00" in out.stderr


def test_the_loop_simulates_each_center_on_the_centers_file_s_clock(sqlite_url: str) -> None:
    from sqlalchemy import select

    from fcplan.app.demo import EXAMPLE_CENTERS
    from fcplan.app.loop import SimulatedLoop, store_hours
    from fcplan.storage.schema import center_hourly

    settings = Settings()
    settings = settings.model_copy(
        update={"planner": settings.planner.model_copy(update={"centers_file": str(EXAMPLE_CENTERS)})}
    )
    engine = make_engine(sqlite_url)
    cfg = LoopConfig(days=1, centers=5, start=pd.Timestamp("2026-01-05", tz=TZ).to_pydatetime())
    loop = SimulatedLoop(settings, engine, cfg, say=lambda _: None)
    lo = pd.Timestamp("2026-01-05", tz=TZ)
    hours = loop._counts(lo, lo + pd.Timedelta(days=1))
    assert hours.groupby("unique_id").size().eq(24).all()  # the clock's 24 hours, for every center
    assert hours["ds"].min() == lo and hours["ds"].max() == lo + pd.Timedelta(hours=23)
    history = loop._counts(lo - pd.Timedelta(days=2), lo, whole_first_day=True)  # whole local days in every zone
    assert history.groupby("unique_id")["ds"].min()["FC-GWANGJU"] == pd.Timestamp("2026-01-03", tz="Australia/Sydney")
    assert history.groupby("unique_id")["ds"].min()["FC-BUSAN"] == lo - pd.Timedelta(days=2)
    store_hours(engine, hours, TZ)
    with engine.connect() as conn:
        rows = conn.execute(
            select(center_hourly.c.hour, center_hourly.c.orders).where(center_hourly.c.center_id == "FC-GWANGJU")
        ).all()
    stored = pd.Series({pd.Timestamp(h, tz="UTC"): o for h, o in rows}).sort_index()
    # FC-GWANGJU is in Sydney: its stored orders are its Sydney-clock profile, its night low at Sydney night.
    from fcplan.simulator.hourly import sample_hourly_counts

    own = sample_hourly_counts(loop.centers, [], "2026-01-05", "2026-01-07", cfg.seed, locales=loop.locales, utc=True)
    own = own[own["unique_id"] == "FC-GWANGJU"].set_index("ds")["y"]
    pd.testing.assert_series_equal(stored, own.reindex(stored.index), check_names=False, check_dtype=False)
    assert own.index.min() == pd.Timestamp("2026-01-05", tz="Australia/Sydney")  # its days start at Sydney midnight
    assert shifts_from_specs(["FC-GWANGJU:+40%@2026-01-06"], TZ, loop.locales)[0].start == pd.Timestamp(
        "2026-01-06", tz="Australia/Sydney"
    )


def test_the_loop_stores_the_promotion_calendar_that_drives_its_demand_as_it_is_announced(sqlite_url: str) -> None:
    from datetime import UTC, timedelta

    from fcplan.models.promotions import PROMO_DISCOUNT
    from fcplan.models.retrain import training_frames
    from fcplan.simulator import make_centers, make_promotions
    from fcplan.simulator.hourly import sample_hourly_counts

    engine = make_engine(sqlite_url)
    start = pd.Timestamp("2026-03-02", tz=TZ)
    cfg = LoopConfig(
        days=1, centers=2, scale=1.0, history_days=42, start=start.to_pydatetime(), models=("seasonal_naive",)
    )
    summary = run_simulated_loop(Settings(), engine, cfg, say=lambda _: None)
    end = start + pd.Timedelta(days=1)
    centers = make_centers(2, seed=cfg.seed, scale=cfg.scale)
    promos = make_promotions(centers, start - pd.Timedelta(days=42), end + pd.Timedelta(days=60), seed=cfg.seed, tz=TZ)
    known = {p.promo_id: p for p in promos if p.announced_at <= end}
    calendar = q.promotion_calendar(engine).set_index("promo_id")
    assert set(calendar.index) == set(known) and summary.promotions_stored >= len(known) > 0
    for promo_id, row in calendar.iterrows():  # cancellations known by the end are stored as such
        p = known[promo_id]
        cancelled = p.cancelled_at is not None and p.cancelled_at <= end
        assert row["status"] == ("cancelled" if cancelled else "active")
    # the stored orders carry the promotions' uplift: they are the simulator's draws with the calendar
    truth = sample_hourly_counts(centers, promos, start - pd.Timedelta(days=42), end, cfg.seed, TZ, utc=True)
    stored = q.hourly_orders(engine, TZ).assign(ds=lambda f: f["hour_utc"].dt.tz_localize(UTC))
    both = stored.merge(truth, on=["unique_id", "ds"], suffixes=("_stored", ""))
    assert len(both) == len(stored) and (both["y_stored"] == both["y"]).all()
    # and the retrainer's promotion regressor sees them
    history, _ = training_frames(engine, Locales(TZ), 8, (end + timedelta(hours=1)).to_pydatetime())
    assert history[PROMO_DISCOUNT].gt(0).any()


# A plan that raised after its retrain (e.g. "the plan needs 1e12 packers") and a drift check that
# raised (a database error, a damaged row) ended the whole simulated loop with a traceback.
def test_a_failed_plan_or_drift_check_is_said_and_the_loop_goes_on(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fcplan.app import loop
    from fcplan.models.drift_loop import DriftLoop

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(loop, "make_plan", fail)
    monkeypatch.setattr(DriftLoop, "run_once", fail)
    engine = make_engine(sqlite_url)
    cfg = LoopConfig(days=1, centers=1, history_days=21, start=pd.Timestamp("2026-03-02", tz=TZ).to_pydatetime())
    said: list[str] = []
    summary = run_simulated_loop(Settings(), engine, cfg, say=said.append)
    assert summary.daily_retrains == 1 and summary.failed_plans == 1 and summary.plans == 0
    assert summary.failed_drift_checks == 24 and summary.as_dict()["failed_drift_checks"] == 24
    assert any(m.startswith("plan failed (the database went away)") for m in said)
    assert q.simulated_now(engine) == pd.Timestamp("2026-03-02 15:00").to_pydatetime()  # the day still ran to its end


@pytest.mark.parametrize(("args", "history_days"), [(("--days", "21"), 21), ((), LoopConfig().history_days)])
def test_the_simulated_demo_backfills_the_days_of_history_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], history_days: int
) -> None:
    # `fcplan demo --simulate-days 1 --days 30` said "backfilled 56 days of hourly orders": --days was dropped.
    from fcplan.app import loop

    seen: list[LoopConfig] = []

    class Summary:
        def as_dict(self) -> dict:
            return {}

    def run(settings: Settings, engine: object, cfg: LoopConfig, say: object) -> Summary:
        seen.append(cfg)
        return Summary()

    monkeypatch.setattr(loop, "run_simulated_loop", run)
    out = demo_in_process(tmp_path, monkeypatch, "--headless", "--simulate-days", "1", *args)
    assert out.exit_code == 0, out.output
    assert [cfg.history_days for cfg in seen] == [history_days]


@pytest.mark.parametrize(("start", "hours"), [("2026-10-31", 73), ("2027-03-13", 71)])
def test_a_day_the_clocks_change_is_simulated_whole_and_the_days_after_it_too(
    sqlite_url: str, start: str, hours: int
) -> None:
    """FCPLAN_TIMEZONE with summer time: days were stepped by 24 hours, so the 25-hour autumn day
    ran from 00:00 to 23:00 and drew no hours at all (the next day one), and after spring every day
    began at 01:00 and lost its midnight hour; the clock fell behind and the monitor alerted on it."""
    from sqlalchemy import func, select

    from fcplan.storage.schema import center_hourly

    tz = "America/New_York"
    engine = make_engine(sqlite_url)
    first = pd.Timestamp(start, tz=tz)
    cfg = LoopConfig(days=3, centers=1, history_days=21, start=first.to_pydatetime())
    summary = run_simulated_loop(Settings(timezone=tz), engine, cfg, say=lambda _: None)
    assert summary.daily_retrains == 3 and summary.failed_retrains == 0
    since = first.tz_convert("UTC").tz_localize(None).to_pydatetime()
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).where(center_hourly.c.hour >= since)).scalar_one()
    assert stored == hours  # every hour of the three local days, the changed one included, once
    end = (first.tz_localize(None) + pd.Timedelta(days=3)).tz_localize(tz)
    assert pd.Timestamp(q.simulated_now(engine)) == end.tz_convert("UTC").tz_localize(None)


def test_a_retrain_that_failed_once_is_tried_again_the_next_hour_with_its_alerts(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed daily retrain was not tried again until the next day's (a triggered one lost the
    alerts that asked for it): a day's passing outage left the plan a day older."""
    from fcplan.app import loop

    real, calls = loop.retrain, []

    def flaky(*args: object, **kwargs: object) -> object:
        calls.append(kwargs["now"])
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "retrain", flaky)
    engine = make_engine(sqlite_url)
    cfg = LoopConfig(days=1, centers=1, history_days=21, start=pd.Timestamp("2026-03-02", tz=TZ).to_pydatetime())
    summary = run_simulated_loop(Settings(), engine, cfg, say=lambda _: None)
    assert summary.failed_retrains == 1 and summary.daily_retrains == 1 and summary.plans == 1
    assert [pd.Timestamp(t).tz_convert(TZ).hour for t in calls] == [4, 5]


def test_the_simulated_demo_fits_the_pool_set_in_fcplan_forecast_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FCPLAN_FORECAST_MODELS=moving_average was checked and then ignored without a word: the loop
    fitted seasonal_naive and glm. The pool set is fitted; the default one gives way, said."""
    from typer.testing import CliRunner

    from fcplan.app.cli import app

    for var in [v for v in os.environ if v.startswith("FCPLAN_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("FCPLAN_DATABASE_URL", f"sqlite:///{tmp_path / 'fc.db'}")
    monkeypatch.setenv("FCPLAN_FORECAST_MODELS", "moving_average")
    args = ["demo", "--headless", "--simulate-days", "1", "--centers", "1", "--days", "21",
            "--start", "2026-03-02"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "retrains fit moving_average\n" in out.output
    run = q.latest_forecast_run(make_engine(f"sqlite:///{tmp_path / 'fc.db'}"))
    assert run["model_version"] == "ensemble:moving_average=1.00"
    monkeypatch.delenv("FCPLAN_FORECAST_MODELS")
    out = CliRunner().invoke(app, [*args[:-1], "2026-03-09"])
    assert "retrains fit seasonal_naive,glm (a light pool" in out.output
