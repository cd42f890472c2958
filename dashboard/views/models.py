"""Models page: the champion run's leaderboard and ensemble weights, the registry's decisions."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fcplan.dashboard import charts, data
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
                    "WAPE": st.column_config.NumberColumn(format="%.3f"),
                    "MASE": st.column_config.NumberColumn(format="%.3f"),
                    "coverage": st.column_config.NumberColumn(
                        format="%.2f", help="share of actuals in the 10–90% band"
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
                    )
        weights = {k: float(v) for k, v in (run.get("weights") or {}).items()}
        if not weights and not board.empty and "weight" in board:
            weights = mean_board(board).set_index("model")["weight"].dropna().to_dict()
        if weights:
            st.subheader("Ensemble weights")
            chart = charts.weights_chart(weights)
            st.altair_chart(chart, width="stretch")
        decided = data.decisions(cfg.url)
        if not decided.empty:
            st.subheader("Champion and challenger decisions")
            shown = decided.assign(created_at=decided["created_at"].map(lambda t: local_text(t, cfg.timezone)))
            cols = ["created_at", "challenger_run_id", "champion_run_id", "promoted", "reason"]
            st.dataframe(shown[cols], hide_index=True, width="stretch")


def page() -> None:
    st.header("Models")
    live_models()


page()
