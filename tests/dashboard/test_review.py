"""What an operations manager reads on the pages: who to call in or release, a center that has
orders but no forecast yet, one waiting note per page, missing numbers as dashes, and charts whose
day axes name the month and whose promotions are named (Streamlit AppTest and the chart specs)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pandas as pd
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from fcplan.dashboard import charts
from fcplan.dashboard.views.common import WAITING_PLAN

from .test_dashboard import _whatif

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
TZ = "Asia/Seoul"
NEW = "FC-NEW"


def run_page(page: str, center: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    if center is not None:
        at.sidebar.selectbox[0].set_value(center).run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    kinds = ("markdown", "caption", "info", "warning", "success", "header", "subheader")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def _path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def _add_center_without_forecast(url: str) -> None:
    """Three days of hourly orders of a center the forecast and plan do not know yet, the
    current hour included, written as SQLAlchemy writes them ("2026-01-05 15:00:00.000000": a
    plain str() left out the microseconds, and SQLite's text comparison then the hour at local
    midnight, so just after midnight the center had no orders today)."""
    now = pd.Timestamp.now("UTC").tz_localize(None).floor("h")
    hours = [f"{now - pd.Timedelta(hours=k):%Y-%m-%d %H:%M:%S.%f}" for k in range(72)]
    with closing(sqlite3.connect(_path(url))) as con:
        con.executemany(
            "INSERT INTO center_hourly (center_id, hour, orders, lines, units, updated_at) "
            "VALUES (?, ?, 30, 60, 90, ?)",
            [(NEW, h, h) for h in hours],
        )
        con.commit()


def _store_center_config(url: str, conf) -> None:
    """The plan run's stored configuration of ``conf.center_id`` replaced by ``conf``."""
    with closing(sqlite3.connect(_path(url))) as con:
        (params,) = con.execute("SELECT params FROM plan_runs").fetchone()
        params = json.loads(params)
        params["centers"][conf.center_id] = conf.model_dump(mode="json")
        con.execute("UPDATE plan_runs SET params = ?", (json.dumps(params),))
        con.commit()


def _store_changes(url: str, center: str) -> tuple[str, str]:
    """The plan's change columns as the planner writes them: every shift "no change", except a
    call-in on the center's swing shift today, a release on its day shift tomorrow and a
    call-in a week ahead (not due yet); returns today and tomorrow (ISO)."""
    today = pd.Timestamp.now(tz=TZ).tz_localize(None).normalize()
    day = {k: str((today + pd.Timedelta(days=k)).date()) for k in (0, 1, 7)}
    with closing(sqlite3.connect(_path(url))) as con:
        con.execute("UPDATE staffing_plans SET packers_before = packers, packers_change = 0, action = 'no change'")
        for k, shift, before, action in ((0, "swing", -2, "call in 2"), (1, "day", 1, "release 1"),
                                         (7, "day", -1, "call in 1")):
            con.execute(
                "UPDATE staffing_plans SET packers_before = packers + ?, packers_change = ?, action = ?, "
                "starts_at = ? WHERE center_id = ? AND day = ? AND shift = ?",
                (before, -before, action, f"{day[k]} {'14' if shift == 'swing' else '06'}:00:00.000000", center,
                 day[k], shift),
            )
        con.commit()
    return day[0], day[1]


def test_when_the_plan_changed_shifts_today_and_tomorrow_then_the_staffing_page_lists_who_to_call_in(
    make_database,
) -> None:
    url, _ = make_database()
    _store_changes(url, "FC-ICN")
    at = run_page("views/staffing.py", "FC-ICN")
    assert "Call in / release, today and tomorrow · FC-ICN" in texts(at)
    due = at.dataframe[0].value
    today = pd.Timestamp.now(tz=TZ).tz_localize(None).normalize()
    assert due["action"].tolist() == ["call in 2", "release 1"]  # soonest first; "no change" and next week left out
    assert due["day"].tolist() == [f"{today:%a %d %b}", f"{today + pd.Timedelta(days=1):%a %d %b}"]
    assert due["shift"].tolist() == ["swing", "day"]
    assert (due["packers now"] - due["booked before"]).tolist() == [2, -1]
    assert "1 shift(s) to call packers in, 1 to release" in texts(at)


def test_when_the_plan_changed_nothing_due_then_the_staffing_page_says_the_booking_stands(make_database) -> None:
    url, _ = make_database()
    _store_changes(url, "FC-ICN")
    at = run_page("views/staffing.py", "FC-PUS")
    assert "No change to the shifts not yet started" in texts(at)


