from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
PAGES = [
    "views/network.py", "views/center.py", "views/staffing.py", "views/whatif.py", "views/models.py",
    "views/alerts.py", "views/stream.py",
]
FORBIDDEN = ("torch", "kafka", "aiokafka", "faust", "models", "streams", "lightgbm", "statsmodels")


def run_page(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    if page is not None:
        at.switch_page(page).run()
    return at


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "header", "subheader")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def metric(at: AppTest, label_start: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label_start))


@pytest.mark.parametrize("page", PAGES)
def test_when_the_database_is_empty_then_every_page_says_it_is_waiting(make_database, page) -> None:
    make_database(empty=True)
    at = run_page(page)
    assert not at.exception, at.exception
    said = texts(at)
    assert ("No alerts yet" if page == "views/alerts.py" else "Waiting for") in said, said


@pytest.mark.parametrize("page", PAGES)
def test_when_the_database_is_seeded_then_every_page_renders_without_error(make_database, page) -> None:
    make_database()
    at = run_page(page)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "fcplan" in at.sidebar.title[0].value


def test_when_a_plan_exists_then_the_center_page_shows_today_and_tomorrows_packers(make_database) -> None:
    _, written = make_database()
    at = run_page("views/center.py")
    center = at.sidebar.selectbox[0].value
    plan = written["plan"]
    today = pd.Timestamp.now(tz="Asia/Seoul").tz_localize(None).normalize()
    expected = plan[(plan["unique_id"] == center) & (plan["ds"] == today)]["packers"].sum()
    assert metric(at, "Packers today") == str(expected)
    tomorrow = plan[(plan["unique_id"] == center) & (plan["ds"] == today + pd.Timedelta(days=1))]
    assert metric(at, "Packers tomorrow") == str(tomorrow["packers"].sum())
    assert metric(at, "Service level") == "75%"
    assert "model `ensemble:ets=0.55" in texts(at)


def test_when_another_center_is_picked_then_the_tiles_follow_it(make_database) -> None:
    _, written = make_database()
    at = run_page("views/center.py")
    at.sidebar.selectbox[0].set_value("FC-PUS").run()
    plan = written["plan"]
    today = pd.Timestamp.now(tz="Asia/Seoul").tz_localize(None).normalize()
    expected = plan[(plan["unique_id"] == "FC-PUS") & (plan["ds"] == today)]["packers"].sum()
    assert metric(at, "Packers today · FC-PUS") == str(expected)


def test_when_the_staffing_page_shows_all_centers_then_the_totals_add_up(make_database) -> None:
    _, written = make_database()
    at = run_page("views/staffing.py")
    at.radio(key="staffing_scope").set_value("All centers").run()
    assert not at.exception
    table = at.dataframe[0].value
    plan = written["plan"]
    assert table["total"].sum() == plan["packers"].sum()
    assert set(written["plan"]["unique_id"]) <= set(table.columns)


def test_when_the_staffing_page_shows_one_center_then_it_pivots_days_by_shift(make_database) -> None:
    make_database()
    at = run_page("views/staffing.py")
    table = at.dataframe[0].value
    assert [c.split(" ")[0] for c in table.columns] == ["day", "swing", "night", "total"]  # with their hours
    assert len(table) == 14
    assert "Service level 75%" in texts(at)


def test_when_the_models_page_runs_then_the_leaderboard_is_best_first(make_database) -> None:
    make_database()
    at = run_page("views/models.py")
    board = at.dataframe[0].value
    assert board["model"].tolist() == ["ets", "lgbm", "seasonal_naive", "moving_average"]
    assert {"wQL", "WAPE", "MASE", "coverage", "weight", "fit time (s)"} <= set(board.columns)


def test_when_the_stream_page_runs_then_the_worker_counters_show(make_database) -> None:
    make_database()
    at = run_page("views/stream.py")
    assert metric(at, "Orders accepted") == "51,234"
    assert metric(at, "Dead letters") == "48"


def _whatif(at: AppTest, start: pd.Timestamp, days: int, discount: int) -> pd.DataFrame:
    at.date_input(key="whatif_start").set_value(start.date()).run()
    at.number_input(key="whatif_days").set_value(days).run()
    at.slider(key="whatif_discount").set_value(discount).run()
    assert not at.exception, at.exception
    return at.dataframe[0].value


