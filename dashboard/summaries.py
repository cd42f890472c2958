"""What the pages compute from the frames they read: pure functions (no Streamlit, no I/O).

Frames are panel-shaped (``unique_id, ds, y``; forecasts ``unique_id, ds, model,
"<q>"...``); every ``ds`` is the center's local wall-clock time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fcplan.core.contracts import FEED_SILENT, FEED_STOPPED, SILENT_CENTER
from fcplan.core.panel import DS, UNIQUE_ID, Y
from fcplan.core.quantiles import quantile_levels
from fcplan.planner.staffing import interpolate_quantile

#: The newest forecast may differ from the forecast the plan was made from by this share before a
#: center counts as under- or over-staffed.
TOLERANCE = 0.05
UNDER, OVER, OK = "understaffed", "overstaffed", "ok"
#: Days of history behind a center's typical intraday profile.
PROFILE_DAYS = 28
#: Fewer orders expected by now and the pace is noise (just after midnight 5 orders against 3
#: expected read "+66%"): none is shown. 25 keeps a count's own noise near ±20%.
MIN_PACE_ORDERS = 25


def hour_shares(hourly: pd.DataFrame, today: Mapping[str, pd.Timestamp], days: int = PROFILE_DAYS) -> pd.DataFrame:
    """Each center's typical share of a day's orders per local hour, over the ``days`` complete
    days before its ``today``: ``unique_id, hour (0-23), share, done`` (``done``: the share
    packed by the end of that hour)."""
    rows = hourly.assign(day=hourly[DS].dt.normalize(), hour=hourly[DS].dt.hour)
    last = rows[UNIQUE_ID].map(dict(today)).astype("datetime64[ns]")
    rows = rows[(rows["day"] >= last - pd.Timedelta(days=days)) & (rows["day"] < last)]
    if rows.empty:
        return pd.DataFrame({UNIQUE_ID: pd.Series(dtype=str), "hour": [], "share": [], "done": []})
    per_hour = rows.groupby([UNIQUE_ID, "hour"])[Y].sum()
    share = (per_hour / per_hour.groupby(level=0).transform("sum")).fillna(0.0)
    grid = pd.MultiIndex.from_product([share.index.levels[0], range(24)], names=[UNIQUE_ID, "hour"])
    out = share.reindex(grid, fill_value=0.0).rename("share").reset_index()
    out["done"] = out.groupby(UNIQUE_ID)["share"].cumsum().clip(upper=1.0)
    return out


def level_near(levels: Sequence[str], target: float) -> str:
    """The quantile column closest to ``target``."""
    return min(levels, key=lambda c: abs(float(c) - target))


def _by_day(frame: pd.DataFrame, column: str | None) -> dict[tuple[str, pd.Timestamp], float]:
    """``(center, day) -> value`` of ``column`` (summed over the day's rows); empty without it."""
    if column is None or column not in frame or frame.empty:
        return {}
    return frame.groupby([UNIQUE_ID, DS])[column].sum().to_dict()


def staffing_status(planned_orders: float, needed_orders: float, packers: float) -> tuple[str, int]:
    """``(status, packers to add (+) or release (-))`` when the plan's ``packers`` were booked for a
    day whose quantile at the plan's service level was ``planned_orders`` (in the forecast the plan
    was made from) and the newest forecast puts that quantile at ``needed_orders``: the packers
    scale with the ratio."""
    if not planned_orders or math.isnan(planned_orders) or math.isnan(needed_orders) or math.isnan(packers):
        return "—", 0
    ratio = needed_orders / planned_orders
    change = math.ceil(packers * ratio - 1e-9) - int(packers)
    # Off by more than the tolerance and by at least one whole packer.
    if ratio > 1 + TOLERANCE and change > 0:
        return UNDER, change
    if ratio < 1 - TOLERANCE and change < 0:
        return OVER, change
    return OK, 0


def staffing_text(status: object) -> str:
    """A staffing status as the table writes it, short enough for every column to fit:
    ``understaffed (+3)`` -> ``under +3``, ``overstaffed (-2)`` -> ``over -2``."""
    text = str(status)
    for word, short in ((UNDER, "under"), (OVER, "over")):
        if text.startswith(word):
            return f"{short} {text[len(word):].strip().strip('()')}".strip()
    return text


def day_quantiles(frame: pd.DataFrame, tau: float) -> dict[tuple[str, pd.Timestamp], float]:
    """``(center, day) -> the day's level-tau quantile`` of a one-model forecast frame (``unique_id,
    ds, "<q>"...``), linear between its levels as the planner reads it; empty without levels."""
    levels = quantile_levels(frame) if len(frame) else []
    if not levels:
        return {}
    values = interpolate_quantile(frame[[c for _, c in levels]].to_numpy(dtype="float64"),
                                  np.array([level for level, _ in levels]), tau)
    return dict(zip(zip(frame[UNIQUE_ID], frame[DS], strict=True), values.tolist(), strict=True))


def network_table(
    centers: Sequence[str],
    zone: Mapping[str, str],
    now: Mapping[str, pd.Timestamp],
    forecast: pd.DataFrame,
    newest: pd.DataFrame,
    plan: pd.DataFrame,
    service_quantile: float | Mapping[str, float],
    hourly_today: pd.DataFrame,
    shares: pd.DataFrame,
    open_alerts: Mapping[str, int],
    planned_from: pd.DataFrame | None = None,
    carried: Mapping[tuple[str, pd.Timestamp], Sequence[tuple[pd.Timestamp, float]]] | None = None,
) -> pd.DataFrame:
    """One row per center: its local time, today's orders so far against the forecast's pace,
    the forecast medians and planned packers for today and tomorrow, the staffing status
    against the ``newest`` forecast at the plan's service level (``service_quantile``: one for
    every center, or each center's, as a centers file sets them), and its open alerts.

    The staffing status compares like with like: the newest forecast's quantile of the day
    against the same quantile of ``planned_from``, the forecast the plan was made from (``None``:
    ``forecast``), and scales the day's planned packers by their ratio. The plan's own
    ``orders_planned`` summed over the day's shifts is not one day's orders: a night shift packs
    the next morning's, the day before a closed day has no night morning (18 of 24 hours), the
    first shift after a closed day packs that day's early hours too (30 of 24); against the
    day's quantile those read understaffed and overstaffed with nothing changed. ``carried``: per
    (center, open day), the closed days before it and the shares of their orders its first shift
    packs (:func:`fcplan.planner.crews.carried_days`): their quantiles count with the day's on both
    sides, where both forecasts hold them, so a revised forecast of a closed Sunday moves Monday's status.

    ``forecast``/``newest``/``planned_from``: one model's rows (``unique_id, ds, "<q>"...``);
    ``plan``: ``unique_id, ds, packers`` summed per day; ``now``: local now per center.
    """
    levels = [c for c in forecast.columns if c not in (UNIQUE_ID, DS, "model")]
    mid = level_near(levels, 0.5) if levels else None
    so_far = hourly_today.groupby(UNIQUE_ID)[Y].sum()
    medians = _by_day(forecast, mid)
    made_from = forecast if planned_from is None else planned_from
    # Each forecast's daily quantile, by the level it is read at.
    needs_at: dict[float, dict] = {}
    covered_at: dict[float, dict] = {}
    packers_of = _by_day(plan, "packers")
    done = shares.set_index([UNIQUE_ID, "hour"])["done"] if len(shares) else pd.Series(dtype=float)
    rows = []
    for c in centers:
        local = now[c]
        today, tomorrow = local.normalize(), local.normalize() + pd.Timedelta(days=1)
        median_today = medians.get((c, today), math.nan)
        # The share of a typical day packed by the last complete hour.
        frac = float(done.get((c, local.hour - 1), 0.0)) if local.hour > 0 else 0.0
        expected = median_today * frac if frac > 0 else math.nan
        actual = float(so_far.get(c, 0.0))
        row = {
            "center": c,
            "local time": f"{local:%H:%M} {local.tz_localize(zone[c], ambiguous=True, nonexistent='NaT'):%Z}",
            "open alerts": int(open_alerts.get(c, 0)),
            "orders so far": actual,
            "expected so far": expected,
            "pace": actual / expected - 1 if expected >= MIN_PACE_ORDERS else math.nan,
        }
        tau = float(service_quantile.get(c, 0.5) if isinstance(service_quantile, Mapping) else service_quantile)
        if tau not in needs_at:
            needs_at[tau], covered_at[tau] = day_quantiles(newest, tau), day_quantiles(made_from, tau)
        needs, covered = needs_at[tau], covered_at[tau]
        for label, day in (("today", today), ("tomorrow", tomorrow)):
            packers = packers_of.get((c, day), math.nan)
            waited = [(d, w) for d, w in (carried or {}).get((c, day), ()) if (c, d) in needs and (c, d) in covered]
            status, change = staffing_status(
                covered.get((c, day), math.nan) + sum(w * covered[(c, d)] for d, w in waited),
                needs.get((c, day), math.nan) + sum(w * needs[(c, d)] for d, w in waited), packers)
            row[f"forecast {label}"] = medians.get((c, day), math.nan)
            row[f"packers {label}"] = packers
            row[f"staffing {label}"] = f"{status} ({change:+d})" if change else status
        rows.append(row)
    return pd.DataFrame(rows)


def accuracy(issued: pd.DataFrame, actual: pd.DataFrame, lo: str, mid: str, hi: str) -> pd.DataFrame:
    """Issued forecast against the actual of each complete day: ``ds, y, forecast, lo, hi,
    inside`` (``actual``: ``ds, y``; ``issued``: ``ds`` and the columns ``lo, mid, hi``)."""
    both = issued[[DS, lo, mid, hi]].merge(actual[[DS, Y]], on=DS)
    both = both.rename(columns={lo: "lo", mid: "forecast", hi: "hi"})
    both["inside"] = (both[Y] >= both["lo"]) & (both[Y] <= both["hi"])
    return both.sort_values(DS).reset_index(drop=True)


def weekly_accuracy(days: pd.DataFrame) -> pd.DataFrame:
    """Per week (Monday first) of :func:`accuracy`'s days: ``week, days, actual, forecast,
    WAPE, bias, coverage``."""
    if days.empty:
        return pd.DataFrame(columns=["week", "days", "actual", "forecast", "WAPE", "bias", "coverage"])
    week = days[DS] - pd.to_timedelta(days[DS].dt.dayofweek, unit="D")
    grouped = days.assign(week=week, err=(days[Y] - days["forecast"]).abs()).groupby("week")
    out = pd.DataFrame(
        {
            "days": grouped.size(),
            "actual": grouped[Y].sum(),
            "forecast": grouped["forecast"].sum(),
            "err": grouped["err"].sum(),
            "coverage": grouped["inside"].mean(),
        }
    )
    out["WAPE"] = out["err"] / out["actual"].where(out["actual"] > 0)
    out["bias"] = out["forecast"] / out["actual"].where(out["actual"] > 0) - 1
    return out.drop(columns="err").reset_index()[["week", "days", "actual", "forecast", "WAPE", "bias", "coverage"]]


def intraday(today: pd.DataFrame, shares: pd.DataFrame, median_today: float) -> pd.DataFrame:
    """``hour, actual, expected`` for one center: today's orders per hour so far and the
    forecast median spread over the day by the center's typical profile."""
    expected = shares.set_index("hour")["share"].reindex(range(24), fill_value=0.0) * median_today
    actual = today.groupby(today[DS].dt.hour)[Y].sum().reindex(range(24))
    return pd.DataFrame({"hour": range(24), "actual": actual.to_numpy(), "expected": expected.to_numpy()})


def top_models(board: pd.DataFrame, n: int) -> list[str]:
    """The ``n`` models with the lowest mean wQL over the rows of ``board``."""
    return board.groupby("model")["wql"].mean().sort_values().head(n).index.tolist()


#: The leaderboard's row for the weighted ensemble itself: not one of its members.
ENSEMBLE = "ensemble"


def error_correlation(board: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """Correlation of the top ``n`` members' per-window wQL over every stored backtest window
    (``board``: leaderboard rows of several runs); long form ``a, b, corr``. The ensemble's own
    row is no member (the Models page's "top 5 members" showed it, and a member of weight 0 in
    place of one the ensemble used)."""
    windows = board[(board["window"] >= 0) & board["wql"].notna() & (board["model"] != ENSEMBLE)]
    if windows.empty:
        return pd.DataFrame(columns=["a", "b", "corr"])
    wide = windows.pivot_table(index=["run_id", "window"], columns="model", values="wql")
    keep = [m for m in top_models(windows, n) if m in wide]
    wide = wide[keep].dropna()
    if len(wide) < 3 or len(keep) < 2:
        return pd.DataFrame(columns=["a", "b", "corr"])
    corr = wide.corr().to_numpy()
    a, b = np.meshgrid(keep, keep, indexing="ij")
    return pd.DataFrame({"a": a.ravel(), "b": b.ravel(), "corr": corr.ravel()})


#: What the drift checks write as ``forecast_alerts.kind``, for people: the hourly monitor
#: (:mod:`fcplan.models.drift_monitor`: ``cusum_up``, ``cusum_down``, ``weekday_pattern``) and
#: the daily rules (:mod:`fcplan.models.drift`). Any other kind is shown as stored.
ALERT_KINDS = {
    "cusum_up": "orders above forecast (hourly)",
    "cusum_down": "orders below forecast (hourly)",
    "weekday_pattern": "weekday pattern changed (hourly)",
    "outside_band": "day outside the forecast band (daily)",
    "coverage_drift": "band coverage drifted (daily)",
    SILENT_CENTER: "no orders from this center (feed silent?)",
    FEED_SILENT: "no orders from any center (feed silent)",
    FEED_STOPPED: "no order read by the worker (feed stopped)",
}
#: Silent-feed kinds: the stream health page shows them open at its top.
FEED_KINDS = (FEED_SILENT, FEED_STOPPED, SILENT_CENTER)
_ALERTED = re.compile(r"open alerts for \[([^\]]*)\]")


#: The hourly drift monitor's evidence (``models.drift_monitor``) in a manager's words; a key not
#: listed is shown under its own name. ``pit_today`` and ``theta`` read as code on the Alerts page.
EVIDENCE_LABELS = {
    "orders_today": "orders so far today",
    "expected_today": "orders the forecast expected by now",
    "ratio_today": "orders so far against expected",
    "pit_today": "where today's orders sit in the forecast's spread (0.5 as forecast; near 0 or 1: far off)",
    "day_mean": "forecast orders for the day (mean)",
    "day_shape": "forecast's spread (shape: higher is narrower)",
    "theta": "the rise the test is tuned to catch (× forecast)",
    "rolling_days": "recent complete days judged",
    "rolling_wql": "forecast error over those days (wQL, lower is better)",
    "rolling_coverage": "share of those days inside the forecast band",
    "band": "forecast band (quantiles)",
}
_EVIDENCE_PERCENT = {"ratio_today", "rolling_coverage"}


def evidence_table(evidence: Mapping) -> pd.DataFrame:
    """``what, value, key``: an alert's evidence one row per item, the known ones in
    :data:`EVIDENCE_LABELS`' order and words first, the rest as stored."""
    keys = [k for k in EVIDENCE_LABELS if k in evidence] + [k for k in evidence if k not in EVIDENCE_LABELS]

    def shown(key: str, value: object) -> str:
        if isinstance(value, bool) or value is None:
            return "—" if value is None else str(value)
        if isinstance(value, int | float):
            if key in _EVIDENCE_PERCENT:
                return f"{value:.0%}"
            return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
        if key == "band" and isinstance(value, list | tuple) and len(value) == 2:
            return f"{float(value[0]):.0%}–{float(value[1]):.0%}"
        return str(value)

    return pd.DataFrame({"what": [EVIDENCE_LABELS.get(k, k) for k in keys],
                         "value": [shown(k, evidence[k]) for k in keys], "key": keys})


def open_feed_alerts(alerts: pd.DataFrame) -> list[str]:
    """The messages of the open silent-feed alerts, whole feed first, then newest first."""
    if alerts.empty or not {"kind", "status", "message"} <= set(alerts.columns):
        return []
    found = alerts[(alerts["status"] == "open") & alerts["kind"].isin(FEED_KINDS)]
    if "created_at" in found:
        found = found.sort_values("created_at", ascending=False)
    found = found.sort_values("kind", key=lambda k: k == SILENT_CENTER, kind="stable")
    return [str(m) for m in found["message"]]


def alert_kind_label(kind: object) -> str:
    """The alert kind for people (see :data:`ALERT_KINDS`)."""
    return ALERT_KINDS.get(str(kind), str(kind))


def alerted_centers(reason: object, evidence: object) -> list[str]:
    """The centers a champion/challenger decision names as drifted: its evidence's ``alerted``
    list, else the ``open alerts for [...]`` of its reason (what :func:`fcplan.models.champion.decide`
    writes when open alerts replace the champion)."""
    if isinstance(evidence, Mapping) and isinstance(evidence.get("alerted"), list | tuple):
        return [str(c) for c in evidence["alerted"]]
    found = _ALERTED.search(str(reason or ""))
    return re.findall(r"'([^']*)'", found.group(1)) if found else []


def alert_retrains(alerts: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """``alert_id, retrain_at, challenger_run_id, promoted, reason, caused, next_at, next_reason``.

    The decision an alert caused: the first champion/challenger decision at or after the alert
    opened that names the alert's center among its drifted centers (see :func:`alerted_centers`;
    the registry stores no alert id, so every alert of that center open then shares it).
    ``caused`` is False (and the decision columns empty) when no decision names it;
    ``next_at, next_reason``: the first decision after it all the same, for context."""
    cols = ["alert_id", "retrain_at", "challenger_run_id", "promoted", "reason", "caused", "next_at", "next_reason"]
    if alerts.empty:
        return pd.DataFrame(columns=cols)
    left = alerts[["alert_id"]].assign(
        center_id=alerts["center_id"].astype(str),
        created_at=pd.to_datetime(alerts["created_at"]).astype("datetime64[ns]"),
    ).sort_values("created_at")
    out = left[["alert_id"]].assign(
        retrain_at=pd.NaT, challenger_run_id=None, promoted=None, reason=None, caused=False, next_at=pd.NaT,
        next_reason=None,
    )
    if decisions.empty:
        return out[cols].reset_index(drop=True)
    made = decisions.assign(created_at=pd.to_datetime(decisions["created_at"]).astype("datetime64[ns]"))
    made = made.sort_values("created_at")
    evidence = made["evidence"] if "evidence" in made else pd.Series(None, index=made.index, dtype=object)
    named = made.assign(
        center_id=[alerted_centers(r, e) for r, e in zip(made["reason"], evidence, strict=True)]
    ).explode("center_id").dropna(subset=["center_id"]).astype({"center_id": str})
    caused = pd.merge_asof(
        left,
        named[["created_at", "center_id", "challenger_run_id", "promoted", "reason"]].assign(
            retrain_at=named["created_at"]
        ),
        on="created_at",
        by="center_id",
        direction="forward",
    )
    after = pd.merge_asof(
        left,
        made[["created_at", "reason"]].assign(next_at=made["created_at"]).rename(columns={"reason": "next_reason"}),
        on="created_at",
        direction="forward",
    )
    joined = caused.merge(after[["alert_id", "next_at", "next_reason"]], on="alert_id")
    joined["caused"] = joined["retrain_at"].notna()
    return joined[cols].reset_index(drop=True)


#: More centers than this are drawn as the busiest ones plus "the rest" (a line each is unreadable).
MAX_LINES = 8
OTHERS = "other centers"


def busiest_lines(hourly: pd.DataFrame, lines: int = MAX_LINES) -> pd.DataFrame:
    """``hourly`` (``unique_id, ds, y``) with all but the ``lines - 1`` busiest centers summed
    into one series, :data:`OTHERS` (unchanged when there are ``lines`` centers or fewer)."""
    totals = hourly.groupby("unique_id")["y"].sum().sort_values(ascending=False)
    if len(totals) <= lines:
        return hourly
    keep = set(totals.index[: lines - 1])
    named = hourly["unique_id"].where(hourly["unique_id"].isin(keep), OTHERS)
    return hourly.assign(unique_id=named).groupby(["unique_id", "ds"], as_index=False)["y"].sum()


def attention_first(table: pd.DataFrame) -> pd.DataFrame:
    """The network table with the centers that need a decision on top: understaffed today, then
    tomorrow, then with open alerts, then overstaffed; by center name within each."""
    def starts(col: str, word: str) -> pd.Series:
        return table[col].astype(str).str.startswith(word)

    rank = pd.DataFrame({
        "under_today": ~starts("staffing today", UNDER),
        "under_tomorrow": ~starts("staffing tomorrow", UNDER),
        "alerts": -table["open alerts"].fillna(0),
        "over": ~(starts("staffing today", OVER) | starts("staffing tomorrow", OVER)),
        "center": table["center"].astype(str),
    }, index=table.index)
    order = rank.sort_values(list(rank.columns), kind="stable").index
    return table.loc[order].reset_index(drop=True)


#: The plan detail's headers (the stored column names read `orders_planned`, `shift_status`), in this
#: order; a column stored later and not named here keeps its name, after these.
DETAIL_COLUMNS = {
    "center_id": "center",
    "day": "day",
    "shift": "shift",
    "starts_at": "shift starts (local)",
    "orders_median": "orders (median forecast)",
    "orders_planned": "orders planned",
    "packer_hours": "work (packer-hours)",
    "packers": "packers booked",
    "packers_needed": "packers needed (before the cap)",
    "packers_before": "packers, plan before",
    "packers_change": "change (packers)",
    "action": "action",
    "shift_status": "shift status when planned",
    "next_day_forecast": "morning from next day's forecast",
}
#: The crew plan's detail (``storage.schema.staffing_plans``: empty in plans stored before revision 0004).
CREW_DETAIL = ("starts_at", "packers_needed", "next_day_forecast", "shift_status", "packers_before",
               "packers_change", "action")


def plan_detail(plan: pd.DataFrame, order: Sequence[str] = ()) -> pd.DataFrame:
    """The plan's stored rows with plain headers (:data:`DETAIL_COLUMNS`), days and starts as
    dates, numbers to one decimal; the crew detail a plan stored before it was kept (all empty) left out.
    Each center's day lists its shifts in ``order`` (the store's order read "day, night, swing")."""
    plan = plan.drop(columns=[c for c in plan if c in CREW_DETAIL and plan[c].isna().all()])
    rank = plan["shift"].map({s: i for i, s in enumerate(order)}).fillna(len(order))
    plan = plan.assign(_rank=rank).sort_values(["center_id", "day", "_rank"], kind="stable").drop(columns="_rank")
    detail = plan.assign(day=plan["day"].dt.strftime("%Y-%m-%d"))
    if "starts_at" in detail:
        detail["starts_at"] = pd.to_datetime(detail["starts_at"]).dt.strftime("%a %d %b %H:%M")
    detail = detail.round({c: 1 for c in detail.select_dtypes("number").columns})
    named = [c for c in DETAIL_COLUMNS if c in detail]
    return detail[named + [c for c in detail if c not in DETAIL_COLUMNS]].rename(columns=DETAIL_COLUMNS)


#: The kind the What-if page offers when the forecast run stored no effect per kind (the pooled one).
ANY_KIND = "any kind"
#: Kind names that already say what they are ("flash_sale"): no "promotion" after them.
_PROMOTION_NOUNS = ("sale", "promotion", "deal", "offer")


def kind_label(kind: str) -> str:
    """A stored promotion kind in words: ``free_shipping`` -> ``free shipping``."""
    return " ".join(str(kind).replace("_", " ").replace("-", " ").split())


def promotion_name(kind: str) -> str:
    """``flash_sale`` -> ``flash sale``, ``free_shipping`` -> ``free shipping promotion``,
    :data:`ANY_KIND` -> ``promotion of any kind``."""
    if kind == ANY_KIND:
        return "promotion of any kind"
    label = kind_label(kind)
    return label if label.endswith(_PROMOTION_NOUNS) else f"{label} promotion"


def promotion_text(kind: str, discount: float) -> str:
    """``A free shipping promotion at 20% off``: the What-if page's sentences read "A 20% any kind
    promotion" and "A 20% free_shipping promotion"."""
    name = promotion_name(kind)
    return f"{'An' if name[:1].lower() in tuple('aeiou') else 'A'} {name} at {discount:g}% off"


#: A promotion kind's lift at a center rests on enough evidence with this many of its own days
#: (twice the retrainer's minimum), or with this many days over at least :data:`POOL_CENTERS`
#: centers: fewer, and the center's share of it is a guess (its own few days, or a pool too small
#: to tell a center's deviation from noise).
SOLID_KIND_DAYS = 10
POOL_CENTERS = 3


def kind_evidence(effects: pd.DataFrame, center: str, kind: str) -> dict[str, float] | None:
    """What the chosen kind's effect at ``center`` rests on (``effects``: the stored per-center,
    per-kind effects ``unique_id, kind, effect_per_pct, pooled_effect_per_pct, promo_days``):
    ``days`` at the center, ``total`` days and ``centers`` that ran the kind, the ``pooled``
    effect; None when the run stored none for that kind."""
    if effects.empty or "kind" not in effects:
        return None
    rows = effects[effects["kind"].astype(str) == kind]
    mine = rows[rows[UNIQUE_ID].astype(str) == center]
    if mine.empty:
        return None
    return {
        "days": int(mine["promo_days"].iloc[0]),
        "total": int(rows["promo_days"].sum()),
        "centers": int((rows["promo_days"] > 0).sum()),
        "effect": float(mine["effect_per_pct"].iloc[0]),
        "pooled": float(mine["pooled_effect_per_pct"].iloc[0]),
    }


def thin_evidence_text(
    evidence: Mapping[str, float], center: str, kind: str, uplift: float, discount: float
) -> str | None:
    """A warning when a kind's lift at ``center`` rests on few promotions (see
    :data:`SOLID_KIND_DAYS`), None when it does not."""
    days, total, centers = int(evidence["days"]), int(evidence["total"]), int(evidence["centers"])
    if days >= SOLID_KIND_DAYS or (total >= SOLID_KIND_DAYS and centers >= POOL_CENTERS):
        return None
    here = (f"{center} has never run one, so its lift is the other centers'" if days == 0
            else f"{days} of them at {center}")
    return (
        f"Few {promotion_name(kind)}s behind this lift: {total} promotion day{'s' if total != 1 else ''} over "
        f"{centers} center{'s' if centers != 1 else ''}, {here}. Orders × {uplift:.2f} at {discount:g}% off is a "
        "rough guide, not a measurement: keep a margin on the extra packers."
    )


#: A forecast on data this many days older than yesterday is stale: the daily retrain has
#: missed that many runs (or failed), and today's numbers are read off an old forecast.
STALE_DAYS = 2


def stale_forecast_text(run: Mapping | None, today: pd.Timestamp) -> str | None:
    """A warning when the forecast in use (``run``: its ``data_end`` and ``run_id``) was made on
    data ending more than :data:`STALE_DAYS` days before yesterday (``today``: local midnight);
    None when it is fresh or says nothing of its data."""
    end = (run or {}).get("data_end")
    if end is None or pd.isna(end):
        return None
    last = pd.Timestamp(end).normalize()
    age = int((today.normalize() - last) / pd.Timedelta(days=1))
    if age <= 1 + STALE_DAYS:
        return None
    return (
        f"The forecast in use (run `{(run or {}).get('run_id')}`) was made on orders up to {last:%a %d %b}, {age} days "
        "ago: "
        "the days since are not in it, and the plan rests on it. Check that the retrainer runs (`fcplan retrain`) "
        "and the Models page's decisions."
    )


def from_today(plan: pd.DataFrame, today: Mapping[str, pd.Timestamp]) -> pd.DataFrame:
    """The plan rows from each center's today on (``today``: its local midnight): a plan made
    from an older forecast also holds days already past."""
    if plan.empty:
        return plan
    first = plan["center_id"].map(dict(today))
    return plan[first.isna() | (plan["day"] >= first)]


#: The Network page's "next shift to start" line names this many centers (the soonest); the rest
#: are counted (with 50 centers the line would fill the screen).
NEXT_SHIFT_CENTERS = 6


def next_shifts(
    plan: pd.DataFrame, now: Mapping[str, pd.Timestamp], starts: Mapping[str, Mapping[str, int]]
) -> pd.DataFrame:
    """``center, shift, starts, packers``: each center's next shift to start after its local
    ``now`` (tz-naive), soonest first. A shift starts at its stored ``starts_at`` (the center's
    wall clock), else at its day plus its start hour in ``starts`` (center -> shift -> hour); a
    center whose plan holds no shift ahead is left out."""
    columns = ["center", "shift", "starts", "packers"]
    if plan.empty:
        return pd.DataFrame(columns=columns)
    rows = plan[plan["center_id"].isin(list(now))]
    hours = pd.Series([starts.get(c, {}).get(s) for c, s in zip(rows["center_id"], rows["shift"], strict=True)],
                      index=rows.index, dtype="float64")
    start = rows["day"] + pd.to_timedelta(hours, unit="h")
    if "starts_at" in rows:
        start = pd.to_datetime(rows["starts_at"]).fillna(start)
    lead = start - rows["center_id"].map(now)
    ahead = rows.assign(_start=start, _lead=lead)[lead > pd.Timedelta(0)]
    # To the minute: each center's now is read a moment apart, and shifts starting together read by name.
    ahead = ahead.assign(_lead=ahead["_lead"].dt.floor("min"))
    first = ahead.sort_values(["_lead", "center_id"], kind="stable").drop_duplicates("center_id")
    return pd.DataFrame({"center": first["center_id"].astype(str), "shift": first["shift"].astype(str),
                         "starts": first["_start"], "packers": first["packers"].astype(int)}).reset_index(drop=True)


def next_shifts_text(nexts: pd.DataFrame, today: Mapping[str, pd.Timestamp], most: int = NEXT_SHIFT_CENTERS) -> str:
    """``FC-BUSAN night today 22:00, 1 packer · FC-ICN day tomorrow 06:00, 3 packers · 2 more
    centers`` (each center's local day and clock; ``today``: its local midnight); empty for none."""
    def when(center: str, start: pd.Timestamp) -> str:
        days = (start.normalize() - today[center]).days
        day = {0: "today", 1: "tomorrow"}.get(days, f"{start:%a %d %b}")
        return f"{day} {start:%H:%M}"

    said = [f"{r.center} {r.shift} {when(r.center, r.starts)}, {r.packers} packer{'s' if r.packers != 1 else ''}"
            for r in nexts.head(most).itertuples()]
    more = len(nexts) - len(said)
    return " · ".join(said + ([f"{more} more center{'s' if more != 1 else ''} on the Staffing page"] if more else []))
