"""Altair charts of the past: forecast accuracy, intraday profile, leaderboard history,
error correlation (pure functions from frames to charts, like :mod:`fcplan.dashboard.charts`)."""

from __future__ import annotations

import altair as alt
import pandas as pd

_BLUE = "#1f6fb2"
_INK = "#222222"
_RED = "#d62728"


def accuracy_chart(days: pd.DataFrame, band: str) -> alt.LayerChart:
    """Issued day-ahead forecasts against actuals; ``days``: ``ds, y, forecast, lo, hi, inside``
    (:func:`fcplan.dashboard.summaries.accuracy`); ``band``: the band's name, e.g. "10–90%"."""
    frame = days.assign(outcome=days["inside"].map({True: "inside the band", False: "outside the band"}))
    x = alt.X("ds:T", title=None, axis=alt.Axis(format="%d %b"))
    area = (
        alt.Chart(frame)
        .mark_area(color=_BLUE, opacity=0.2)
        .encode(x=x, y=alt.Y("lo:Q", title="orders per day"), y2="hi:Q")
    )
    median = alt.Chart(frame).mark_line(color=_BLUE, strokeDash=[5, 3]).encode(x=x, y="forecast:Q")
    points = (
        alt.Chart(frame)
        .mark_point(filled=True, size=40)
        .encode(
            x=x,
            y="y:Q",
            color=alt.Color(
                "outcome:N",
                title=None,
                scale=alt.Scale(domain=["inside the band", "outside the band"], range=[_INK, _RED]),
                legend=alt.Legend(orient="top", direction="horizontal"),
            ),
            tooltip=[
                alt.Tooltip("ds:T", title="day", format="%a %d %b"),
                alt.Tooltip("y:Q", title="actual", format=",.0f"),
                alt.Tooltip("forecast:Q", title="forecast median", format=",.0f"),
                alt.Tooltip("lo:Q", title=f"{band} low", format=",.0f"),
                alt.Tooltip("hi:Q", title=f"{band} high", format=",.0f"),
            ],
        )
    )
    return alt.layer(area, median, points).properties(height=280)


def intraday_chart(profile: pd.DataFrame, now_hour: int) -> alt.LayerChart:
    """Orders per local hour today (bars) against the forecast spread by the typical
    profile (line); ``profile``: ``hour, actual, expected``."""
    long = profile.melt("hour", ["actual", "expected"], var_name="series", value_name="orders").dropna()
    long["series"] = long["series"].map({"actual": "orders today", "expected": "forecast × profile"})
    x = alt.X("hour:O", title="local hour", axis=alt.Axis(labelAngle=0))
    color = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(domain=["orders today", "forecast × profile"], range=[_INK, _BLUE]),
        legend=alt.Legend(orient="top", direction="horizontal"),
    )
    tooltip = ["hour:O", "series:N", alt.Tooltip("orders:Q", format=",.0f")]
    bars = (
        alt.Chart(long[long["series"] == "orders today"])
        .mark_bar(opacity=0.75)
        .encode(x=x, y=alt.Y("orders:Q", title="orders per hour"), color=color, tooltip=tooltip)
    )
    line = (
        alt.Chart(long[long["series"] != "orders today"])
        .mark_line(point=True)
        .encode(x=x, y="orders:Q", color=color, tooltip=tooltip)
    )
    now = alt.Chart(pd.DataFrame({"hour": [now_hour]})).mark_rule(color="#888888", strokeDash=[2, 2]).encode(x=x)
    return alt.layer(bars, line, now).properties(height=240)


def run_time_axis(times: pd.Series) -> alt.Axis:
    """The axis of run times: days ("07 Dec", one label a day at most) when the runs span
    several days; hours ("14:20", with the weekday when they fall on two dates) when they do not (the demo's
    runs come minutes apart: a day format labelled every tick "07 Dec")."""
    times = pd.to_datetime(times)
    if len(times) and times.max() - times.min() >= pd.Timedelta(days=3):
        return alt.Axis(format="%d %b", tickMinStep=24 * 3600 * 1000, labelOverlap=True)
    one_day = times.dt.normalize().nunique() <= 1
    return alt.Axis(format="%H:%M" if one_day else "%a %H:%M", tickMinStep=60 * 1000, labelOverlap=True)


#: The leaderboard history's x axes: the time a run was made (real time), or, under the loop's
#: simulated clock, the last day of orders it was fitted on (see :func:`history_points`).
MADE, DATA_TO = "created_at", "data_end"


def leaderboard_history(board: pd.DataFrame, x: str = MADE) -> alt.Chart:
    """wQL per model over runs; ``board``: ``x, model, wql`` (one row per run and model; ``run_id``
    too, for the tooltip, when given). ``x`` :data:`MADE`: when each run was made (local time);
    :data:`DATA_TO`: the last day of orders it was fitted on, one day a tick."""
    if x == DATA_TO:
        title, axis, fmt = "orders up to (the run's last day of data)", alt.Axis(
            format="%d %b", tickMinStep=24 * 3600 * 1000, labelOverlap=True), "%a %d %b"
    else:
        title, axis, fmt = "run made (local time)", run_time_axis(board[x]), "%a %d %b %H:%M"
    tips = [alt.Tooltip("run_id:N", title="run")] if "run_id" in board else []
    return (
        alt.Chart(board)
        .mark_line(point=alt.OverlayMarkDef(size=20))
        .encode(
            x=alt.X(f"{x}:T", title=title, axis=axis),
            y=alt.Y("wql:Q", title="backtest wQL (lower is better)", scale=alt.Scale(zero=False)),
            color=alt.Color("model:N", title="model", scale=alt.Scale(scheme="tableau10")),
            tooltip=["model:N", *tips, alt.Tooltip(f"{x}:T", title="run made" if x == MADE else "data to",
                                                   format=fmt),
                     alt.Tooltip("wql:Q", format=".4f")],
        )
        .properties(height=280)
    )


def correlation_heatmap(corr: pd.DataFrame) -> alt.LayerChart:
    """``a, b, corr`` as a heatmap with the values written in."""
    base = alt.Chart(corr).encode(x=alt.X("a:N", title=None), y=alt.Y("b:N", title=None))
    cells = base.mark_rect().encode(
        color=alt.Color("corr:Q", scale=alt.Scale(scheme="blueorange", domain=[-1, 1]), title="correlation")
    )
    text = base.mark_text(fontSize=12).encode(text=alt.Text("corr:Q", format=".2f"))
    return alt.layer(cells, text).properties(height=alt.Step(40), width=alt.Step(70))