def test_when_the_plan_stores_no_changes_then_the_staffing_page_says_so_and_adds_no_table(make_database) -> None:
    make_database()
    at = run_page("views/staffing.py")
    # Session 18: said in a manager's words ("stores no change against..." was the store's).
    assert "No call-in / release list for this plan" in texts(at) and "stores no change" not in texts(at)
    assert "total" in at.dataframe[0].value.columns  # the first table is still the plan itself


def test_when_there_is_no_plan_then_the_staffing_page_says_it_waits_once(make_database) -> None:
    make_database(empty=True)
    at = run_page("views/staffing.py")
    assert [i.value for i in at.info].count(WAITING_PLAN) == 1


def test_when_a_center_has_orders_but_no_forecast_then_its_pages_say_so_not_that_no_plan_exists(
    make_database,
) -> None:
    url, _ = make_database()
    _add_center_without_forecast(url)
    at = run_page("views/center.py", NEW)
    said = texts(at)
    assert f"The latest forecast run has no rows for {NEW}" in said
    assert f"has no shifts for {NEW}" in said
    assert WAITING_PLAN not in said
    assert not any(s.key == "center_horizon" for s in at.slider)  # no horizon to choose
    at.switch_page("views/whatif.py").run()
    assert not at.exception, at.exception
    assert f"The latest forecast run has no rows for {NEW}" in texts(at)
    assert WAITING_PLAN not in texts(at)


def test_when_a_center_has_no_forecast_then_the_network_table_writes_a_dash_not_none(make_database) -> None:
    url, _ = make_database()
    _add_center_without_forecast(url)
    at = run_page("views/network.py")
    table = at.dataframe[0]
    values = table.value.set_index("center")
    assert values.loc[NEW, ["forecast today", "packers today"]].isna().all()  # missing, as the page has it
    assert table.proto.placeholder == "—"  # ... which the browser writes as a dash, not "None"


def test_when_promotions_fall_in_the_window_then_the_center_page_names_them_and_only_them(make_database) -> None:
    make_database()
    at = run_page("views/center.py", "FC-ICN")
    caption = next(c.value for c in at.caption if c.value.startswith("black: actual orders"))
    assert "sitewide sale -20%" in caption and "flash -35%" in caption  # both in the 8 weeks shown
    at.segmented_control(key="center_history").set_value("4 weeks").run()
    at.slider(key="center_horizon").set_value(2).run()
    caption = next(c.value for c in at.caption if c.value.startswith("black: actual orders"))
    assert "flash" in caption and "sitewide sale" not in caption  # the sale starts on day 3


# The charts ------------------------------------------------------------------------------------

TODAY = pd.Timestamp("2026-12-07")


def _fan_spec(promos: pd.DataFrame) -> dict:
    history = pd.DataFrame({"ds": pd.date_range(TODAY - pd.Timedelta(days=56), TODAY), "y": 100.0})
    forecast = pd.DataFrame({"ds": pd.date_range(TODAY, periods=14), "0.1": 90.0, "0.5": 100.0, "0.9": 110.0})
    return charts.forecast_fan(history, forecast, promos, TODAY).to_dict()


def _axes(spec: object) -> list[dict]:
    """Every x axis set in the spec."""
    found = []
    if isinstance(spec, dict):
        x = spec.get("encoding", {}).get("x") if isinstance(spec.get("encoding"), dict) else None
        if isinstance(x, dict) and "axis" in x:
            found.append(x["axis"])
        for v in spec.values():
            found += _axes(v)
    elif isinstance(spec, list):
        for v in spec:
            found += _axes(v)
    return found


def test_when_the_fan_is_drawn_then_every_day_label_names_its_month_and_no_hour() -> None:
    promos = pd.DataFrame({"start": [TODAY + pd.Timedelta(days=3)], "end": [TODAY + pd.Timedelta(days=6)],
                           "kind": ["sitewide_sale"], "discount_pct": [20.0]})
    axes = _axes(_fan_spec(promos))
    assert axes and all(a.get("format") == "%a %d %b" for a in axes), axes
    assert all(a.get("tickMinStep") == 24 * 3600 * 1000 for a in axes)


