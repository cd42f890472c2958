"""Center page: one center's history and forecast fan (promotions and holidays on the axis,
a chosen horizon), today hour by hour, headcount per shift, and how good past forecasts were."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fcplan.core.calendar import holiday_names
from fcplan.core.panel import DS, MODEL, UNIQUE_ID, Y
from fcplan.dashboard import charts, data, history_charts, summaries
from fcplan.dashboard.views.common import (
    WAITING_FORECAST,
    WAITING_ORDERS,
    WAITING_PLAN,
    center_header,
    center_rows,
    center_today,
    headcount_tiles,
    local_text,
    shift_hours_text,
    shift_order,
    zone,
)

HISTORY_CHOICES = {"4 weeks": 28, "8 weeks": 56, f"{data.HISTORY_DAYS} days": data.HISTORY_DAYS}
ACCURACY_WEEKS = (4, 8, 12)


def _model_rows(forecast: pd.DataFrame, center: str) -> pd.DataFrame:
    rows = center_rows(forecast, center)
    return rows.drop(columns=[UNIQUE_ID, MODEL], errors="ignore").sort_values(DS)


def holidays_between(center: str, start: pd.Timestamp, end: pd.Timestamp) -> dict[pd.Timestamp, str]:
    """The center's public holidays (its plan's holiday country) with their names; none for an
    unknown country."""
    cfg = data.config()
    try:
        return holiday_names(data.holiday_country_of(cfg.url, cfg.holiday_country, center), start, end)
    except ValueError:
        return {}


def promos_in_view(promos: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    """The promotions that overlap the chart's days ``first`` to ``last`` (local midnights)."""
    if promos.empty:
        return promos
    return promos[(promos["end"] > first) & (promos["start"] < last + pd.Timedelta(days=1))].sort_values("start")


def promo_text(promo: object) -> str:
    """``sitewide sale -20% Thu 10 Dec–Sun 13 Dec`` (its last day, not the midnight it ends at; the
    stored kind in words)."""
    start, end = promo.start, promo.end  # type: ignore[attr-defined]
    last = end - pd.Timedelta(days=1) if end == end.normalize() and end > start else end
    discount = charts.promo_discount(promo.discount_pct)  # type: ignore[attr-defined]
    return f"{summaries.kind_label(promo.kind)} {discount} {start:%a %d %b}–{last:%a %d %b}".replace("  ", " ")  # type: ignore[attr-defined]


def holiday_list(holidays: dict[pd.Timestamp, str]) -> str:
    """``Fri 25 Dec Christmas Day · ...``: the holidays for people."""
    return " · ".join(f"**{d:%a %d %b}** {name}" for d, name in holidays.items())


