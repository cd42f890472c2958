"""What-if page: demand and packers if a promotion ran on some days of the forecast horizon.

Reads the stored forecast, plan and promotion effects (per center and kind when
the retrainer stored them, else the pooled one); a promotion on a day the forecast
already holds one is not stacked on it (``fcplan.planner.whatif``). The scenario's
headcount comes from the pure planner (``plan_staffing``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from fcplan.core.panel import DS, UNIQUE_ID
from fcplan.core.promotions import EFFECT_PER_PCT, MIN_PROMO_DAYS, PROMO_DAYS, discount_uplift
from fcplan.core.quantiles import quantile_levels
from fcplan.core.settings import CenterParams, PlannerSettings
from fcplan.dashboard import charts, data, summaries
from fcplan.dashboard.views.common import (
    WAITING_FORECAST,
    WAITING_PLAN,
    center_header,
    center_rows,
    center_today,
    stale_forecast_warning,
    stored_config,
    table_height,
    zone,
)
from fcplan.planner import plan_staffing
from fcplan.planner.centers import CenterConfig
from fcplan.planner.crews import PROFILE_DAYS, hour_profiles, plan_crews
from fcplan.planner.shifts import parse_shifts
from fcplan.planner.whatif import existing_promotions, promotion_factors


def center_forecast(forecast: pd.DataFrame, center: str) -> pd.DataFrame:
    """The center's rows of one model (the ensemble when there are several), by day."""
    return center_rows(forecast, center).sort_values(DS).reset_index(drop=True)


def plan_shares(plan: pd.DataFrame, center: str, order: list[str]) -> pd.DataFrame:
    """``unique_id, shift, share``: each shift's share of the center's planned orders."""
    rows = plan[plan["center_id"] == center]
    totals = rows.groupby("shift")["orders_planned"].sum()
    totals = totals.reindex([s for s in order if s in totals.index] + [s for s in totals.index if s not in order])
    if totals.sum() <= 0:
        totals[:] = 1.0
    return pd.DataFrame({UNIQUE_ID: center, "shift": totals.index, "share": (totals / totals.sum()).to_numpy()})


def stored_settings(run: dict) -> PlannerSettings:
    """The planner settings the stored plan was made with (the defaults for what it did not store)."""
    stored = dict(run.get("params") or {})
    return PlannerSettings(**{k: v for k, v in stored.items() if k in PlannerSettings.model_fields})


def center_params(run: dict, center: str) -> CenterParams:
    """The stored plan's parameters, with the center's overrides applied."""
    return CenterParams.per_center(stored_settings(run), [center])[center]


def scenario_forecast(rows: pd.DataFrame, factors: np.ndarray) -> pd.DataFrame:
    """``rows`` with every quantile multiplied by its day's factor (one per row)."""
    out = rows.copy()
    for _, col in quantile_levels(out):
        out[col] = out[col].to_numpy() * factors
    return out


def kind_effects(effects: pd.DataFrame, center: str, pooled: float) -> dict[str, float]:
    """Effect per discount point by promotion kind for ``center`` (the pooled one for every kind
    when the run stored none per kind)."""
    rows = effects[effects[UNIQUE_ID] == center] if len(effects) else effects
    return {str(k): float(e) for k, e in zip(rows.get("kind", []), rows.get(EFFECT_PER_PCT, []), strict=True)} or {
        summaries.ANY_KIND: pooled}


def kind_days(effects: pd.DataFrame, center: str) -> dict[str, int]:
    """Promotion days behind each kind's effect for ``center`` (empty when none per kind was stored)."""
    rows = effects[effects[UNIQUE_ID] == center] if len(effects) else effects
    return {str(k): int(d) for k, d in zip(rows.get("kind", []), rows.get(PROMO_DAYS, []), strict=True)}


def no_lift_text(discount: float, kind: str, center: str, per_pct: float, days: int | None) -> str:
    """Why a promotion with a discount changes nothing: the kind's stored effect at the center is
    not positive (a kind never seen there, or a few days that sold less)."""
    name = summaries.promotion_name(kind)
    seen = "" if days is None else f" from {days} {name} day{'s' if days != 1 else ''}"
    return (
        f"{summaries.promotion_text(kind, discount)} adds no orders at {center}: its stored effect is {per_pct:+.2%} "
        f"per discount point{seen}, so the scenario equals the baseline (the pooled effect above is not "
        "used for this kind). Pick another kind, or wait for more promotions of this kind."
    )


