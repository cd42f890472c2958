"""Champion and challenger decisions, each with its evidence."""

from __future__ import annotations

from datetime import date

import pandas as pd

from fcplan.models.champion import RunInfo, backtest_scores, decide, live_scores, run_version

TODAY = date(2026, 3, 20)
CENTERS = frozenset({"FC-A", "FC-B"})


def run(run_id: str, data_end: str, last_day: str = "2026-04-05", centers=CENTERS) -> RunInfo:
    return RunInfo(run_id, date.fromisoformat(data_end), date.fromisoformat(last_day), frozenset(centers))


def frames(errors: dict[str, float], data_ends: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecasts of runs whose median misses the actual (100) by ``errors[run]``."""
    days = pd.date_range("2026-03-01", "2026-03-25", freq="D")
    rows = []
    for run_id, err in errors.items():
        for uid in sorted(CENTERS):
            for ds in days[days > pd.Timestamp(data_ends[run_id])]:
                rows.append(
                    {"run_id": run_id, "unique_id": uid, "ds": ds, "0.1": 80 + err, "0.5": 100 + err, "0.9": 120 + err}
                )
    actuals = pd.DataFrame([{"unique_id": u, "ds": d, "y": 100.0} for u in sorted(CENTERS) for d in days])
    return pd.DataFrame(rows), actuals


def test_the_first_run_becomes_champion() -> None:
    decision = decide(None, [run("r1", "2026-03-19")], {}, TODAY)
    assert decision.winner == "r1" and "first run" in decision.reason


def test_a_challenger_that_beats_the_champion_on_the_same_days_by_the_margin_wins() -> None:
    champ, chall = run("old", "2026-03-10"), run("new", "2026-03-14")
    fc, actuals = frames({"old": 15.0, "new": 2.0}, {"old": "2026-03-10", "new": "2026-03-14"})
    scores = live_scores(fc, actuals, [champ, chall], TODAY)
    assert scores[("new", "old")][1] == scores[("old", "new")][1] == 5  # Mar 15..19, both out of sample
    decision = decide(champ, [chall], scores, TODAY, max_age_days=14)
    assert decision.winner == "new" and "same 5 days" in decision.reason
    assert decision.evidence["comparisons"][0]["wql"] < decision.evidence["comparisons"][0]["champion_wql"]


def test_a_challenger_within_the_margin_or_with_too_few_days_leaves_the_champion() -> None:
    champ = run("old", "2026-03-14")
    fc, actuals = frames(
        {"old": 5.0, "same": 4.99, "fresh": 0.0}, {"old": "2026-03-14", "same": "2026-03-14", "fresh": "2026-03-18"}
    )
    challengers = [run("same", "2026-03-14"), run("fresh", "2026-03-18")]  # fresh: 1 day after its data
    decision = decide(
        champ, challengers, live_scores(fc, actuals, [champ, *challengers], TODAY), TODAY, max_age_days=14
    )
    assert decision.winner is None and "champion kept" in decision.reason


def test_a_challenger_on_newer_data_replaces_the_champion_unless_worse_by_the_margin() -> None:
    from fcplan.models.champion import KEPT_ON_MERIT, REFRESHED

    champ, chall = run("old", "2026-03-17"), run("new", "2026-03-18")
    boards = {"old": {"2026-02-23": 0.2, "2026-03-02": 0.2}, "new": {"2026-03-02": 0.2, "2026-03-09": 0.2}}
    same = decide(champ, [chall], backtest_scores(boards), TODAY)  # the same engine's windows score the same
    assert (same.winner, same.kind) == ("new", REFRESHED) and "newer data (to 2026-03-18" in same.reason
    boards["new"]["2026-03-02"] = 0.203  # worse, within the margin: fresh data still wins
    assert decide(champ, [chall], backtest_scores(boards), TODAY).winner == "new"
    boards["new"]["2026-03-02"] = 0.21  # worse by more than the margin
    worse = decide(champ, [chall], backtest_scores(boards), TODAY)
    assert (worse.winner, worse.kind) == (None, KEPT_ON_MERIT)
    newest = run("newest", "2026-03-19")
    boards["newest"] = {"2026-03-02": 0.2}
    assert decide(champ, [chall, newest], backtest_scores(boards), TODAY).winner == "newest"


def test_a_challenger_on_older_data_does_not_replace_a_fresher_champion_on_backtest_windows() -> None:
    champ, old = run("champ", "2026-03-18"), run("old", "2026-03-12")
    boards = {"champ": {"2026-03-02": 0.2, "2026-03-09": 0.2}, "old": {"2026-03-02": 0.1, "2026-03-09": 0.1}}
    decision = decide(champ, [old], backtest_scores(boards), TODAY)
    assert decision.winner is None and "champion kept" in decision.reason


def test_a_stale_broken_or_drifted_champion_is_replaced_with_the_reason() -> None:
    newest = run("new", "2026-03-19")
    stale = decide(run("old", "2026-03-01"), [newest], {}, TODAY, max_age_days=7)
    assert stale.winner == "new" and "stale" in stale.reason
    short = decide(run("old", "2026-03-18", last_day="2026-03-20"), [newest], {}, TODAY)
    assert short.winner == "new" and "no forecast for tomorrow" in short.reason
    missing = decide(run("old", "2026-03-18", centers={"FC-A"}), [newest], {}, TODAY)
    assert missing.winner == "new" and "FC-B" in missing.reason
    drifted = decide(run("old", "2026-03-18"), [newest], {}, TODAY, alerted_centers=["FC-B"])
    assert drifted.winner == "new" and "drifted" in drifted.reason


def test_the_version_is_a_hash_of_config_and_data_window() -> None:
    cfg = {"models": ["ets"], "quantiles": [0.1, 0.5, 0.9]}
    v = run_version(cfg, date(2026, 1, 1), date(2026, 3, 1))
    assert v == run_version(dict(cfg), date(2026, 1, 1), date(2026, 3, 1)) and len(v) == 16
    assert v != run_version(cfg, date(2026, 1, 2), date(2026, 3, 1))
    assert v != run_version({**cfg, "models": ["theta"]}, date(2026, 1, 1), date(2026, 3, 1))


def test_a_challenger_too_old_to_be_champion_is_not_promoted_on_its_score() -> None:
    champ, old = run("champ", "2026-03-14"), run("old", "2026-03-05")
    fc, actuals = frames({"champ": 15.0, "old": 0.0}, {"champ": "2026-03-14", "old": "2026-03-05"})
    scores = live_scores(fc, actuals, [champ, old], TODAY)
    assert decide(champ, [old], scores, TODAY, max_age_days=7).winner is None
    assert decide(champ, [old], scores, TODAY, max_age_days=20).winner == "old"


def test_champion_and_challenger_are_compared_on_exactly_their_shared_backtest_windows() -> None:
    champ, chall = run("old", "2026-03-18"), run("new", "2026-03-19")
    boards = {
        "old": {"2026-02-17": 30.0, "2026-03-04": 10.0},
        "new": {"2026-03-04": 10.5, "2026-03-19": 1.0},  # far better only on a window the champion lacks
    }
    scores = backtest_scores(boards)
    assert scores[("new", "old")] == (10.5, 1, ("2026-03-04",), "backtest windows")
    kept = decide(champ, [chall], scores, TODAY)
    assert kept.winner is None and kept.evidence["comparisons"][0]["backtest windows"] == ["2026-03-04"]
    boards["new"]["2026-03-04"] = 9.0
    won = decide(champ, [chall], backtest_scores(boards), TODAY)
    assert won.winner == "new" and "same 1 backtest windows (2026-03-04)" in won.reason


def test_shared_backtest_windows_take_precedence_over_live_days() -> None:
    champ, chall = run("old", "2026-03-10"), run("new", "2026-03-14")
    fc, actuals = frames({"old": 15.0, "new": 2.0}, {"old": "2026-03-10", "new": "2026-03-14"})
    scores = live_scores(fc, actuals, [champ, chall], TODAY)
    scores.update(backtest_scores({"old": {"2026-03-01": 5.0}, "new": {"2026-03-01": 5.5}}))
    decision = decide(champ, [chall], scores, TODAY, max_age_days=14)
    assert decision.winner is None and decision.evidence["comparisons"][0]["backtest windows"] == ["2026-03-01"]


def test_each_decision_says_what_it_rested_on_and_a_kept_champion_names_its_evidence() -> None:
    from fcplan.models.champion import KEPT_ON_MERIT, KEPT_UNMATCHED, MERIT, STALE

    champ, chall = run("old", "2026-03-17"), run("new", "2026-03-18")
    boards = {"old": {"2026-02-23": 0.20, "2026-03-02": 0.22}, "new": {"2026-03-02": 0.228, "2026-03-09": 0.1}}
    kept = decide(champ, [chall], backtest_scores(boards), TODAY)
    assert kept.winner is None and kept.kind == KEPT_ON_MERIT
    assert "the best, on the same 1 backtest windows (2026-03-02): wQL 0.2280 vs 0.2200" in kept.reason
    boards["new"]["2026-03-02"] = 0.2
    assert decide(champ, [chall], backtest_scores(boards), TODAY).kind == MERIT
    unmatched = decide(champ, [chall], {}, TODAY)
    assert unmatched.winner is None and unmatched.kind == KEPT_UNMATCHED and "none shares" in unmatched.reason
    assert decide(run("old", "2026-03-01"), [chall], {}, TODAY).kind == STALE


def test_a_fresher_challenger_lacking_a_center_or_tomorrow_does_not_replace_a_sound_champion() -> None:
    from fcplan.models.champion import BROKEN, REFRESHED, STALE

    champ = run("champ", "2026-03-17")
    boards = {"champ": {"2026-03-02": 0.2, "2026-03-09": 0.2}, "new": {"2026-03-02": 0.2, "2026-03-09": 0.2}}
    partial = run("new", "2026-03-18", centers={"FC-A"})  # FC-B's orders stopped: the retrain left it out
    kept = decide(champ, [partial], backtest_scores(boards), TODAY)
    assert kept.winner is None and "FC-B" in kept.reason and kept.evidence["incomplete"] == {"new": ["FC-B"]}
    boards["new"] = {"2026-03-02": 0.1, "2026-03-09": 0.1}  # nor on merit
    assert decide(champ, [partial], backtest_scores(boards), TODAY).winner is None
    short = run("new", "2026-03-18", last_day="2026-03-20")  # no forecast for tomorrow
    assert decide(champ, [short], backtest_scores(boards), TODAY).winner is None
    whole = run("new", "2026-03-18")
    assert decide(champ, [whole], backtest_scores(boards), TODAY).winner == "new"
    # a whole run beside the partial one still refreshes; the partial one's turn comes only when the champion
    # is stale (or broken, or drifted), as before
    boards["whole"] = boards["new"]
    both = decide(champ, [partial, run("whole", "2026-03-18")], backtest_scores(boards), TODAY)
    assert both.winner == "whole" and both.kind in {REFRESHED, "merit"}
    stale = decide(run("champ", "2026-03-10"), [partial], backtest_scores(boards), TODAY, max_age_days=7)
    assert (stale.winner, stale.kind) == ("new", STALE)
    wider = decide(run("champ", "2026-03-17", centers={"FC-A"}), [run("new", "2026-03-18")], {}, TODAY)
    assert (wider.winner, wider.kind) == ("new", BROKEN)
