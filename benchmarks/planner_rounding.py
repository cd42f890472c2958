"""How close the planner's whole-packer choice and overnight quantile come to the exact answer.

Small crews are where rounding matters (a night shift of 1 to 7 packers); staffing_cost.py plans
one 24-hour shift of hundreds of packer-hours, where it never does. Demand of one shift in
packer units is normal ``N(m, (cv m)^2)``, known to the planner only through the default forecast
levels (0.05 ... 0.95, linear between them, clamped outside). Printed, in the same run:

- whole packers: :func:`fcplan.planner.staffing.cheapest_headcount` (floor or ceiling of the
  newsvendor need by expected cost on the interpolated quantiles) against the exact optimum
  (the cheaper of floor and ceiling under the true normal) and against always rounding up;
  expected cost summed over ``m`` in 0.5 .. 6 and cv 0.15 / 0.3 / 0.5 at cost_short:cost_idle = 3:1;
- overnight orders: :func:`fcplan.planner.quantile_sum.quantile_of_sum` of ``0.25 X + 0.75 Y``
  (X, Y independent N(100, 10)) against the exact normal quantile and the sum of quantiles.

Last line: one JSON object. Runs in a second: ``python benchmarks/planner_rounding.py``.
"""

from __future__ import annotations

import json

import numpy as np
from scipy.stats import norm

from fcplan.planner.quantile_sum import quantile_of_sum, sum_samples
from fcplan.planner.staffing import cheapest_headcount, interpolate_quantile

LEVELS = np.array([0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
COST_SHORT, COST_IDLE = 3.0, 1.0


def expected_cost(n: float, m: float, s: float) -> float:
    """``E[cost_short (D - n)^+ + cost_idle (n - D)^+]`` for ``D ~ N(m, s^2)``."""
    z = (n - m) / s
    loss = s * (norm.pdf(z) - z * norm.sf(z))
    return COST_SHORT * loss + COST_IDLE * (loss + n - m)


def rounding() -> dict:
    tau = COST_SHORT / (COST_SHORT + COST_IDLE)
    total = {"fcplan": 0.0, "exact": 0.0, "ceil": 0.0}
    differ = cases = 0
    for m in np.linspace(0.5, 6.0, 56):
        for cv in (0.15, 0.3, 0.5):
            s = m * cv
            q = norm.ppf(LEVELS, m, s)[None, :]
            need = interpolate_quantile(q, LEVELS, tau)
            ours = int(cheapest_headcount(sum_samples(1.0, q, 0.0, q, LEVELS), np.array([1.0]), need,
                                          COST_SHORT, COST_IDLE, 0)[0])
            exact = min((int(np.floor(need[0])), int(np.ceil(need[0]))), key=lambda k: expected_cost(k, m, s))
            total["fcplan"] += expected_cost(ours, m, s)
            total["exact"] += expected_cost(exact, m, s)
            total["ceil"] += expected_cost(np.ceil(need[0] - 1e-9), m, s)
            differ += ours != exact
            cases += 1
    return {"cases": cases, "choices_off_exact": differ, "cost_vs_exact": total["fcplan"] / total["exact"],
            "ceil_cost_vs_exact": total["ceil"] / total["exact"]}


def overnight() -> dict:
    q = norm.ppf(LEVELS, 100.0, 10.0)[None, :]
    out = {}
    for tau in (0.75, 0.9, 0.95):
        exact = 100.0 + norm.ppf(tau) * 10.0 * np.sqrt(0.25**2 + 0.75**2)
        ours = float(quantile_of_sum(0.25, q, 0.75, q, LEVELS, tau)[0])
        out[f"tau_{tau}"] = {"fcplan": round(ours, 2), "exact": round(exact, 2),
                             "sum_of_quantiles": round(100.0 + norm.ppf(tau) * 10.0, 2)}
    return out


def main() -> None:
    r, o = rounding(), overnight()
    print(f"whole packers, {r['cases']} small-crew cases at 3:1: fcplan's choice differs from the exact optimum in "
          f"{r['choices_off_exact']}; expected cost {r['cost_vs_exact']:.4f} x exact (always ceil: "
          f"{r['ceil_cost_vs_exact']:.4f} x exact)")
    for tau, v in o.items():
        print(f"overnight 0.25 X + 0.75 Y, {tau}: fcplan {v['fcplan']}, exact {v['exact']}, "
              f"sum of quantiles {v['sum_of_quantiles']}")
    print(json.dumps({"rounding": r, "overnight": o}))


if __name__ == "__main__":
    main()