def test_when_a_promotion_is_in_the_window_then_the_fan_writes_its_kind_and_discount() -> None:
    promos = pd.DataFrame({"start": [TODAY + pd.Timedelta(days=3)], "end": [TODAY + pd.Timedelta(days=6)],
                           "kind": ["sitewide_sale"], "discount_pct": [20.0]})
    assert "sitewide sale -20%" in json.dumps(_fan_spec(promos))  # the kind in words, as the caption
    assert "sitewide" not in json.dumps(_fan_spec(promos.iloc[0:0]))


def test_when_shifts_are_stacked_then_the_bars_read_their_rank_in_the_plans_order() -> None:
    plan = pd.DataFrame({"day": [TODAY] * 3, "shift": ["night", "day", "swing"], "packers": [1, 3, 3]})
    spec = charts.staffing_bars(plan, ["day", "swing", "night"]).to_dict()
    datasets = list(spec["datasets"].values())
    assert len(datasets) == 1  # one data set, read by the bars and their totals alike
    ranks = {r["shift"]: r["shift_rank"] for r in datasets[0]}
    assert ranks == {"day": 0, "swing": 1, "night": 2}
    bars = spec["layer"][0]["encoding"]
    assert bars["order"] == {"field": "shift_rank", "sort": "ascending", "type": "quantitative"}


def test_when_a_center_has_no_forecast_then_the_fan_legend_lists_no_forecast() -> None:
    history = pd.DataFrame({"ds": pd.date_range(TODAY - pd.Timedelta(days=3), TODAY), "y": 100.0})
    empty = pd.DataFrame({"ds": pd.Series(dtype="datetime64[ns]")})
    spec = charts.forecast_fan(history, empty, empty.iloc[0:0], TODAY).to_dict()
    colors = [layer["encoding"]["color"] for layer in spec["layer"] if "color" in layer.get("encoding", {})]
    assert [c["scale"]["domain"] for c in colors] == [[charts.ACTUAL]]


def test_when_the_plan_stored_the_centers_own_configuration_then_the_whatif_baseline_uses_it(
    make_database,
) -> None:
    """A center that packs 10 orders an hour at a 95% service level needs about three times the
    packers of the defaults; the what-if baseline must be the planner's rule on that configuration
    (:func:`plan_crews`), the one behind the stored plan, not the global defaults."""
    from fcplan.planner.centers import CenterConfig
    from fcplan.planner.crews import hour_profiles, plan_crews

    url, written = make_database()
    conf = CenterConfig(center_id="FC-ICN", orders_per_packer_hour=10.0, service_level=0.95, min_packers=0)
    _store_center_config(url, conf)
    at = run_page("views/whatif.py", "FC-ICN")
    today = pd.Timestamp.now(tz=TZ).tz_localize(None).normalize()
    table = _whatif(at, today, 1, 0)
    forecast = written["forecast"].assign(unique_id=lambda f: f["unique_id"].astype(str))
    forecast = forecast[forecast["unique_id"] == "FC-ICN"]
    hourly = written["hourly"]
    profile = hour_profiles(hourly[hourly["unique_id"] == "FC-ICN"], ["FC-ICN"], days=56, before=today)
    expected = plan_crews(forecast, {"FC-ICN": conf}, profile).groupby("ds")["packers"].sum()
    assert table["packers"].tolist() == expected.tolist()
    stored = written["plan"]
    default = stored[stored["unique_id"] == "FC-ICN"].groupby("ds")["packers"].sum()
    assert (table["packers"].to_numpy() > 2 * default.to_numpy()).all()  # not the defaults' plan
    assert "staffed at the 95% demand quantile" in texts(at).lower()


def _chart_data(at: AppTest, title: str) -> pd.DataFrame:
    """The data of the chart with a title starting ``title``."""
    for node in at.main:
        if getattr(node, "type", "") == "vega_lite_chart" and f'"title": "{title}' in json.dumps(
                json.loads(node.proto.spec)):
            return dataframe_util.convert_arrow_bytes_to_pandas_df(node.proto.datasets[0].data.data)
    raise AssertionError(f"no chart titled {title!r}")


def test_when_the_models_page_draws_runs_over_time_then_their_times_are_local(make_database) -> None:
    url, _ = make_database(past_runs=7)
    at = run_page("views/models.py")
    shown = _chart_data(at, "run made")
    with closing(sqlite3.connect(_path(url))) as con:
        runs = pd.read_sql("SELECT created_at FROM forecast_runs", con, parse_dates=["created_at"])
    local = runs["created_at"].dt.tz_localize("UTC").dt.tz_convert(TZ).dt.tz_localize(None)
    assert set(pd.to_datetime(shown["created_at"]).dt.tz_localize(None).dt.floor("s")) <= set(local.dt.floor("s"))