def fan(center: str, history: pd.DataFrame, run: dict | None, rows: pd.DataFrame) -> None:
    cfg = data.config()
    today = center_today(center)
    cols = st.columns(2)
    shown = cols[0].segmented_control(
        "History", list(HISTORY_CHOICES), default="8 weeks", key="center_history"
    ) or "8 weeks"
    horizon = len(rows)
    days = (
        cols[1].slider("Forecast horizon (days)", 1, max(horizon, 2), horizon, key="center_horizon",
                       disabled=horizon < 2)
        if horizon
        else 0
    )
    history = history[history[DS] >= today - pd.Timedelta(days=HISTORY_CHOICES[shown])]
    rows = rows.head(days)
    first = min([history[DS].min(), today]) if len(history) else today
    last = rows[DS].max() if len(rows) else today
    promos = promos_in_view(data.promotions_for(cfg.url, zone(center), center), first, last)
    fan_rows = rows if not rows.empty else pd.DataFrame({DS: pd.Series(dtype="datetime64[ns]")})
    end = rows[DS].max() if len(rows) else today
    holidays = holidays_between(center, today - pd.Timedelta(days=HISTORY_CHOICES[shown]), end)
    st.altair_chart(charts.forecast_fan(history[[DS, Y]], fan_rows, promos, today, holidays), width="stretch")
    notes = ["black: actual orders per day (◆ today so far)"]
    if not rows.empty:
        notes.append("blue: forecast median, 10–90% (dark) and 5–95% (light) bands")
    if len(promos):
        notes.append("orange: promotions (" + "; ".join(promo_text(p) for p in promos.itertuples()) + ")")
    past = {d: n for d, n in holidays.items() if first <= d < today}
    if past:
        notes.append(f"red lines: public holidays (past: {', '.join(f'{d:%d %b} {n}' for d, n in past.items())})")
    st.caption(" · ".join(notes))
    coming = {d: n for d, n in holidays.items() if d >= today}
    if coming:
        st.markdown(f":material/event: Public holidays in the forecast horizon: {holiday_list(coming)}")
    elif not rows.empty:
        st.caption(f"No public holiday in the next {len(rows)} days.")
    if run is not None:
        fallbacks = run.get("fallbacks") or {}
        st.caption(
            f"Forecast run `{run['run_id']}` made {local_text(run['created_at'], zone(center))} "
            f"on data to {run.get('data_end') or '—'} · model `{run['model_version']}` · "
            f"fit {run['fit_seconds']:.1f} s" + (f" · fallbacks: {fallbacks}" if fallbacks else "")
        )
    if not rows.empty:
        with st.expander("Forecast numbers"):
            numbers = rows.assign(**{DS: rows[DS].dt.strftime("%a %Y-%m-%d")}).set_index(DS)
            st.dataframe(numbers.round(0), width="stretch")


def intraday(center: str, rows: pd.DataFrame) -> None:
    cfg = data.config()
    st.subheader("Today hour by hour")
    now = data.local_now(zone(center), cfg.url)
    shares = data.hour_profiles(cfg.url, cfg.timezone, summaries.PROFILE_DAYS, data.profile_key(cfg.url, cfg.timezone))
    shares = shares[shares[UNIQUE_ID] == center]
    today = data.hourly_local(cfg.url, cfg.timezone, 0, center)
    levels = [c for c in rows.columns if c != DS]
    median = rows.loc[rows[DS] == now.normalize(), summaries.level_near(levels, 0.5)] if levels else pd.Series()
    if shares.empty or median.empty:
        st.caption("Needs a forecast for today and a few days of hourly orders.")
        return
    profile = summaries.intraday(today, shares, float(median.iloc[0]))
    st.altair_chart(history_charts.intraday_chart(profile, now.hour), width="stretch")
    st.caption(
        f"{now:%a %d %b %H:%M} in {zone(center)} · bars: orders per hour so far · line: today's forecast median "
        f"spread by the last {summaries.PROFILE_DAYS} days' hourly profile"
    )


def shifts(center: str) -> None:
    cfg = data.config()
    st.subheader("Headcount per shift")
    run, plan = data.latest_plan(cfg.url)
    rows = plan[plan["center_id"] == center] if not plan.empty else plan
    if run is None or plan.empty:
        st.info(WAITING_PLAN)
        return
    if rows.empty:
        st.warning(f"The latest plan (`{run['plan_id']}`) has no shifts for {center}: no forecast for it yet?")
        return
    rows = summaries.from_today(rows, {center: center_today(center)})  # a plan from an old forecast holds past days
    if rows.empty:
        st.warning(f"The latest plan (`{run['plan_id']}`) ends before today at {center}: no shifts to book.")
        return
    order = shift_order(run, plan)
    st.altair_chart(charts.staffing_bars(rows[["day", "shift", "packers"]], order), width="stretch")
    hours = shift_hours_text(run, center, order)
    st.caption("Packers booked per shift and day" + (f" · shifts (local time): {hours}" if hours else ""))
    days = pd.to_datetime(rows["day"])
    holidays = holidays_between(center, days.min(), days.max())
    if holidays:
        st.markdown(f":material/event: Public holidays in the plan: {holiday_list(holidays)}")