def test_when_a_20pct_promotion_is_tried_then_promo_days_need_more_packers(make_database) -> None:
    make_database(effect_per_pct=0.02)
    at = run_page("views/whatif.py")
    today = pd.Timestamp.now(tz="Asia/Seoul").tz_localize(None).normalize()
    start = today + pd.Timedelta(days=2)
    table = _whatif(at, start, 3, 20)
    promo = table["promotion"] == "20% off"
    assert promo.sum() == 3
    assert table.index[promo].tolist() == [f"{d:%a %Y-%m-%d}" for d in pd.date_range(start, periods=3)]
    # Day +2 is free; days +3 and +4 already hold the seeded 20% sitewide sale: nothing stacks there.
    first, held = promo & (table.index == f"{start:%a %Y-%m-%d}"), promo & (table.index != f"{start:%a %Y-%m-%d}")
    assert (table.loc[first, "packers with promotion"] > table.loc[first, "packers"]).all()
    assert (table.loc[held, "orders with promotion"] == table.loc[held, "orders (median)"]).all()
    assert (table.loc[~promo, "packers with promotion"] == table.loc[~promo, "packers"]).all()
    # Both columns are whole orders: the scenario is the median times 1.02**20, up to their rounding.
    scenario = table.loc[first, "orders (median)"] * 1.02**20
    assert ((table.loc[first, "orders with promotion"] - scenario).abs() <= 0.5 + 0.5 * 1.02**20).all()
    assert "+21.9% orders per 10% discount" in texts(at)
    assert "from 24 promotion days" in texts(at)
    assert "2 of the promotion days already hold a promotion in the forecast (sitewide sale)" in texts(at)


def test_when_a_small_promotion_fits_the_packers_already_booked_then_its_extra_work_still_shows(
    make_database,
) -> None:
    """A promotion that raised orders 958 -> 1217 showed "+0 packer shifts" (slack in whole packers)
    and a manager read the 0 as the promotion ignored: its extra packer-hours of work show beside it."""
    make_database(effect_per_pct=0.01)
    at = run_page("views/whatif.py")
    today = pd.Timestamp.now(tz="Asia/Seoul").tz_localize(None).normalize()
    table = _whatif(at, today + pd.Timedelta(days=2), 1, 5)
    promo = table["promotion"] == "5% off"
    assert promo.sum() == 1
    assert (table.loc[promo, "orders with promotion"] > table.loc[promo, "orders (median)"]).all()
    assert (table.loc[promo, "extra packers"] == 0).all()  # the rise fits the packers booked
    extra = table.loc[promo, "extra packer hours"].sum()
    assert extra >= 1
    assert (table.loc[~promo, "extra packer hours"] == 0).all()
    said = texts(at)
    assert f"+0 packer shifts, +{extra:,.0f} packer-hours of work (+5% on the promotion days)" in said, said
    assert "absorbed by the packers already booked" in said


def test_when_one_promotion_day_already_holds_one_then_the_page_says_so_in_the_singular(make_database) -> None:
    make_database(effect_per_pct=0.02)
    at = run_page("views/whatif.py")
    today = pd.Timestamp.now(tz="Asia/Seoul").tz_localize(None).normalize()
    table = _whatif(at, today + pd.Timedelta(days=2), 2, 20)  # day +3 holds the seeded sitewide sale
    assert (table["promotion"] == "20% off").sum() == 2
    assert "1 of the promotion days already holds a promotion in the forecast (sitewide sale)" in texts(at)
    # Whole orders read with their thousands separator, as on the other pages.
    assert '"format": "localized"' in at.dataframe[0].proto.columns


def _whatif_with_effects(make_database, effects: list[tuple[str, float, float, int]]) -> AppTest:
    """The what-if page of the first center, its stored kind effects ``(kind, effect_per_pct,
    pooled_effect_per_pct, promo_days)``."""
    from sqlalchemy import insert

    from fcplan.storage import make_engine
    from fcplan.storage.schema import promo_kind_effects

    url, _ = make_database(effect_per_pct=0.01)
    at = run_page()
    center = at.sidebar.selectbox[0].value
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(promo_kind_effects), [
            {"run_id": "run-1", "unique_id": center, "kind": k, "effect_per_pct": e, "pooled_effect_per_pct": p,
             "promo_days": n} for k, e, p, n in effects
        ])
    engine.dispose()
    at.switch_page("views/whatif.py").run()
    return at


