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


def test_a_champion_kept_because_every_challenger_is_on_older_data_says_the_orders_stop() -> None:
    """A database restored from an older backup (the registry newer than the orders): the champion
    was kept as "no challenger beat it", without a word on why no challenger had newer data."""
    champ, old = run("champ", "2026-03-18"), run("old", "2026-03-12")
    boards = {"champ": {"2026-03-02": 0.2, "2026-03-09": 0.2}, "old": {"2026-03-02": 0.2, "2026-03-09": 0.2}}
    decision = decide(champ, [old], backtest_scores(boards), TODAY)
    assert decision.winner is None and decision.reason.startswith("champion kept: no challenger beat it by 2%")
    assert "every challenger's data ends 2026-03-12, before the champion's (2026-03-18)" in decision.reason
    assert decision.evidence["challengers_data_end"] == "2026-03-12"
    unmatched = decide(champ, [old], {}, TODAY)
    assert "before the champion's (2026-03-18)" in unmatched.reason
    fresh = decide(champ, [run("new", "2026-03-19")], backtest_scores({**boards, "new": boards["champ"]}), TODAY)
    assert "before the champion's" not in fresh.reason


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
    assert scores[("new", "old")] == (10.5, 1, ("2026-03-04",), "backtest windows", "")  # the ensembles' own
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


# Two runs of one engine a day apart (the simulated loop, 2026-11-11): the weekly grid rolled, so
# the newer run's three windows are 10-12, 10-19, 10-26 and the champion's 10-05, 10-12, 10-19. On
# the two shared windows every member scores the same in both runs, but each run's ensemble
# score there (weights chosen on the run's other windows) differs by about 4 % from the weight choice
# alone: the plan stayed on the old forecast for days.
SN = {"2026-10-05": 0.190, "2026-10-12": 0.180, "2026-10-19": 0.150, "2026-10-26": 0.170}
GLM = {"2026-10-05": 0.150, "2026-10-12": 0.1627, "2026-10-19": 0.1334, "2026-10-26": 0.120}


def same_engine(champ_windows, chall_windows, chall_glm=GLM) -> tuple[dict, dict, dict]:
    members = {
        "champ": {c: {"seasonal_naive": SN[c], "glm": GLM[c]} for c in champ_windows},
        "new": {c: {"seasonal_naive": SN[c], "glm": chall_glm[c]} for c in chall_windows},
    }
    weights = {"champ": {"seasonal_naive": 0.32, "glm": 0.68}, "new": {"seasonal_naive": 0.16, "glm": 0.84}}
    ensembles = {  # LOWO: 10-12 and 10-19 scored 3.9 % worse by the newer run's weights
        "champ": {"2026-10-05": 0.140, "2026-10-12": 0.1480, "2026-10-19": 0.1150},
        "new": {"2026-10-12": 0.1538, "2026-10-19": 0.1195, "2026-10-26": 0.110},
    }
    return members, weights, ensembles


def test_the_same_engine_on_a_day_newer_data_refreshes_though_its_ensemble_scores_differ_by_weight_noise() -> None:
    from fcplan.models.champion import COMMON_WEIGHTS, KEPT_ON_MERIT, REFRESHED, member_scores

    champ, chall = run("champ", "2026-03-17"), run("new", "2026-03-18")
    members, weights, ensembles = same_engine(["2026-10-05", "2026-10-12", "2026-10-19"],
                                              ["2026-10-12", "2026-10-19", "2026-10-26"])
    ensemble_only = decide(champ, [chall], backtest_scores(ensembles), TODAY)
    assert ensemble_only.kind == KEPT_ON_MERIT  # what blocked the refresh: 0.1367 vs 0.1315 on the ensembles
    scores = {**backtest_scores(ensembles), **member_scores(members, weights)}
    assert scores[("new", "champ")] == scores[("champ", "new")]  # the same members, weighted alike
    decision = decide(champ, [chall], scores, TODAY)
    assert (decision.winner, decision.kind) == ("new", REFRESHED)
    comparison = decision.evidence["comparisons"][0]
    assert comparison["backtest windows"] == ["2026-10-12", "2026-10-19"] and comparison["scored"] == COMMON_WEIGHTS
    assert COMMON_WEIGHTS in decision.reason


def test_a_challenger_whose_members_forecast_worse_on_the_shared_windows_does_not_refresh() -> None:
    from fcplan.models.champion import KEPT_ON_MERIT, REFRESHED, member_scores

    champ, chall = run("champ", "2026-03-17"), run("new", "2026-03-18")
    windows = ["2026-10-05", "2026-10-12", "2026-10-19"], ["2026-10-12", "2026-10-19", "2026-10-26"]
    worse = {c: v * 1.035 for c, v in GLM.items()}  # the glm member regressed: 3.5 %, 2.6 % at its weight
    members, weights, ensembles = same_engine(*windows, chall_glm=worse)
    ensembles["new"] = dict(ensembles["champ"])  # even where the ensembles' own scores would tie
    kept = decide(champ, [chall], {**backtest_scores(ensembles), **member_scores(members, weights)}, TODAY)
    assert (kept.winner, kept.kind) == (None, KEPT_ON_MERIT)
    c = kept.evidence["comparisons"][0]
    assert c["wql"] > c["champion_wql"] * 1.02
    slightly = {c: v * 1.02 for c, v in GLM.items()}  # within the margin: fresh data wins
    members, weights, ensembles = same_engine(*windows, chall_glm=slightly)
    fresh = decide(champ, [chall], {**backtest_scores(ensembles), **member_scores(members, weights)}, TODAY)
    assert (fresh.winner, fresh.kind) == ("new", REFRESHED)


def test_runs_with_other_weighted_members_are_compared_on_their_ensembles() -> None:
    from fcplan.models.champion import member_scores

    members, weights, _ = same_engine(["2026-10-05", "2026-10-12"], ["2026-10-12", "2026-10-19"])
    assert set(member_scores(members, weights)) == {("champ", "new"), ("new", "champ")}
    weights["new"]["lightgbm"] = 0.3  # weighted in the new run, never scored in the champion
    members["new"] = {c: {**m, "lightgbm": 0.1} for c, m in members["new"].items()}
    assert member_scores(members, weights) == {}
    weights["new"]["lightgbm"] = 0.0  # backtested, no weight in either: the same weighted members
    assert set(member_scores(members, weights)) == {("champ", "new"), ("new", "champ")}
    del members["champ"]["2026-10-12"]["glm"]  # a weighted member missing on a shared window
    assert member_scores(members, weights) == {}
    assert member_scores({"a": {"2026-10-12": {"glm": 0.1}}}, {"a": {"glm": 1.0}}) == {}  # a lone run


def test_an_older_challenger_still_cannot_win_on_windows_scored_at_common_weights() -> None:
    from fcplan.models.champion import member_scores

    champ, old = run("champ", "2026-03-18"), run("old", "2026-03-12")
    members = {"champ": {"2026-10-12": {"glm": 0.2}}, "old": {"2026-10-12": {"glm": 0.1}}}
    weights = {"champ": {"glm": 1.0}, "old": {"glm": 1.0}}
    assert decide(champ, [old], member_scores(members, weights), TODAY).winner is None