#: Per day: whole packers booked and the packer-hours of work the planned orders take.
DAY_TOTALS = ["packers", "packer_hours"]


def packers_per_day(forecast: pd.DataFrame, plan_run: dict, plan: pd.DataFrame, center: str,
                    zone: str) -> pd.DataFrame:
    """``packers, packer_hours`` per day (:data:`DAY_TOTALS`) by the plan's global parameters and
    its shift shares at ``center``, each shift paid and packing its real length on the day in the
    center's ``zone`` (an hour less or more on a daylight-saving change), as the planner counts."""
    shifts = parse_shifts(stored_settings(plan_run).shifts)
    shares = plan_shares(plan, center, [s.name for s in shifts])
    staffed = plan_staffing(forecast, shares, center_params(plan_run, center), shifts=shifts, zones=zone)
    return staffed.groupby(DS)[DAY_TOTALS].sum()


#: The what-if table's short headers (nine columns fit at 1280 px with the sidebar open) and help.
TABLE_COLUMNS = {
    "orders (median)": st.column_config.NumberColumn("orders", format="localized",
                                                     help="the stored forecast's median orders"),
    "orders with promotion": st.column_config.NumberColumn("orders, promo", format="localized",
                                                           help="median orders with the promotion"),
    "packers with promotion": st.column_config.NumberColumn("packers, promo", help="whole packers with the promotion"),
    "extra packers": st.column_config.NumberColumn("+ packers", help="packers the promotion adds"),
    "packer hours": st.column_config.NumberColumn(
        "work h", help="packer-hours of work the planned orders take (before breaks and shrinkage)"),
    "packer hours with promotion": st.column_config.NumberColumn("work h, promo",
                                                                 help="packer-hours of work with the promotion"),
    "extra packer hours": st.column_config.NumberColumn(
        "+ work h", help="the promotion's extra work: it shows even when the packers already booked absorb it "
        "and no packer is added"),
}

def work_text(table: pd.DataFrame) -> str:
    """The promotion's extra work in hours and against the hours of the packers booked without it:
    whole packers can absorb a sizeable rise in orders (958 -> 1,217 orders showed "+0 packers"),
    and a manager read the 0 as the promotion ignored."""
    days = table[table["promotion"] != ""]
    base, more = float(days["packer hours"].sum()), float(days["packer hours with promotion"].sum())
    extra, packers = more - base, int(table["extra packers"].sum())
    share = f" ({extra / base:+.0%} on the promotion days)" if base > 0 else ""
    if packers == 0 and extra > 0.5:
        absorbed = " — absorbed by the packers already booked (their slack), so no packer is added"
    else:
        absorbed = ""
    return f"**{packers:+d} packer shifts, {extra:+,.0f} packer-hours of work{share}**{absorbed}."


def crew_packers_per_day(
    forecast: pd.DataFrame, center: str, conf: CenterConfig, profile: np.ndarray
) -> pd.DataFrame:
    """``packers, packer_hours`` per day by the planner's own rule for the center
    (:func:`fcplan.planner.crews.plan_crews`)."""
    plan = plan_crews(forecast, {center: conf}, {center: profile})
    return plan.groupby(DS)[DAY_TOTALS].sum()


def center_profile(center: str, today: pd.Timestamp) -> np.ndarray:
    """The center's (weekday, hour) share of a day's orders over the days before ``today``."""
    cfg = data.config()
    hourly = data.hourly_local(cfg.url, cfg.timezone, PROFILE_DAYS, center)
    return hour_profiles(hourly, [center], days=PROFILE_DAYS, before=today)[center]


def effect_text(effect: pd.DataFrame, center: str) -> tuple[float, str]:
    """The effect per discount point for ``center`` and a sentence saying where it comes from."""
    row = effect[effect[UNIQUE_ID] == center] if len(effect) else effect
    if row.empty:
        return 0.0, (
            "No promotion effect stored with this forecast run (the retrainer estimates it on its next run): "
            "the scenario equals the baseline."
        )
    per_pct, days = float(row[EFFECT_PER_PCT].iloc[0]), int(row[PROMO_DAYS].iloc[0])
    if days < MIN_PROMO_DAYS:
        return 0.0, (
            f"Not enough promotions to estimate the effect ({days} promotion days in the history, "
            f"{MIN_PROMO_DAYS} needed): the scenario equals the baseline."
        )
    per_ten = discount_uplift(per_pct, 10) - 1
    return per_pct, (
        f"**{per_ten:+.1%} orders per 10% discount**, from {days} promotion days (center-days, pooled over "
        "centers): a log-linear regression of daily orders on the discount with center × weekday effects."
    )