def test_when_a_center_further_down_is_understaffed_then_the_network_table_lists_it_first(make_database) -> None:
    make_database(centers=("FC-PUS", "FC-ICN"), challenger_lift=1.3)  # the challenger lifts FC-PUS
    at = run_page("views/network.py")
    table = at.dataframe[0].value
    assert table["center"].tolist() == ["FC-PUS", "FC-ICN"]
    assert table["staffing today"].iloc[0].startswith("under +")


def test_when_the_network_page_reads_the_staffing_then_it_compares_the_newest_forecast_with_the_plans_own(
    make_database,
) -> None:
    """The status is the newest forecast against the forecast the plan was made from (its
    ``forecast_run_id``), day for day, not against the plan's ``orders_planned`` summed over the day's
    shifts (30 of 24 hours after a closed day: "overstaffed" with nothing changed). FC-ICN's plan was
    made from run-0, which expected 30% fewer orders than the newest forecast: understaffed. FC-PUS's
    shifts plan 30/24 of its day's orders (as on a Monday after a closed Sunday): still ok."""
    url, _ = make_database(challenger_lift=None)  # the newest forecast is the champion, run-1
    with closing(sqlite3.connect(_path(url))) as con:
        con.execute("INSERT INTO forecast_runs SELECT 'run-0', datetime(created_at, '-1 day'), model_version, horizon, "
                    "quantiles, weights, data_end, fit_seconds, fallbacks, data_start, 'run-0', 'retired', "
                    "error_correlation, backtest_cutoffs FROM forecast_runs WHERE run_id = 'run-1'")
        con.execute("INSERT INTO forecasts SELECT 'run-0', unique_id, ds, model, quantile, CASE unique_id "
                    "WHEN 'FC-ICN' THEN value / 1.3 ELSE value END FROM forecasts WHERE run_id = 'run-1'")
        con.execute("UPDATE plan_runs SET forecast_run_id = 'run-0'")
        con.execute("UPDATE staffing_plans SET orders_planned = orders_planned * 30 / 24 WHERE center_id = 'FC-PUS'")
        con.commit()
    at = run_page("views/network.py")
    table = at.dataframe[0].value.set_index("center")
    assert table.loc["FC-ICN", "staffing today"].startswith("under +")
    assert table.loc["FC-ICN", "staffing tomorrow"].startswith("under +")
    assert table.loc["FC-PUS", "staffing today"] == "ok" and table.loc["FC-PUS", "staffing tomorrow"] == "ok"
    assert any("from forecast `run-0`" in c.value for c in at.caption)


def test_when_the_plans_forecast_is_no_longer_stored_then_the_network_page_says_why_staffing_is_blank(
    make_database,
) -> None:
    """A plan whose forecast run is gone (compacted, or naming none) has no forecast to read the newest
    against: every staffing cell read "—" and the caption still said "newest forecast against the
    plan's, day for day", with nothing on why or what to do."""
    url, _ = make_database(challenger_lift=None)
    with closing(sqlite3.connect(_path(url))) as con:
        con.execute("UPDATE plan_runs SET forecast_run_id = 'run-gone'")
        con.commit()
    at = run_page("views/network.py")
    table = at.dataframe[0].value
    assert (table["staffing today"] == "—").all()
    caption = " ".join(c.value for c in at.caption)
    assert "the plan's forecast `run-gone` is no longer stored" in caption
    assert "`fcplan plan`" in caption and "day for day" not in caption


def test_when_centers_are_ranked_then_decisions_come_first_and_names_break_ties() -> None:
    from fcplan.dashboard.summaries import attention_first

    table = pd.DataFrame({
        "center": ["A", "B", "C", "D", "E"],
        "staffing today": ["ok", "overstaffed (-2)", "ok", "understaffed (+1)", "ok"],
        "staffing tomorrow": ["ok", "ok", "understaffed (+3)", "ok", "ok"],
        "open alerts": [0, 0, 0, 0, 2],
    })
    assert attention_first(table)["center"].tolist() == ["D", "C", "E", "B", "A"]


