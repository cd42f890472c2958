"""Altair charts of the dashboard: pure functions from frames to charts (no Streamlit, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

from fcplan.core.quantiles import level_of, median_index
from fcplan.dashboard.summaries import kind_label

ACTUAL = "actual orders"
MEDIAN = "forecast median"
_BLUE = "#1f6fb2"
_INK = "#222222"
_PROMO = "#f28e2b"
_HOLIDAY = "#d62728"
#: Day axes: weekday, day and month on every label ("Mon 07 Dec"), never hours.
DAY_FORMAT = "%a %d %b"
HOUR_MS = 3600 * 1000


def day_axis() -> alt.Axis:
    """A time axis of whole days: each label names its month, no label falls between two days."""
    return alt.Axis(format=DAY_FORMAT, tickMinStep=24 * HOUR_MS, labelOverlap=True)


def hour_axis() -> alt.Axis:
    """A time axis of whole hours ("14:00"): never a label between two hours (with a few hours
    of data Vega's ticks fall every 15 or 30 minutes, and orders are counted per hour)."""
    return alt.Axis(format="%H:%M", tickMinStep=HOUR_MS, labelOverlap=True)


def _band_levels(levels: Sequence[str]) -> list[tuple[str, str]]:
    """Quantile column pairs for the fan, outermost first: 5-95% then 10-90% when present."""
    present = {float(c): c for c in levels}
    pairs = [
        (present[lo], present[hi]) for lo, hi in ((0.05, 0.95), (0.1, 0.9)) if lo in present and hi in present
    ]
    if not pairs and len(present) >= 2:
        pairs = [(present[min(present)], present[max(present)])]
    return pairs


def median_column(levels: Sequence[str]) -> str:
    """The quantile column closest to 0.5."""
    return levels[median_index([float(c) for c in levels])]


def forecast_fan(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    promos: pd.DataFrame,
    today: pd.Timestamp,
    holidays: Mapping[pd.Timestamp, str] | Sequence[pd.Timestamp] = (),
) -> alt.LayerChart:
    """Daily orders with the forecast fan.

    ``history``: ``ds, y`` (daily, local; the day ``today`` is partial);
    ``forecast``: ``ds`` and quantile columns ``"0.05"``...; ``promos``: ``start,
    end, kind, discount_pct`` (local) to shade; ``holidays``: public holidays (day -> name, or
    days only), marked and named.
    """
    levels = [c for c in forecast.columns if c != "ds" and level_of(c) is not None]
    complete = history[history["ds"] < today]
    partial = history[history["ds"] == today]
    lines = pd.concat(
        [
            pd.DataFrame({"ds": complete["ds"], "orders": complete["y"], "series": ACTUAL}),
            pd.DataFrame({"ds": forecast["ds"], "orders": forecast[median_column(levels)], "series": MEDIAN})
            if levels
            else None,
        ],
        ignore_index=True,
    )
    start = min([lines["ds"].min()] if not lines.empty else [today])
    end = max([lines["ds"].max(), today] if not lines.empty else [today])
    x = alt.X("ds:T", title=None, axis=day_axis(), scale=alt.Scale(domain=[start, end + pd.Timedelta(days=1)]))
    color = alt.Color(
        "series:N",
        title=None,
        # No "forecast median" in the legend of a center without a forecast.
        scale=alt.Scale(domain=[ACTUAL, MEDIAN] if levels else [ACTUAL], range=[_INK, _BLUE] if levels else [_INK]),
        legend=alt.Legend(orient="top", direction="horizontal"),
    )
    layers: list[alt.Chart] = []
    shown = (
        promos[(promos["end"] >= start) & (promos["start"] <= end + pd.Timedelta(days=1))]
        if len(promos)
        else promos
    )
    if len(shown):
        shown = shown.assign(start=shown["start"].clip(lower=start), label=shown["kind"].map(kind_label))
        shown = shown.assign(name=(shown["label"] + " " + shown["discount_pct"].map(promo_discount)).str.strip())
        shown = shown.sort_values("start").assign(
            row=lambda f: label_rows(f["start"], f["name"].str.len(), (end + pd.Timedelta(days=1) - start).days)
        )
        layers.append(
            alt.Chart(shown.assign(row_px=shown["row"] * _LABEL_ROW_PX))
            .mark_text(color=_PROMO, align="left", baseline="top", dx=3, dy=3, fontSize=11, fontWeight="bold")
            .encode(x=alt.X("start:T", scale=alt.Scale(domain=[start, end + pd.Timedelta(days=1)]), title=None,
                            axis=day_axis()), y=alt.Y("row_px:Q", scale=None), text="name:N")
        )
        layers.append(
            alt.Chart(shown)
            .mark_rect(color=_PROMO, opacity=0.12)
            .encode(
                x=alt.X("start:T", scale=alt.Scale(domain=[start, end + pd.Timedelta(days=1)]), title=None,
                        axis=day_axis()),
                x2="end:T",
                tooltip=[
                    alt.Tooltip("label:N", title="promotion"),
                    alt.Tooltip("discount_pct:Q", title="discount %"),
                    alt.Tooltip("start:T", format="%a %d %b %H:%M"),
                    alt.Tooltip("end:T", format="%a %d %b %H:%M"),
                ],
            )
        )
    for (lo, hi), opacity in zip(_band_levels(levels), (0.15, 0.3), strict=False):
        band = forecast[["ds", lo, hi]].rename(columns={lo: "lo", hi: "hi"})
        layers.append(
            alt.Chart(band)
            .mark_area(color=_BLUE, opacity=opacity)
            .encode(
                x=x,
                y=alt.Y("lo:Q", title="orders per day"),
                y2="hi:Q",
                tooltip=[
                    alt.Tooltip("ds:T", title="day"),
                    alt.Tooltip("lo:Q", format=",.0f", title=f"{float(lo):.0%}"),
                    alt.Tooltip("hi:Q", format=",.0f", title=f"{float(hi):.0%}"),
                ],
            )
        )
    if not lines.empty:
        layers.append(
            alt.Chart(lines)
            .mark_line(point=alt.OverlayMarkDef(size=14))
            .encode(
                x=x,
                y=alt.Y("orders:Q", title="orders per day"),
                color=color,
                strokeDash=alt.condition(alt.datum.series == MEDIAN, alt.value([5, 3]), alt.value([1, 0])),
                tooltip=[
                    alt.Tooltip("ds:T", title="day"),
                    "series:N",
                    alt.Tooltip("orders:Q", format=",.0f"),
                ],
            )
        )
    if len(partial):
        so_far = pd.DataFrame({"ds": partial["ds"], "orders": partial["y"], "label": "today so far"})
        layers.append(
            alt.Chart(so_far)
            .mark_point(shape="diamond", size=90, filled=True, color=_INK)
            .encode(x=x, y="orders:Q", tooltip=["label:N", alt.Tooltip("orders:Q", format=",.0f")])
        )
    layers.append(
        alt.Chart(pd.DataFrame({"ds": [today]})).mark_rule(color="#888888", strokeDash=[2, 2]).encode(x=x)
    )
    named = holidays if isinstance(holidays, Mapping) else dict.fromkeys(holidays, "public holiday")
    marked = {d: n for d, n in named.items() if start <= d <= end + pd.Timedelta(days=1)}
    if marked:
        layers.append(holiday_marks(marked, x))
    return alt.layer(*layers).properties(height=360)


#: Pixels between two rows of promotion labels, and what the stagger assumes of the chart:
#: its width in pixels and a bold 11 px character's.
_LABEL_ROW_PX = 14
_CHART_PX = 800
_CHAR_PX = 6.5


def label_rows(starts: pd.Series, chars: pd.Series, span_days: int) -> list[int]:
    """The row of each promotion label (``starts`` sorted): the first row where the label
    does not run into the one before it ("flash_sale -40%" and "flash_sale -50%" six days
    apart overlapped on an 8-week chart, both unreadable); after four rows, the least full."""
    days_per_px = max(span_days, 1) / _CHART_PX
    ends: list[pd.Timestamp] = []
    rows: list[int] = []
    for begin, n in zip(starts, chars, strict=True):
        free = [i for i, last in enumerate(ends) if last <= begin]
        row = free[0] if free else (len(ends) if len(ends) < 4 else min(range(len(ends)), key=ends.__getitem__))
        finish = begin + pd.Timedelta(days=(int(n) * _CHAR_PX + 6) * days_per_px)
        if row == len(ends):
            ends.append(finish)
        else:
            ends[row] = finish
        rows.append(row)
    return rows


def promo_discount(pct: object) -> str:
    """``-20%`` for a 20% discount; empty when none is stored or it is 0 (a free shipping
    promotion read "free shipping -0%")."""
    return "" if pct is None or pd.isna(pct) or round(float(pct)) == 0 else f"-{float(pct):.0f}%"


def holiday_marks(days: Mapping[pd.Timestamp, str], x: alt.X) -> alt.LayerChart:
    """A red rule on each public holiday (``x``: the chart's day axis), its name written along it."""
    frame = pd.DataFrame({"ds": list(days), "name": list(days.values()), "label": "public holiday"})
    rule = (
        alt.Chart(frame)
        .mark_rule(color=_HOLIDAY, strokeWidth=2, opacity=0.7)
        .encode(
            x=x,
            tooltip=[
                alt.Tooltip("ds:T", title="day", format="%a %d %b"),
                alt.Tooltip("name:N", title="public holiday"),
            ],
        )
    )
    names = (
        alt.Chart(holiday_labels(days))
        .mark_text(color=_HOLIDAY, angle=270, align="right", baseline="bottom", dx=-4, dy=-3, fontSize=11)
        .encode(x=x, y=alt.value(0), text="name:N")
    )
    return alt.layer(rule, names)


def holiday_labels(days: Mapping[pd.Timestamp, str], gap_days: int = 2) -> pd.DataFrame:
    """``ds, name``: one label per run of holidays at most ``gap_days`` apart (written on its
    first day, else names of neighbouring days overlap): the run's shortest name, with its
    day count when it spans several (``Chuseok · 3 days``)."""
    rows: list[tuple[pd.Timestamp, list[str]]] = []
    last: pd.Timestamp | None = None
    for day, name in sorted(days.items()):
        if last is not None and (day - last).days <= gap_days:
            rows[-1][1].append(name)
        else:
            rows.append((day, [name]))
        last = day
    return pd.DataFrame(
        {
            "ds": [d for d, _ in rows],
            "name": [min(n, key=len) + (f" · {len(n)} days" if len(n) > 1 else "") for _, n in rows],
        }
    )


def staffing_bars(plan: pd.DataFrame, shift_order: Sequence[str]) -> alt.Chart:
    """Packers per day stacked by shift; ``plan``: ``day, shift, packers``."""
    ranks = {name: i for i, name in enumerate(shift_order)}
    # The rank must be in the data every layer reads: stacked in the shifts' order (the first
    # at the bottom), as the legend lists them, not alphabetically.
    ranked = plan.assign(shift_rank=plan["shift"].map(ranks).fillna(len(ranks)))
    base = alt.Chart(ranked).encode(
        x=alt.X("yearmonthdate(day):O", title=None, axis=alt.Axis(format=DAY_FORMAT))
    )
    bars = base.mark_bar().encode(
        y=alt.Y("sum(packers):Q", title="packers"),
        color=alt.Color("shift:N", sort=list(shift_order), scale=alt.Scale(scheme="tableau10")),
        order=alt.Order("shift_rank:Q", sort="ascending"),
        tooltip=[alt.Tooltip("day:T", title="day"), "shift:N", "packers:Q"],
    )
    totals = base.mark_text(dy=-6, fontSize=11).encode(y="sum(packers):Q", text="sum(packers):Q")
    return alt.layer(bars, totals).properties(height=280)


def weights_chart(weights: Mapping[str, float]) -> alt.Chart:
    """Ensemble weight per model, largest first."""
    frame = pd.DataFrame({"model": list(weights), "weight": [float(w) for w in weights.values()]})
    return (
        alt.Chart(frame)
        .mark_bar(color=_BLUE)
        .encode(
            x=alt.X("weight:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("model:N", sort="-x", title=None),
            tooltip=["model:N", alt.Tooltip("weight:Q", format=".1%")],
        )
        .properties(height=alt.Step(30))
    )


def hourly_today(hourly: pd.DataFrame) -> alt.Chart:
    """Orders per hour today, one line per center; ``hourly``: ``unique_id, ds, y``."""
    return (
        alt.Chart(hourly)
        .mark_line(point=True)
        .encode(
            x=alt.X("ds:T", title="local hour", axis=hour_axis()),
            y=alt.Y("y:Q", title="orders per hour"),
            color=alt.Color("unique_id:N", title="center"),
            tooltip=[
                alt.Tooltip("unique_id:N", title="center"),
                alt.Tooltip("ds:T", format="%H:%M", title="hour"),
                alt.Tooltip("y:Q", format=",.0f", title="orders"),
            ],
        )
        .properties(height=260)
    )


def dead_letters(metrics: pd.DataFrame) -> alt.Chart:
    """Dead letters by reason; ``metrics``: ``name, reason, value`` rows of dead-letter counters."""
    return (
        alt.Chart(metrics)
        .mark_bar()
        .encode(
            x=alt.X("value:Q", title="messages"),
            y=alt.Y("reason:N", sort="-x", title=None),
            color=alt.Color("name:N", title="stream"),
            tooltip=["name:N", "reason:N", "value:Q"],
        )
        .properties(height=alt.Step(30))
    )


BASELINE = "forecast (baseline)"
SCENARIO = "with the promotion"


def whatif_fan(baseline: pd.DataFrame, scenario: pd.DataFrame, lo: str, mid: str, hi: str) -> alt.LayerChart:
    """Baseline and scenario forecasts, each a ``lo``-``hi`` band and a ``mid`` line.

    ``baseline`` / ``scenario``: ``ds`` and the quantile columns ``lo, mid, hi``;
    ``scenario`` also ``promo`` (bool): the promotion days, shaded; the scenario is
    drawn on them and the day either side only (elsewhere it is the baseline).
    """

    def tidy(frame: pd.DataFrame, name: str) -> pd.DataFrame:
        return pd.DataFrame({"ds": frame["ds"], "lo": frame[lo], "mid": frame[mid], "hi": frame[hi], "series": name})

    # The scenario only where it differs (promotion days), plus one day each side so its line joins the baseline.
    scenario = scenario.sort_values("ds")
    promo = scenario["promo"].astype(bool)
    near = promo | promo.shift(1, fill_value=False) | promo.shift(-1, fill_value=False)
    both = pd.concat([tidy(baseline, BASELINE), tidy(scenario[near], SCENARIO)], ignore_index=True)
    start, end = both["ds"].min(), both["ds"].max()
    x = alt.X("ds:T", title=None, axis=day_axis(), scale=alt.Scale(domain=[start, end]))
    color = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(domain=[BASELINE, SCENARIO], range=[_BLUE, _PROMO]),
        legend=alt.Legend(orient="top", direction="horizontal"),
    )
    layers: list[alt.Chart] = []
    days = scenario[scenario["promo"]]
    if len(days):
        shade = pd.DataFrame({"start": days["ds"] - pd.Timedelta(hours=12), "end": days["ds"] + pd.Timedelta(hours=12)})
        layers.append(
            alt.Chart(shade.assign(label="promotion day"))
            .mark_rect(color=_PROMO, opacity=0.08)
            .encode(x=alt.X("start:T", scale=alt.Scale(domain=[start, end]), title=None, axis=day_axis()), x2="end:T")
        )
    band = f"{float(lo):.0%}–{float(hi):.0%}"
    layers.append(
        alt.Chart(both)
        .mark_area(opacity=0.18)
        .encode(
            x=x,
            y=alt.Y("lo:Q", title="orders per day"),
            y2="hi:Q",
            color=color,
            tooltip=[
                alt.Tooltip("ds:T", title="day"),
                "series:N",
                alt.Tooltip("lo:Q", format=",.0f", title=f"{band} low"),
                alt.Tooltip("hi:Q", format=",.0f", title=f"{band} high"),
            ],
        )
    )
    layers.append(
        alt.Chart(both)
        .mark_line(point=alt.OverlayMarkDef(size=18))
        .encode(
            x=x,
            y=alt.Y("mid:Q", title="orders per day"),
            color=color,
            tooltip=[alt.Tooltip("ds:T", title="day"), "series:N", alt.Tooltip("mid:Q", format=",.0f", title="median")],
        )
    )
    return alt.layer(*layers).properties(height=340)
