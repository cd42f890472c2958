"""Alerts page: open and past forecast alerts (every kind the drift checks write), each with its
evidence and the retrain it caused."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fcplan.dashboard import data, summaries
from fcplan.dashboard.views.common import OPEN_STATUS, local_text, zone

ALL = "All centers"
LIMIT = 1000
ALL_KINDS = "All kinds"
COLUMNS = ["opened", "center_id", "what", "status", "statistic", "threshold", "cleared", "retrain", "message", "kind"]
#: The columns the table shows. ``kind`` (the stored code) stays in the data but is not shown:
#: ``what`` says it for people and the Evidence names it. The message is not a column either: in the
#: grid (one line a cell) about 50 px of it showed at 1280 px; it is written whole under the table,
#: one line per alert (:func:`message_lines`), wrapped at any width.
SHOWN = [c for c in COLUMNS if c not in ("kind", "message")]
#: Column widths (px): every column fits the table's 818 px at a 1280 px window with the sidebar open.
WIDTHS = {"opened": 95, "center_id": 92, "what": 185, "status": 80, "statistic": 52, "threshold": 48,
          "cleared": 95, "retrain": 120}
#: Messages listed before the list scrolls in its own box.
MESSAGES_OPEN = 8
#: Characters Streamlit's markdown would read as formatting (LaTeX, emphasis, links, HTML).
_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()<>#+-.!|$~"})
#: What the "retrain" column links (the registry stores no alert id).
RETRAIN_HELP = (
    "the champion/challenger decision this alert caused: the first one after it opened that names its "
    "center among the drifted ones; empty when no retrain named it (the next retrain decided without it)"
)


def alerts_table(alerts: pd.DataFrame, retrains: pd.DataFrame) -> pd.DataFrame:
    """The alerts with their times in each center's zone, their kind for people (``what``) and
    the retrain each caused (see :func:`fcplan.dashboard.summaries.alert_retrains`)."""
    shown = alerts.merge(retrains, on="alert_id", how="left")
    zones = {c: zone(c) for c in shown["center_id"].unique()}
    shown["opened"] = [short_time(t, zones[c]) for t, c in zip(shown["created_at"], shown["center_id"], strict=True)]
    cleared = shown["cleared_at"] if "cleared_at" in shown else pd.Series(None, index=shown.index)
    shown["cleared"] = [
        "" if pd.isna(t) else short_time(t, zones[c]) for t, c in zip(cleared, shown["center_id"], strict=True)
    ]
    shown["status"] = shown["status"].fillna("daily check") if "status" in shown else "daily check"
    shown["what"] = shown["kind"].map(summaries.alert_kind_label)
    shown["retrain"] = [
        f"{'promoted' if promoted else 'kept champion'}: {reason}" if caused else ""
        for caused, promoted, reason in zip(shown["caused"], shown["promoted"], shown["reason"], strict=True)
    ]
    return shown


def short_time(ts: object, tz: str) -> str:
    """A naive-UTC database time in the center's zone, without the zone's name (the table's
    caption says whose zone; the name took a fifth of the table's width at 1400 px)."""
    local = data.to_local(ts, tz)
    return "—" if local is None else f"{local:%d %b %H:%M}"


def pick_labels(rows: pd.DataFrame) -> dict[str, str]:
    """``alert_id -> label`` for the evidence picker, in the table's order: center, kind and
    opening time, then what tells apart alerts that share them (a daily check writes one per
    day judged, in the same minute): the start of the message, else a count."""
    base = [f"{r.center_id} · {r.what} · {r.opened}" for r in rows.itertuples()]
    labels = [
        b if base.count(b) == 1 else f"{b} · {_short(str(m))}" for b, m in zip(base, rows["message"], strict=True)
    ]
    seen: dict[str, int] = {}
    out: dict[str, str] = {}
    for alert_id, label in zip(rows["alert_id"].astype(str), labels, strict=True):
        seen[label] = seen.get(label, 0) + 1
        repeats = labels.count(label)
        out[alert_id] = label if repeats == 1 else f"{label} ({seen[label]} of {repeats})"
    return out


def message_lines(rows: pd.DataFrame) -> list[str]:
    """One markdown line per alert, in the table's order: when, where and which check, then its
    whole message (escaped: a message is shown as written)."""
    return [
        f"**{r.opened} · {r.center_id} · {r.what}** — {str(r.message).translate(_MARKDOWN)}"
        for r in rows.itertuples()
    ]


def _short(text: str, size: int = 60) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def evidence(row: pd.Series) -> None:
    """One alert: its test statistic against the threshold, its window, evidence and retrain."""
    tz = zone(row["center_id"])
    st.markdown(f"**{row['center_id']} · {row['what']}** (`{row['kind']}`) — {row['message']}")
    cols = st.columns(3)
    if pd.notna(row.get("statistic")):
        cols[0].metric("Statistic", f"{row['statistic']:.3g}", delta=f"threshold {row['threshold']:.3g}",
                       delta_color="off", delta_arrow="off", border=True)
    cols[1].metric("Status", row["status"], delta=row["cleared"] or None, delta_color="off",
                   delta_arrow="off", border=True)
    if pd.notna(row.get("window_start")):
        cols[2].markdown(
            f"Window: {local_text(row['window_start'], tz)} → {local_text(row['window_end'], tz)}  \n"
            f"Model: `{row.get('model_version') or '—'}`"
        )
    if row["retrain"]:
        st.markdown(
            f"Retrain it caused, {local_text(row['retrain_at'], tz)}: challenger `{row['challenger_run_id']}` "
            f"**{row['retrain']}**"
        )
        st.caption(f"Linked because that decision names {row['center_id']} among the drifted centers.")
    elif pd.notna(row.get("next_at")):
        st.caption(
            f"No retrain names this alert yet. The next retrain after it, {local_text(row['next_at'], tz)}, "
            f"decided without it: {row['next_reason']}"
        )
    else:
        st.caption("No retrain after this alert yet.")
    if isinstance(row.get("evidence"), dict) and row["evidence"]:
        # In words first: the stored keys (pit_today, theta...) read as code to a manager.
        st.caption("Evidence the monitor recorded")
        st.dataframe(summaries.evidence_table(row["evidence"]), hide_index=True, width="stretch",
                     column_order=["what", "value"], column_config={"what": st.column_config.TextColumn(width="large")})
        with st.expander("As stored"):
            st.json(row["evidence"], expanded=True)


@st.fragment(run_every=data.REFRESH_S)
def live_alerts() -> None:
    cfg = data.config()
    with data.database_errors(cfg.url):
        alerts = data.alerts(cfg.url, LIMIT)
        if alerts.empty:
            st.info("No alerts yet: the drift monitor raises one when a center's orders leave its forecast band.")
            return
        decisions = data.decisions(cfg.url, LIMIT)
        shown = alerts_table(alerts, summaries.alert_retrains(alerts, decisions))
        is_open = shown["status"] == OPEN_STATUS
        cols = st.columns(3)
        cols[0].metric("Open alerts", int(is_open.sum()), border=True)
        cols[1].metric("Centers with an open alert", shown.loc[is_open, "center_id"].nunique(), border=True)
        cols[2].metric("Alerts that caused a retrain (all)", int(shown["caused"].sum()), border=True,
                       help=RETRAIN_HELP)
        pick = st.columns(3)
        which = pick[0].segmented_control("Show", ["Open", "All"], default="Open", key="alerts_which") or "Open"
        center = pick[1].selectbox("Center", [ALL, *sorted(shown["center_id"].unique())], key="alerts_center")
        kinds = sorted(shown["what"].unique())
        kind = pick[2].selectbox("Kind", [ALL_KINDS, *kinds], key="alerts_kind")
        rows = shown[is_open] if which == "Open" else shown
        rows = rows if center == ALL else rows[rows["center_id"] == center]
        rows = rows if kind == ALL_KINDS else rows[rows["what"] == kind]
        if rows.empty:
            st.caption("No open alerts here." if which == "Open" else "No alerts for this center and kind.")
            return
        st.dataframe(
            rows[[c for c in COLUMNS if c in rows]],
            hide_index=True,
            width="stretch",
            column_order=[c for c in SHOWN if c in rows],
            placeholder="—",
            column_config={
                "opened": st.column_config.TextColumn(width=WIDTHS["opened"], pinned=True),
                "center_id": st.column_config.TextColumn("center", width=WIDTHS["center_id"], pinned=True),
                "what": st.column_config.TextColumn(width=WIDTHS["what"], help="the drift check that raised "
                                                    "it (its stored kind is under Evidence below)"),
                "status": st.column_config.TextColumn(width=WIDTHS["status"]),
                "statistic": st.column_config.NumberColumn("stat.", format="%.3g", width=WIDTHS["statistic"],
                                                           help="the test statistic when the alert opened"),
                "threshold": st.column_config.NumberColumn("thr.", format="%.3g", width=WIDTHS["threshold"],
                                                           help="the threshold the statistic crossed"),
                "cleared": st.column_config.TextColumn(width=WIDTHS["cleared"]),
                "retrain": st.column_config.TextColumn("retrain it caused", width=WIDTHS["retrain"],
                                                       help=RETRAIN_HELP),
            },
        )
        st.caption("Times in each center's own zone.")
        lines = message_lines(rows)
        box = st.container(height=MESSAGES_OPEN * 52, border=True) if len(lines) > MESSAGES_OPEN else st.container()
        box.markdown("\n\n".join(lines))
        st.subheader("Evidence")
        labels = pick_labels(rows)
        chosen = st.selectbox("Alert", list(labels), format_func=labels.get, key="alerts_pick")
        evidence(rows.loc[rows["alert_id"] == chosen].iloc[0])


def page() -> None:
    st.header("Alerts")
    live_alerts()


page()