def test_when_a_center_has_its_own_service_level_then_the_staffing_page_shows_it_not_the_runs(
    make_database,
) -> None:
    """A centers file gives FC-ICN a 90% service level (the others keep the run's 75%): its tile, the
    all-centers tile and the parameters say so, not the run-wide 75% of the planner variables."""
    from fcplan.planner.centers import CenterConfig

    url, _ = make_database()
    conf = CenterConfig(center_id="FC-ICN", service_level=0.9)
    _store_center_config(url, conf)
    at = run_page("views/staffing.py", "FC-ICN")
    assert next(m.value for m in at.metric if m.label == "Service level") == "90%"
    assert "**Service level 90%**" in texts(at)
    at.radio(key="staffing_scope").set_value("All centers").run()
    assert next(m.value for m in at.metric if m.label == "Service level") == "75%–90%"


def test_when_centers_have_their_own_service_levels_then_the_network_status_reads_each_ones_quantile() -> None:
    """Center A is planned at 90%: its plan's forecast put that quantile at 1100 orders, the newest
    forecast's 90% quantile asks for 1300 (understaffed by 2 of 10 packers) while its 75% quantile
    moved by less than the tolerance (1080 -> 1100)."""
    from fcplan.dashboard import summaries as s

    day = pd.Timestamp("2026-03-02")
    newest = pd.DataFrame({"unique_id": ["A", "B"], "ds": day, "0.5": [1000.0, 500.0], "0.75": [1100.0, 550.0],
                           "0.9": [1300.0, 650.0]})
    made = newest.assign(**{"0.75": [1080.0, 550.0], "0.9": [1100.0, 650.0]})  # the plan's forecast
    plan = pd.DataFrame({"unique_id": ["A", "B"], "ds": day, "packers": [10, 5], "orders_planned": [1100.0, 550.0]})
    shares = pd.DataFrame(columns=["unique_id", "hour", "share", "done"])
    today = pd.DataFrame(columns=["unique_id", "ds", "y"])
    now = {"A": day + pd.Timedelta(hours=9), "B": day + pd.Timedelta(hours=9)}
    table = s.network_table(["A", "B"], {"A": TZ, "B": TZ}, now, made, newest, plan, {"A": 0.9, "B": 0.75},
                            today, shares, {}).set_index("center")
    assert table.loc["A", "staffing today"] == "understaffed (+2)"
    assert table.loc["B", "staffing today"] == "ok"


def test_when_centers_are_on_different_dates_then_all_centers_tiles_count_each_ones_own_today(make_database) -> None:
    """Kiritimati (UTC+14) and Pago Pago (UTC-11) are always on different dates, and at least one of
    them is off the dashboard's zone (Seoul): each center's packers count on its own local today."""
    zones = {"FC-ICN": "Pacific/Kiritimati", "FC-PUS": "Pacific/Pago_Pago"}
    url, _ = make_database(zones=zones)
    today = {c: pd.Timestamp.now(tz=z).tz_localize(None).normalize() for c, z in zones.items()}
    mark = {"FC-ICN": 100, "FC-PUS": 1000}  # packers per shift on each center's own today, else 1
    with closing(sqlite3.connect(_path(url))) as con:
        con.execute("UPDATE staffing_plans SET packers = 1")
        columns = [r[1] for r in con.execute("PRAGMA table_info(staffing_plans)")]
        picked = ", ".join("? AS day" if c == "day" else c for c in columns)
        for c, day in today.items():  # a plan made in Seoul may start after Pago Pago's today: add that day
            con.execute(f"INSERT OR IGNORE INTO staffing_plans ({', '.join(columns)}) SELECT {picked} FROM "
                        "staffing_plans WHERE center_id = ? AND day = (SELECT MIN(day) FROM staffing_plans "
                        "WHERE center_id = ?)", (f"{day:%Y-%m-%d}", c, c))
            con.execute("UPDATE staffing_plans SET packers = ? WHERE center_id = ? AND day = ?",
                        (mark[c], c, f"{day:%Y-%m-%d}"))
        shifts = dict(con.execute("SELECT center_id, COUNT(DISTINCT shift) FROM staffing_plans GROUP BY center_id"))
        con.commit()
    at = run_page("views/staffing.py")
    at.radio(key="staffing_scope").set_value("All centers").run()
    assert not at.exception, at.exception
    tile = next(m for m in at.metric if m.label == "Packers today · all centers")
    assert tile.value == str(sum(mark[c] * shifts[c] for c in zones))
    caption = next(c.value for c in at.caption if c.value.startswith("each center's own day"))
    assert f"{today['FC-ICN']:%a %d %b} (FC-ICN)" in caption and f"{today['FC-PUS']:%a %d %b} (FC-PUS)" in caption
