"""Models page: the champion and its challengers, the leaderboard of the champion run and its
history across runs, ensemble weights, the error correlation of the top members, the decisions."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fcplan.dashboard import charts, data, history_charts, summaries
from fcplan.dashboard.views.common import WAITING_FORECAST, local_text

COLUMNS = {
    "model": "model",
    "wql": "wQL",
    "wape": "WAPE",
    "mase": "MASE",
    "coverage": "coverage",
    "weight": "weight",
    "fit_seconds": "fit time (s)",
}


def mean_board(board: pd.DataFrame) -> pd.DataFrame:
    """One row per model (window -1, the mean over windows, when stored), best wQL first."""
    rows = (
        board[board["window"] == -1]
        if (board["window"] == -1).any()
        else (board.groupby("model", as_index=False).mean(numeric_only=True))
    )
    rows = rows[[c for c in COLUMNS if c in rows.columns]].sort_values("wql", na_position="last")
    return rows.rename(columns=COLUMNS)


@st.fragment(run_every=data.REFRESH_S)
def live_models() -> None:
    cfg = data.config()
    with data.database_errors(cfg.url):
        run, _ = data.latest_forecast(cfg.url)
        if run is None:
            st.info(WAITING_FORECAST)
            return
        st.caption(
            f"Run `{run['run_id']}` made {local_text(run['created_at'], cfg.timezone)} · "
            f"`{run['model_version']}` · horizon {run['horizon']} days"
            + (f" · {run['status']}, version `{run['version']}`" if run.get("status") else "")
        )
        board = data.leaderboard(cfg.url, run["run_id"])
        if board.empty:
            st.info("This run stored no leaderboard (backtest skipped?).")
        else:
            st.subheader("Leaderboard (backtest, mean over windows)")
            st.dataframe(
                mean_board(board),
                hide_index=True,
                width="stretch",
                column_config={
                    "wQL": st.column_config.NumberColumn(
                        format="%.4f", help="weighted quantile loss (lower is better)"
                    ),
                    "WAPE": st.column_config.NumberColumn(
                        format="percent", help="sum of |actual − median| / sum of actuals"
                    ),
                    "MASE": st.column_config.NumberColumn(
                        format="%.3f", help="mean absolute scaled error: the model's error against that of "
                        "repeating last week (below 1: better than it; lower is better)"),
                    "coverage": st.column_config.NumberColumn(
                        format="percent", help="share of actuals in the 10–90% band (target 80%)"
                    ),
                    "weight": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f"),
                    "fit time (s)": st.column_config.NumberColumn(format="%.1f"),
                },
            )
            per_window = board[board["window"] >= 0]
            if not per_window.empty:
                with st.expander("Per backtest window"):
                    st.dataframe(
                        per_window.drop(columns=["run_id"]).sort_values(["window", "wql"]),
                        hide_index=True,
                        width="stretch",
                        placeholder="—",
                    )
        stored = run.get("weights")
        weights = {k: float(v) for k, v in stored.items()} if isinstance(stored, dict) else {}
        if not weights and not board.empty and "weight" in board:
            weights = mean_board(board).set_index("model")["weight"].dropna().to_dict()
        if weights:
            st.subheader("Ensemble weights")
            chart = charts.weights_chart(weights)
            st.altair_chart(chart, width="stretch")
        history(run)
        decided = data.decisions(cfg.url)
        if not decided.empty:
            st.subheader("Champion and challenger decisions")
            st.table(decisions_table(decided, cfg.timezone), hide_index=True, border="horizontal")


def decisions_table(decided: pd.DataFrame, tz: str) -> pd.DataFrame:
    """The registry's decisions as a manager reads them: when (local time), the challenger, the
    champion after the decision, whether it was promoted, and the reason, whole (a grid cut it
    after ~50 characters at 1280 px: "open alerts for ['FC-SE")."""
    return pd.DataFrame({
        "decided": decided["created_at"].map(lambda t: local_text(t, tz)),
        "challenger": decided["challenger_run_id"],
        "champion after": decided["champion_run_id"],
        "promoted": decided["promoted"].map(lambda p: "yes" if p else "no"),
        "reason": decided["reason"],
    })


RUN_CHOICES = (10, 30, 90, 365)
#: The run table's headers, in a manager's words.
RUN_COLUMNS = {
    "run_id": st.column_config.TextColumn("run"),
    "created_at": st.column_config.TextColumn("made", help="when the run was stored (local time)"),
    "data_end": st.column_config.DateColumn("data to", help="the last day of orders the run was fitted on"),
    "model_version": st.column_config.TextColumn("model", help="the ensemble and its members' weights"),
    "fit_seconds": st.column_config.NumberColumn("fit (s)", format="%.1f", help="seconds the retrain took"),
}
TOP_MEMBERS = 5


def runs_table(runs: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Champion first, then challengers, then retired runs, each in the order given (newest first:
    see :func:`data.runs`; under a simulated clock, ``created_at`` can be the wall clock's)."""
    rank = runs["status"].map({"champion": 0, "challenger": 1}).fillna(2)
    shown = runs.assign(rank=rank).sort_values("rank", kind="stable")
    shown = shown.assign(created_at=shown["created_at"].map(lambda t: local_text(t, tz)))
    return shown[["status", "run_id", "created_at", "data_end", "model_version", "fit_seconds"]]


