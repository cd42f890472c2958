"""Forecast page: daily orders, the latest forecast fan, promotions, headcount tiles."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fcplan.core.panel import DS, MODEL, UNIQUE_ID
from fcplan.dashboard import charts, data
from fcplan.dashboard.views.common import (
    WAITING_FORECAST,
    WAITING_ORDERS,
    center_rows,
    headcount_tiles,
    local_text,
    selected_center,
)


def _model_rows(forecast: pd.DataFrame, center: str) -> pd.DataFrame:
    rows = center_rows(forecast, center)
    return rows.drop(columns=[UNIQUE_ID, MODEL], errors="ignore").sort_values(DS)


@st.fragment(run_every=data.REFRESH_S)
def live_forecast(center: str) -> None:
    cfg = data.config()
    with data.database_errors(cfg.url):
        history = data.daily_history(cfg.url, cfg.timezone)
        history = history[history[UNIQUE_ID] == center]
        run, forecast = data.latest_forecast(cfg.url)
        rows = _model_rows(forecast, center) if run is not None and not forecast.empty else pd.DataFrame()
        if history.empty and rows.empty:
            st.info(WAITING_ORDERS)
            return
        if run is None:
            st.info(WAITING_FORECAST)
        elif rows.empty:
            st.warning(f"The latest forecast run has no rows for {center} (too little history yet?).")
        today = data.local_today(cfg.timezone, cfg.url)
        promos = data.promotions_for(cfg.url, cfg.timezone, center)
        fan_rows = rows if not rows.empty else pd.DataFrame({DS: pd.Series(dtype="datetime64[ns]")})
        st.altair_chart(charts.forecast_fan(history[[DS, "y"]], fan_rows, promos, today), width="stretch")
        notes = ["black: actual orders per day (◆ today so far)"]
        if not rows.empty:
            notes.append("blue: forecast median, 10–90% (dark) and 5–95% (light) bands")
        if len(promos):
            notes.append("orange: promotions")
        st.caption(" · ".join(notes))
        if run is not None:
            fallbacks = run.get("fallbacks") or {}
            st.caption(
                f"Forecast run `{run['run_id']}` made {local_text(run['created_at'], cfg.timezone)} "
                f"on data to {run.get('data_end') or '—'} · model `{run['model_version']}` · "
                f"fit {run['fit_seconds']:.1f} s" + (f" · fallbacks: {fallbacks}" if fallbacks else "")
            )
        if not rows.empty:
            with st.expander("Forecast numbers"):
                shown = rows.assign(**{DS: rows[DS].dt.strftime("%a %Y-%m-%d")}).set_index(DS)
                st.dataframe(shown.round(0), width="stretch")


def page() -> None:
    center = selected_center()
    st.header(f"Forecast · {center}" if center else "Forecast")
    if center is None:
        st.info(WAITING_ORDERS)
        return
    cfg = data.config()
    with data.database_errors(cfg.url):
        headcount_tiles(center)
    live_forecast(center)


page()