def page() -> None:
    center = center_header("What-if: promotion")
    if center is None:
        return
    cfg = data.config()
    with data.database_errors(cfg.url):
        run, forecast = data.latest_forecast(cfg.url)
        if run is None or forecast.empty:
            st.info(WAITING_FORECAST)
            return
        rows = center_forecast(forecast, center)
        if rows.empty:
            st.warning(f"The latest forecast run has no rows for {center} (too little history yet?).")
            return
        today = center_today(center)
        stale_forecast_warning(today)
        # A forecast made days ago also holds days already past: no promotion can run on those.
        rows = rows[rows[DS] >= today].reset_index(drop=True)
        if rows.empty:
            st.warning(f"The forecast in use ends before today at {center}: nothing to try a promotion on.")
            return
        plan_run, plan = data.latest_plan(cfg.url)
        if plan_run is None or plan.empty:
            st.info(WAITING_PLAN)
            return
        if not (plan["center_id"] == center).any():
            st.warning(f"The latest plan (`{plan_run['plan_id']}`) has no shifts for {center}.")
            return
        horizon = pd.DatetimeIndex(rows[DS])
        first_day, last_day = horizon[0].date(), horizon[-1].date()
        default = min(horizon[0] + pd.Timedelta(days=1), horizon[-1]).date()
        cols = st.columns(3)
        start = cols[0].date_input(
            "First promotion day", value=default, min_value=first_day, max_value=last_day, key="whatif_start"
        )
        n_days = cols[1].number_input(
            "Number of days",
            min_value=1,
            max_value=len(horizon),
            value=min(3, len(horizon)),
            step=1,
            key="whatif_days",
            help="Days past the forecast horizon are left out.",
        )
        discount = cols[2].slider("Discount %", 0, 50, 20, step=5, key="whatif_discount")

        per_pct, how = effect_text(data.promo_effects(cfg.url, run["run_id"]), center)
        kind_rows = data.promo_kind_effects(cfg.url, run["run_id"])
        by_kind = kind_effects(kind_rows, center, per_pct)
        if per_pct == 0.0 and summaries.ANY_KIND in by_kind:
            by_kind = {summaries.ANY_KIND: 0.0}
        kind = st.selectbox("Promotion kind", sorted(by_kind), key="whatif_kind", format_func=summaries.kind_label)
        asked = pd.date_range(pd.Timestamp(start), periods=int(n_days), freq="D")
        days = asked[asked <= horizon[-1]]
        held = existing_promotions(data.promotions_for(cfg.url, zone(center), center), horizon)
        factors = promotion_factors(horizon, days, kind, discount, by_kind, held, default=per_pct)
        scenario = scenario_forecast(rows, factors)
        uplift = discount_uplift(by_kind.get(kind, 0.0), discount)
        if summaries.ANY_KIND not in by_kind and per_pct != 0.0:
            how = f"All promotion kinds together: {how} The chosen kind's own lift at {center} is below."
        st.markdown(how)
        if len(days) < len(asked):
            st.caption(f"The forecast ends {last_day:%a %d %b}: the promotion is cut to {len(days)} day(s).")
        evidence = summaries.kind_evidence(kind_rows, center, kind)
        if uplift > 1:
            label = summaries.kind_label(kind)
            seen = "" if evidence is None else (
                f", from {evidence['days']} {label} day{'s' if evidence['days'] != 1 else ''} there and "
                f"{evidence['total']} over {evidence['centers']} center{'s' if evidence['centers'] != 1 else ''}")
            st.caption(f"{summaries.promotion_text(kind, discount)}: orders × {uplift:.2f} on the promotion days "
                       f"({by_kind[kind]:+.2%} per point for {center}{seen}).")
            thin = None if evidence is None else summaries.thin_evidence_text(evidence, center, kind, uplift, discount)
            if thin:
                st.warning(thin, icon=":material/warning:")
        elif discount > 0 and per_pct != 0.0:
            # The headline's pooled effect would lift orders, but this kind's effect at this center does not.
            days_seen = kind_days(kind_rows, center).get(kind)
            st.warning(no_lift_text(discount, kind, center, by_kind.get(kind, 0.0), days_seen))
        overlap = held[held[DS].isin(days) & (held["discount_pct"] > 0)]
        if len(overlap):
            st.caption(
                f"{len(overlap)} of the promotion days already {'holds' if len(overlap) == 1 else 'hold'} "
                "a promotion in the forecast "
                f"({', '.join(sorted({summaries.kind_label(k) for k in overlap['kind']}))}): "
                "only the lift beyond it is added, never both."
            )

        levels = [col for _, col in quantile_levels(rows)]
        lo = min(levels, key=lambda c: abs(float(c) - 0.1))
        hi = min(levels, key=lambda c: abs(float(c) - 0.9))
        mid = charts.median_column(levels)
        st.altair_chart(
            charts.whatif_fan(rows, scenario.assign(promo=scenario[DS].isin(days)), lo, mid, hi),
            width="stretch",
        )
        st.caption(
            f"median and {float(lo):.0%}–{float(hi):.0%} band · blue: stored forecast · "
            "orange: with the promotion (shaded days)"
        )

        conf = stored_config(plan_run, center)
        if conf is not None:
            # The planner's rule with the center's own shifts, breaks, productivity and service
            # level, so the baseline is the stored plan (today's running shifts aside).
            profile = center_profile(center, horizon[0])
            base = crew_packers_per_day(rows, center, conf, profile)
            what = crew_packers_per_day(scenario, center, conf, profile)
            service = conf.service_quantile
        else:  # a plan that stored no center configuration: its global parameters and shift shares
            base = packers_per_day(rows, plan_run, plan, center, zone(center))
            what = packers_per_day(scenario, plan_run, plan, center, zone(center))
            service = center_params(plan_run, center).service_quantile
        table = pd.DataFrame(
            {
                "promotion": [f"{discount}% off" if d in days else "" for d in horizon],
                "orders (median)": rows[mid].to_numpy(),
                "orders with promotion": scenario[mid].to_numpy(),
                "packers": base["packers"].reindex(horizon).to_numpy(),
                "packers with promotion": what["packers"].reindex(horizon).to_numpy(),
                "packer hours": base["packer_hours"].reindex(horizon).to_numpy(),
                "packer hours with promotion": what["packer_hours"].reindex(horizon).to_numpy(),
            },
            index=pd.Index(horizon.strftime("%a %Y-%m-%d"), name="day"),
        )
        table["extra packers"] = table["packers with promotion"] - table["packers"]
        table["extra packer hours"] = table["packer hours with promotion"] - table["packer hours"]
        table = table[["promotion", "orders (median)", "orders with promotion", "packers", "packers with promotion",
                       "extra packers", "packer hours", "packer hours with promotion", "extra packer hours"]]
        st.subheader("Packers per day (all shifts)")
        st.markdown(work_text(table))
        st.dataframe(table.round(0), width="stretch", height=min(600, table_height(len(table), most=len(table))),
                     column_config=TABLE_COLUMNS)
        st.caption(
            f"Staffed at the {service:.0%} demand "
            f"quantile with the stored plan's parameters for {center} (plan `{plan_run['plan_id']}`), "
            f"forecast run `{run['run_id']}` · whole packers per shift: a small rise in orders can fit in "
            "the packers already booked." + today_note(table, plan, center, today)
        )


def today_note(table: pd.DataFrame, plan: pd.DataFrame, center: str, today: pd.Timestamp) -> str:
    """What the table's today row is when the stored plan books another number today: the live
    demo's FC-BUSAN read 5 packers here and 4 on the Staffing plan page (the plan re-plans today
    on the orders so far; the What-if prices the forecast alone)."""
    day = f"{today:%a %Y-%m-%d}"
    booked = plan.loc[(plan["center_id"] == center) & (plan["day"] == today), "packers"]
    if day not in table.index or booked.empty or pd.isna(table.loc[day, "packers"]):
        return ""
    if int(booked.sum()) == int(table.loc[day, "packers"]):
        return ""
    return (f" Today ({today:%a %d %b}) the plan books {int(booked.sum())} packers, re-planned on today's "
            f"orders so far; the {int(table.loc[day, 'packers'])} above are the forecast's alone.")


page()