def history_points(board: pd.DataFrame, runs: pd.DataFrame, tz: str, simulated: bool) -> tuple[pd.DataFrame, str]:
    """The leaderboard history's points (``run_id, model, wql`` and the x column) and its x column.

    Real time: when each run was made, in local time (the database's times are UTC). Under the
    loop's simulated clock ``created_at`` mixes clocks (runs stored before the loop stamped the
    simulated time carry the wall clock's, months after newer runs): the run's last day of data
    instead, the order the page's current run is chosen by (:func:`data.runs`), keeping the newest
    run of each day (``runs`` is newest first)."""
    means = board[board["window"] == -1]
    if not simulated:
        x = history_charts.MADE
        made = runs[["run_id", "created_at"]].assign(created_at=runs["created_at"].map(
            lambda t: data.to_local(t, tz)))
        return means.merge(made, on="run_id")[["run_id", x, "model", "wql"]], x
    x = history_charts.DATA_TO
    days = runs[["run_id", x]].assign(**{x: pd.to_datetime(runs[x])}).dropna(subset=[x])
    days = days.drop_duplicates(x, keep="first")  # the newest run of each day of data
    return means.merge(days, on="run_id")[["run_id", x, "model", "wql"]], x


def history(run: dict) -> None:
    """Champion and challengers, leaderboard over runs, member error correlation."""
    cfg = data.config()
    n = st.segmented_control("Runs", RUN_CHOICES, default=30, key="models_runs",
                             format_func=lambda k: f"last {k} runs") or 30
    runs = data.runs(cfg.url, n)
    if runs.empty:
        return
    st.subheader("Champion and challengers")
    live = runs[runs["status"].isin(["champion", "challenger"])]
    st.dataframe(runs_table(live if len(live) else runs.head(5), cfg.timezone), hide_index=True, width="stretch",
                 column_config=RUN_COLUMNS)
    board = data.leaderboard_history(cfg.url, tuple(runs["run_id"]))
    if board.empty:
        return
    points, x = history_points(board, runs, cfg.timezone, data.simulated_clock(cfg.url))
    if points["run_id"].nunique() > 1:
        st.subheader(f"Leaderboard over the last {points['run_id'].nunique()} runs")
        st.altair_chart(history_charts.leaderboard_history(points, x), width="stretch")
        if x == history_charts.DATA_TO:
            st.caption("Simulated clock: runs placed by the last day of orders they were fitted on (their "
                       "'made' times can mix the wall clock's and the simulated clock's); the newest run of "
                       "each day.")
    corr = summaries.error_correlation(board, TOP_MEMBERS)
    members = corr["a"].nunique() if len(corr) else TOP_MEMBERS
    st.subheader(f"Error correlation of the top {members} members")
    if corr.empty:
        st.caption("Needs per-window backtest scores of at least three windows (stored with each run).")
        return
    st.altair_chart(history_charts.correlation_heatmap(corr), width="content")
    st.caption(
        "Correlation of the members' wQL over every backtest window of these runs: members that fail on "
        "the same windows add little to each other in the ensemble."
    )


def page() -> None:
    st.header("Models")
    live_models()


page()