def test_when_effects_per_kind_are_stored_then_the_chosen_kind_and_center_decide_the_lift(make_database) -> None:
    at = _whatif_with_effects(make_database, [("flash", 0.03, 0.03, 30), ("free_shipping", 0.0, 0.0, 30)])
    at.selectbox(key="whatif_kind").set_value("flash").run()
    today = pd.Timestamp.now(tz="Asia/Seoul").tz_localize(None).normalize()
    table = _whatif(at, today + pd.Timedelta(days=8), 2, 20)
    promo = table["promotion"] == "20% off"
    ratio = table.loc[promo, "orders with promotion"] / table.loc[promo, "orders (median)"]
    assert ratio.to_numpy() == pytest.approx(1.03**20, rel=0.01)
    at.selectbox(key="whatif_kind").set_value("free_shipping").run()
    table = at.dataframe[0].value
    assert (table["extra packers"] == 0).all()


def test_when_the_chosen_kind_sold_less_at_the_center_then_the_whatif_page_warns_that_nothing_changes(
    make_database,
) -> None:
    """A kind whose effect at the center is negative (one promotion day that sold less) adds no
    orders: the page says so instead of showing the pooled lift above an unchanged table."""
    at = _whatif_with_effects(make_database, [("discount", -0.005, 0.01, 1), ("flash", 0.03, 0.01, 30)])
    center = at.sidebar.selectbox[0].value
    at.selectbox(key="whatif_kind").set_value("discount").run()
    today = pd.Timestamp.now(tz="Asia/Seoul").tz_localize(None).normalize()
    table = _whatif(at, today + pd.Timedelta(days=8), 2, 20)
    assert (table["extra packers"] == 0).all()
    warned = [w.value for w in at.warning]
    assert any(f"A discount promotion at 20% off adds no orders at {center}" in w
               and "-0.50% per discount point from 1 discount promotion day" in w for w in warned), warned
    at.selectbox(key="whatif_kind").set_value("flash").run()
    assert not [w.value for w in at.warning if "adds no orders" in w.value]


def test_when_the_whatif_page_has_no_discount_then_baseline_packers_match_the_stored_plan(make_database) -> None:
    _, written = make_database()
    at = run_page()
    center = at.sidebar.selectbox[0].value
    at.switch_page("views/whatif.py").run()
    today = pd.Timestamp.now(tz="Asia/Seoul").tz_localize(None).normalize()
    table = _whatif(at, today, 2, 0)
    plan = written["plan"]
    stored = plan[plan["unique_id"] == center].groupby("ds")["packers"].sum()
    assert table["packers"].tolist() == stored.tolist()
    assert (table["extra packers"] == 0).all()


def test_when_too_few_promotions_were_seen_then_the_whatif_page_says_so(make_database) -> None:
    make_database(effect_per_pct=0.0, promo_days=2)
    at = run_page("views/whatif.py")
    assert not at.exception, at.exception
    assert "Not enough promotions to estimate the effect" in texts(at)
    table = at.dataframe[0].value
    assert (table["extra packers"] == 0).all()


def test_when_no_effect_was_stored_then_the_whatif_page_still_renders(make_database) -> None:
    make_database(effect_per_pct=None)
    at = run_page("views/whatif.py")
    assert not at.exception, at.exception
    assert "No promotion effect stored" in texts(at)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_when_dashboard_modules_are_parsed_then_none_imports_model_or_stream_code() -> None:
    files = sorted((APP.parent).rglob("*.py"))
    assert len(files) >= 6
    offending = {
        str(f.relative_to(APP.parent)): sorted(n for n in _imports(f) if n.split(".")[0] in FORBIDDEN)
        for f in files
    }
    assert not {f: names for f, names in offending.items() if names}


