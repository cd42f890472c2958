"""TiDE, a global dense encoder-decoder that uses known-future covariates step by step.

The adapter is :class:`~fcplan.models.neural.mlp.MLPQuantile`'s (same samples: scaled
context, its observed flags and covariates, the known-future covariates and holidays of
each target step, the calendar, ``log1p(scale)``; same pinball training across all series
and step budget); only the network differs
(:class:`~fcplan.models.neural.modules.TiDENet`): where the MLP sees the future
covariates as one flat vector, TiDE projects each step's covariates and hands them to
that step's decoder, so a promotion or holiday on step ``k`` moves step ``k``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fcplan.models.neural.mlp import MLPQuantile


class TiDE(MLPQuantile):
    """Global TiDE quantile forecaster (hyperparameters as :class:`MLPQuantile`)."""

    name: ClassVar[str] = "tide"

    def _network(self, n_inputs: int, n_known: int) -> Any:
        from fcplan.models.neural.modules import TiDENet

        p = self.params
        start, _ = self._layout(n_known)
        return TiDENet(n_inputs, p["max_horizon"], len(p["levels"]), start, n_known, self._context(),
                       hidden=p["hidden"], n_layers=p["n_layers"], dropout=p["dropout"])
