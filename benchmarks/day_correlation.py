"""Are two consecutive days' forecast errors independent? (the overnight shift's and a closed run's sum)

The planner books an overnight shift on the service quantile of ``a X_D + b X_{D+1}`` and the first shift
after closed days on that of the closed days' and its own day's orders, the days joined by a Gaussian copula
with correlation ``rho`` (0 by default: independent; :mod:`fcplan.planner.quantile_sum`). This replays
rolling 14-day forecasts on the real panel (benchmarks/retail.py: daily UK and EU orders of an online
retailer), turns each day's actual into its normal score within its forecast (the PIT, interpolated between
the forecast's quantiles), and measures the correlation of consecutive open days' scores within one forecast
(the days one plan books together). Then it prices the rule: how often the sum of two consecutive days
(weights 0.5/0.5) and of a closed run's carry (Friday and Sunday for Monday's first shift, weights 1/1) fell
at or below the planned quantile of the sum, with ``rho`` = 0, the measured one and 1, against the single
days' own coverage (the forecast's calibration, which no ``rho`` fixes).

Forecaster: statsforecast AutoETS (season 7) and SeasonalNaive(7) with conformal-free model intervals, 60
origins a week apart; the figures are deterministic. Needs .venv-bench (statsforecast, pandas<3):

    OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/day_correlation.py
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from retail import retail_panel

from fcplan.core.panel import DS, KEYS, UNIQUE_ID, Y
from fcplan.planner.quantile_sum import quantile_of_days, quantile_of_sum

LEVELS = np.array([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95])
HORIZON, WINDOWS, STEP = 14, 60, 7
TAUS = (0.75, 0.9)


def backtest(panel: pd.DataFrame, model) -> pd.DataFrame:
    """``unique_id, ds, cutoff, y`` and one column per level of ``LEVELS``."""
    from statsforecast import StatsForecast

    widths = sorted({round(abs(1 - 2 * q) * 100) for q in LEVELS if q != 0.5})
    sf = StatsForecast(models=[model], freq="D", n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cv = sf.cross_validation(df=panel[[*KEYS, Y]], h=HORIZON, step_size=STEP, n_windows=WINDOWS, level=widths)
    cv = cv.reset_index() if UNIQUE_ID not in cv.columns else cv
    name = next(c for c in cv.columns if c not in (*KEYS, "cutoff", Y) and "-" not in c)
    out = cv[[*KEYS, "cutoff", Y]].copy()
    for q in LEVELS:
        side = "lo" if q < 0.5 else "hi"
        out[str(q)] = cv[name] if q == 0.5 else cv[f"{name}-{side}-{round(abs(1 - 2 * q) * 100)}"]
    cols = [str(q) for q in LEVELS]
    out[cols] = np.sort(np.clip(out[cols].to_numpy(), 0, None), axis=1)
    return out


def scores(bt: pd.DataFrame) -> np.ndarray:
    """Each row's actual as a normal score within its forecast (PIT linear between levels, clipped)."""
    q = bt[[str(x) for x in LEVELS]].to_numpy()
    y = bt[Y].to_numpy()
    pit = np.array([np.interp(v, row, LEVELS, left=0.02, right=0.98) if row[-1] > row[0] else 0.5
                    for v, row in zip(y, q, strict=True)])
    return norm.ppf(pit)