def past_accuracy(center: str, history: pd.DataFrame, run: dict | None) -> None:
    cfg = data.config()
    st.subheader("How good were our past forecasts?")
    weeks = st.segmented_control("Weeks", ACCURACY_WEEKS, default=8, key="center_accuracy_weeks",
                                 format_func=lambda w: f"{w} weeks") or 8
    levels = [float(q) for q in (run or {}).get("quantiles") or []]
    if len(levels) < 3:
        st.caption(WAITING_FORECAST)
        return
    lo, hi = min(levels, key=lambda q: abs(q - 0.1)), min(levels, key=lambda q: abs(q - 0.9))
    mid = min(levels, key=lambda q: abs(q - 0.5))
    today = center_today(center)
    with st.spinner("Reading the forecasts issued over the past weeks…"):
        issued = data.issued_forecasts(cfg.url, center, today - pd.Timedelta(weeks=weeks), today, (lo, mid, hi))
    names = [f"{q:g}" for q in (lo, mid, hi)]
    if issued.empty or not set(names) <= set(issued.columns):
        st.caption("No forecast made before a past day is stored yet: accuracy shows after the first days.")
        return
    days = summaries.accuracy(issued, history[history[DS] < today], *names)
    if days.empty:
        st.caption("No complete day with an issued forecast yet.")
        return
    band = f"{lo:.0%}–{hi:.0%}"
    cols = st.columns(3)
    err = (days[Y] - days["forecast"]).abs().sum() / max(days[Y].sum(), 1.0)
    cols[0].metric("WAPE", f"{err:.1%}", help="sum of |actual − median| / sum of actuals", border=True)
    cols[1].metric(f"In the {band} band", f"{days['inside'].mean():.0%}", delta=f"target {hi - lo:.0%}",
                   delta_color="off", delta_arrow="off", border=True)
    cols[2].metric("Bias", f"{days['forecast'].sum() / max(days[Y].sum(), 1.0) - 1:+.1%}",
                   help="forecast median total vs actual total", border=True)
    st.altair_chart(history_charts.accuracy_chart(days, band), width="stretch")
    weekly = summaries.weekly_accuracy(days)
    st.dataframe(
        weekly.assign(week=weekly["week"].dt.strftime("%d %b %Y"), forecast=weekly["forecast"].round(0)),
        hide_index=True,
        width="stretch",
        column_config={
            "actual": st.column_config.NumberColumn(format="localized"),
            "forecast": st.column_config.NumberColumn(format="localized"),
            "WAPE": st.column_config.NumberColumn(format="percent"),
            "bias": st.column_config.NumberColumn(format="percent"),
            "coverage": st.column_config.NumberColumn(f"in {band} band", format="percent"),
        },
    )
    st.caption(f"Each day against the forecast issued the day before (the newest run on data before it), {band} band.")


@st.fragment(run_every=data.REFRESH_S)
def live_center(center: str) -> None:
    cfg = data.config()
    with data.database_errors(cfg.url):
        history = data.daily_history(cfg.url, cfg.timezone, center=center)
        run, forecast = data.latest_forecast(cfg.url)
        rows = _model_rows(forecast, center) if run is not None and not forecast.empty else pd.DataFrame()
        if history.empty and rows.empty:
            st.info(WAITING_ORDERS)
            return
        if run is None:
            st.info(WAITING_FORECAST)
        elif rows.empty:
            st.warning(f"The latest forecast run has no rows for {center} (too little history yet?).")
        fan(center, history, run, rows)
        intraday(center, rows)
        shifts(center)
        past_accuracy(center, history, run)


def page() -> None:
    center = center_header("Center")
    if center is None:
        return
    cfg = data.config()
    with data.database_errors(cfg.url):
        st.caption(f"Times in {zone(center)} · now {data.local_now(zone(center), cfg.url):%a %d %b %H:%M}")
        headcount_tiles(center)
    live_center(center)


page()