def test_when_the_promotion_runs_past_the_horizon_then_it_is_cut_at_the_last_day(make_database) -> None:
    make_database()
    at = run_page("views/whatif.py")
    today = pd.Timestamp.now(tz="Asia/Seoul").tz_localize(None).normalize()
    table = _whatif(at, today + pd.Timedelta(days=12), 10, 20)
    assert (table["promotion"] == "20% off").sum() == 2
    assert "the promotion is cut to 2 day(s)" in texts(at)


def _closed_port() -> int:
    from fcplan.app.broker import free_port

    return free_port()  # nothing listens there


@pytest.mark.parametrize("page", [None, *PAGES])
def test_when_the_database_is_unreachable_then_every_page_shows_one_banner_and_no_traceback(
    page, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql+psycopg://planner:s3cret@127.0.0.1:{_closed_port()}/fcplan"
    monkeypatch.setenv("FCPLAN_DATABASE_URL", url)
    at = run_page(page)
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert errors[0].startswith("The database postgresql+psycopg://planner:***@127.0.0.1:"), errors[0]
    assert "is unavailable (connection failed" in errors[0] and "FCPLAN_DATABASE_URL" in errors[0]
    assert "reconnects by itself" in errors[0]
    assert "s3cret" not in errors[0] + texts(at)


@pytest.mark.parametrize("page", [None, *PAGES])
def test_when_the_sqlite_file_is_missing_then_every_page_names_it_and_none_is_created(
    page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped path (or a relative one read from another folder) is not an empty database:
    the banner names the file, instead of 'waiting for orders' over an empty file it made."""
    missing = tmp_path / "typo" / "fcplan.db"
    monkeypatch.setenv("FCPLAN_DATABASE_URL", f"sqlite:///{missing}")
    at = run_page(page)
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith(f"No database at {missing}:"), errors
    assert "FCPLAN_DATABASE_URL" in errors[0] and "Waiting for" not in texts(at)
    assert not missing.parent.exists()


def test_when_the_database_comes_back_then_the_dashboard_works_again(
    make_database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The database file cannot be opened at first (a folder stands where it goes)...
    blocker = tmp_path / "seeded.db"  # where make_database() puts it
    blocker.mkdir()
    monkeypatch.setenv("FCPLAN_DATABASE_URL", f"sqlite:///{blocker}")
    at = run_page()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] and "unable to open database file" in at.error[0].value
    assert not at.metric
    # ...then it is there, with data: the same session shows it on its next run.
    blocker.rmdir()
    _, written = make_database()
    at.switch_page("views/center.py").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert metric(at, "Packers today")
    assert at.sidebar.selectbox[0].value in set(written["plan"]["unique_id"])


def test_when_the_registry_decided_then_the_models_page_lists_the_decision(make_database) -> None:
    from datetime import datetime

    from fcplan.storage import make_engine
    from fcplan.storage.schema import model_decisions

    url, _ = make_database()
    with make_engine(url).begin() as conn:
        conn.execute(model_decisions.insert(), {
            "decision_id": "d1", "created_at": datetime(2026, 3, 2, 19), "challenger_run_id": "run-b",
            "champion_run_id": "run-b", "promoted": True, "evidence": {},
            "reason": "champion's forecasts drifted (open alerts for ['FC-BUSAN'])",
        })
    at = run_page("views/models.py")
    assert "Champion and challenger decisions" in texts(at)
    # Whole, in a table that wraps (a grid cell cut it after ~50 characters at 1280 px).
    shown = at.table[-1].value.set_index("challenger").loc["run-b"]
    assert shown["reason"] == "champion's forecasts drifted (open alerts for ['FC-BUSAN'])"
    assert shown[["champion after", "promoted"]].tolist() == ["run-b", "yes"]


#: The loop's simulated clock in the simulation tests: 12:00 in Seoul, months before the seeded runs.
SIM_NOW = pd.Timestamp("2026-03-10 03:00")


def simulated(engine, run_id: str, created_at: pd.Timestamp, data_end: str, status: str | None) -> None:
    """A run whose data ends on ``data_end`` (in the simulated period; the seeded champion's forecasts,
    moved to start the day after) and a plan made from it (``plan-`` + its id, stamped ``created_at``
    plus an hour), as a simulation writes them; the clock set to :data:`SIM_NOW`."""
    from sqlalchemy import insert

    from fcplan.app.seed_db import store_run
    from fcplan.storage import queries as q
    from fcplan.storage.schema import clock_state, plan_runs, staffing_plans

    real, real_plan = q.current_forecast_run(engine), q.latest_plan_run(engine)
    first = pd.Timestamp(data_end) + pd.Timedelta(days=1)
    wide = q.forecast_frame(engine, real["run_id"])
    store_run(engine, wide.assign(ds=wide["ds"] - (wide["ds"].min() - first)), run_id, created_at,
              pd.Timestamp(data_end), status, 14)
    plan_id = f"plan-{run_id}"
    plan = q.plan_frame(engine, real_plan["plan_id"]).head(3).assign(plan_id=plan_id)
    with engine.begin() as conn:
        conn.execute(insert(plan_runs), [{**real_plan, "plan_id": plan_id, "forecast_run_id": run_id,
                                          "created_at": (created_at + pd.Timedelta(hours=1)).to_pydatetime()}])
        conn.execute(insert(staffing_plans), plan.to_dict("records"))
        conn.execute(clock_state.delete())
        conn.execute(insert(clock_state), [{"name": "simulated", "now": SIM_NOW.to_pydatetime(),
                                            "updated_at": pd.Timestamp.now("UTC").tz_localize(None).to_pydatetime()}])


def test_when_a_simulation_started_in_the_past_shares_the_database_then_its_own_run_and_plan_are_current(
    make_database,
) -> None:
    """A simulated demo started in the past on a database holding real-time runs stamped its runs
    with the simulated clock: the real-time ones (wall-clock stamps, data to yesterday) sorted as the
    newest, so the pages showed the real-time forecast and plan as the simulation's current ones."""
    from fcplan.dashboard import data
    from fcplan.storage import make_engine
    from fcplan.storage import queries as q
    from fcplan.storage.schema import clock_state

    url, _ = make_database()
    engine = make_engine(url)
    real, real_plan = q.current_forecast_run(engine), q.latest_plan_run(engine)
    simulated(engine, "run-sim", SIM_NOW - pd.Timedelta(hours=8), "2026-03-09", "champion")
    engine.dispose()
    assert real["created_at"] > SIM_NOW  # the real-time run is the newest by its stamp
    assert data.latest_forecast(url)[0]["run_id"] == "run-sim"
    assert data.newest_forecast(url)[0]["run_id"] == "run-sim"
    assert data.latest_plan(url)[0]["plan_id"] == "plan-run-sim"
    # Without a simulated clock the newest stamps win, as before.
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(clock_state.delete())
    assert q.current_forecast_run(engine)["run_id"] == real["run_id"]
    assert q.latest_plan_run(engine)["plan_id"] == real_plan["plan_id"]
    engine.dispose()


def test_under_a_simulated_clock_the_run_of_the_newest_data_is_current_and_the_registry_shows_that_clock(
    make_database,
) -> None:
    """Runs stored before the loop stamped the simulated time carry the wall clock's, months after
    the simulated stamps of newer runs: by ``created_at`` an old run of the same simulated period
    was the newest forecast and its plan the current one; and the models page listed the real-time
    champion as the simulation's. The newest is the run whose data ends last, for the clock shown."""
    from fcplan.dashboard import data
    from fcplan.storage import make_engine
    from fcplan.storage import queries as q
    from fcplan.storage.schema import clock_state

    url, _ = make_database()
    engine = make_engine(url)
    real = q.current_forecast_run(engine)
    wall = pd.Timestamp.now("UTC").tz_localize(None).floor("s")
    simulated(engine, "run-sim", SIM_NOW - pd.Timedelta(hours=8), "2026-03-09", "champion")
    simulated(engine, "run-wall", wall, "2026-03-05", "challenger")  # older data, newer (wall-clock) stamp
    engine.dispose()
    assert data.newest_forecast(url)[0]["run_id"] == "run-sim"
    assert data.latest_plan(url)[0]["plan_id"] == "plan-run-sim"
    assert list(data.runs(url)["run_id"]) == ["run-sim", "run-wall"]  # the clock's runs, newest data first
    at = run_page("views/models.py")
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "status" in d.value.columns)
    assert table[["status", "run_id"]].values.tolist() == [["champion", "run-sim"], ["challenger", "run-wall"]]
    # Real time (no simulated clock): the newest stamps, every run, as before.
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(clock_state.delete())
    from fcplan.storage.report_queries import runs_frame

    stamps = runs_frame(engine)
    assert stamps["created_at"].is_monotonic_decreasing and "run-sim" in set(stamps["run_id"])
    assert q.latest_forecast_run(engine)["run_id"] == stamps["run_id"].iloc[0]
    assert q.current_forecast_run(engine)["run_id"] == real["run_id"]  # the newest champion by its stamp
    assert q.latest_plan_run(engine)["plan_id"] == "plan-run-wall"
    engine.dispose()


def _chart(at: AppTest, title: str) -> tuple[dict, pd.DataFrame]:
    """The spec and data of the page's Altair chart whose x axis is titled ``title`` (from the start)."""
    import json

    import pyarrow as pa

    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        if str(spec.get("encoding", {}).get("x", {}).get("title", "")).startswith(title):
            return spec, pa.ipc.open_stream(element.proto.datasets[0].data.data).read_pandas()
    raise AssertionError(f"no chart with an x axis titled {title!r}")


def test_under_a_simulated_clock_the_leaderboard_history_places_runs_by_their_data_not_their_stamps(
    make_database,
) -> None:
    """The leaderboard history's x axis was ``created_at``: under a simulated clock a run stored
    before the loop stamped the simulated time (wall clock, months later) was drawn as the newest,
    after the run that replaced it. The axis is now the run's last day of data, the order the
    page's current run is chosen by; real time keeps the run's stamp (local time)."""
    from fcplan.storage import make_engine
    from fcplan.storage.schema import clock_state

    url, _ = make_database()
    engine = make_engine(url)
    wall = pd.Timestamp.now("UTC").tz_localize(None).floor("s")
    simulated(engine, "run-sim", SIM_NOW - pd.Timedelta(hours=8), "2026-03-09", "champion")
    simulated(engine, "run-wall", wall, "2026-03-05", "challenger")  # older data, newer (wall-clock) stamp
    engine.dispose()
    at = run_page("views/models.py")
    assert not at.exception, at.exception
    spec, points = _chart(at, "orders up to")
    assert spec["encoding"]["x"]["field"] == "data_end"
    day = points.groupby("run_id")["data_end"].first().map(lambda t: pd.Timestamp(t).date().isoformat())
    assert day.to_dict() == {"run-sim": "2026-03-09", "run-wall": "2026-03-05"}
    assert "Simulated clock" in texts(at)
    # Real time: when each run was made, as before.
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(clock_state.delete())
    engine.dispose()
    st_cache_clear()
    at = run_page("views/models.py")
    spec, points = _chart(at, "run made")
    assert spec["encoding"]["x"]["field"] == "created_at" and points["run_id"].nunique() > 2


def st_cache_clear() -> None:
    import streamlit as st

    st.cache_data.clear()


def test_the_what_if_page_reads_the_stored_center_configuration_through_the_shared_helper() -> None:
    """The What-if page kept its own near-copy of ``common.stored_config``; one function serves
    the Staffing and What-if pages and the service level tiles, with the same answers."""
    from fcplan.dashboard.views.common import stored_config

    path = APP.parent / "views" / "whatif.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    assert not [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "stored_config"]
    conf = {"center_id": "FC-ICN", "timezone": "Asia/Seoul", "service_level": 0.9}
    run = {"params": {"centers": {"FC-ICN": conf, "FC-PUS": {"center_id": ""}}}}
    assert stored_config(run, "FC-ICN").service_quantile == pytest.approx(0.9)
    assert stored_config(run, "FC-PUS") is None  # a configuration that does not validate
    assert stored_config(run, "FC-XXX") is None and stored_config({"params": None}, "FC-ICN") is None
    assert stored_config(None, "FC-ICN") is None and stored_config({"params": {"centers": {"FC-ICN": {}}}},
                                                                   "FC-ICN") is None