def analyse(bt: pd.DataFrame, label: str) -> dict[str, float]:
    bt = bt.sort_values([UNIQUE_ID, "cutoff", DS]).reset_index(drop=True)
    bt["z"] = scores(bt)
    bt["open"] = bt[Y] > 0
    nxt = bt.groupby([UNIQUE_ID, "cutoff"]).shift(-1)
    pair = bt["open"] & nxt["open"].fillna(False).astype(bool) & (nxt[DS] - bt[DS] == pd.Timedelta(days=1))
    out: dict[str, float] = {}
    cols = [str(x) for x in LEVELS]
    for center in sorted(bt[UNIQUE_ID].unique()):
        m = pair & (bt[UNIQUE_ID] == center)
        z1, z2 = bt.loc[m, "z"].to_numpy(), nxt.loc[m, "z"].to_numpy()
        rho = float(np.corrcoef(z1, z2)[0, 1])
        out[f"{label} {center} rho"] = rho
        first, second = bt.loc[m, cols].to_numpy(), nxt.loc[m, cols].to_numpy()
        realised = 0.5 * bt.loc[m, Y].to_numpy() + 0.5 * nxt.loc[m, Y].to_numpy()
        line = f"  {label:14s} {center}: {int(m.sum()):4d} pairs of consecutive open days, rho of scores {rho:+.3f}"
        for tau in TAUS:
            single = float(np.mean(bt.loc[bt["open"] & (bt[UNIQUE_ID] == center), Y].to_numpy()
                                   <= np.array([np.interp(tau, LEVELS, r) for r in
                                                bt.loc[bt["open"] & (bt[UNIQUE_ID] == center), cols].to_numpy()])))
            cov = {}
            for name, r in (("0", 0.0), ("rho", max(min(rho, 1.0), 0.0)), ("1", 1.0)):
                planned = quantile_of_sum(0.5, first, 0.5, second, LEVELS, tau, rho=r)
                cov[name] = float(np.mean(realised <= planned))
            out.update({f"{label} {center} cov{tau} {k}": v for k, v in cov.items()})
            out[f"{label} {center} cov{tau} single"] = single
            line += (f"\n      tau {tau}: single days {single:.3f}; sum covered {cov['0']:.3f} (rho 0), "
                     f"{cov['rho']:.3f} (rho {max(rho, 0):.2f}), {cov['1']:.3f} (rho 1)")
        print(line, flush=True)
    # A closed run: Friday and Sunday (Saturday closed) carried to Monday's first shift, the UK only.
    uk = bt[bt[UNIQUE_ID] == "UK"].set_index(["cutoff", DS])
    keys = [(c, d) for c, d in uk.index if d.dayofweek == 4 and (c, d + pd.Timedelta(days=2)) in uk.index
            and uk.loc[(c, d), Y] > 0 and uk.loc[(c, d + pd.Timedelta(days=2)), Y] > 0]
    if keys:
        fri = uk.loc[keys, cols].to_numpy()
        sun = uk.loc[[(c, d + pd.Timedelta(days=2)) for c, d in keys], cols].to_numpy()
        z1 = uk.loc[keys, "z"].to_numpy()
        z2 = uk.loc[[(c, d + pd.Timedelta(days=2)) for c, d in keys], "z"].to_numpy()
        rho = float(np.corrcoef(z1, z2)[0, 1])
        realised = uk.loc[keys, Y].to_numpy() + uk.loc[[(c, d + pd.Timedelta(days=2)) for c, d in keys], Y].to_numpy()
        line = f"  {label:14s} UK Friday + Sunday: {len(keys)} pairs, rho {rho:+.3f}"
        for tau in TAUS:
            got = [float(np.mean(realised <= quantile_of_days(np.ones((len(keys), 2)), np.stack([fri, sun], axis=1),
                                                              LEVELS, tau, rho=r))) for r in (0.0, max(rho, 0.0), 1.0)]
            line += (f"\n      tau {tau}: covered {got[0]:.3f} (rho 0), {got[1]:.3f} (rho {max(rho, 0):.2f}), "
                     f"{got[2]:.3f} (rho 1)")
        print(line, flush=True)
    return out


def main() -> None:
    from statsforecast.models import AutoETS, SeasonalNaive

    panel = retail_panel()
    panel = panel[panel[DS] >= panel[DS].max() - pd.Timedelta(days=700)]
    for label, model in (("AutoETS", AutoETS(season_length=7)), ("SeasonalNaive", SeasonalNaive(season_length=7))):
        analyse(backtest(panel, model), label)


if __name__ == "__main__":
    main()
