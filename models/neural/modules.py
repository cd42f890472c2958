"""Pure torch modules and losses of the neural forecasters (no pandas, no numpy).

Shapes: ``B`` batch, ``T`` time steps, ``H`` horizon, ``Q`` quantile levels,
``F`` input features.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class MLPQuantileNet(nn.Module):
    """Multi-horizon quantile MLP: ``x (B, F) -> (B, H, Q)``, non-decreasing along ``Q``
    by construction (a base value plus cumulative softplus increments)."""

    def __init__(self, n_inputs: int, horizon: int, n_levels: int, hidden: int = 64, n_layers: int = 2,
                 dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_inputs
        for _ in range(n_layers):
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, horizon * n_levels))
        self.body = nn.Sequential(*layers)
        self.horizon, self.n_levels = horizon, n_levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raw = self.body(x).view(-1, self.horizon, self.n_levels)
        base, steps = raw[..., :1], F.softplus(raw[..., 1:])
        return torch.cat([base, base + torch.cumsum(steps, dim=-1)], dim=-1)


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                 levels: torch.Tensor) -> torch.Tensor:
    """Mean pinball loss: ``pred (B, H, Q)``, ``target``/``mask`` ``(B, H)``, ``levels (Q,)``."""
    diff = target.unsqueeze(-1) - pred
    loss = torch.maximum(levels * diff, (levels - 1) * diff).mean(dim=-1)
    return (loss * mask).sum() / mask.sum().clamp_min(1.0)


def negbin_log_prob(y: torch.Tensor, mu: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Log-probability of counts ``y`` under a negative binomial with mean ``mu`` and
    dispersion ``alpha`` (variance ``mu + alpha * mu**2``), elementwise, in float64.

    Equals ``scipy.stats.nbinom(n=1/alpha, p=1/(1 + alpha*mu)).logpmf(y)``.
    """
    y, mu, alpha = y.double(), mu.double(), alpha.double()
    r = 1.0 / alpha
    return (
        torch.lgamma(y + r) - torch.lgamma(r) - torch.lgamma(y + 1.0)
        + r * torch.log(r / (r + mu)) + y * torch.log(mu / (r + mu))
    )


def negbin_sample(mu: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Draw counts (Gamma-Poisson mixture) with mean ``mu``, dispersion ``alpha``; same shape."""
    r = 1.0 / alpha
    rate = torch.distributions.Gamma(r, r / mu).sample()
    return torch.poisson(rate)


class DeepARNet(nn.Module):
    """DeepAR recurrent core with a negative-binomial head (Salinas et al. 2020).

    ``forward(inputs (B, T, F), scale (B, 1), state) -> (mu (B, T), alpha (B, T), state)``.
    Inputs are already scaled by ``scale`` (the series' mean in the context, plus 1);
    the head scales back: ``mu = scale * softplus(.)``, ``alpha = softplus(.) / sqrt(scale)``.
    """

    def __init__(self, n_inputs: int, hidden: int = 32, n_layers: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.rnn = nn.GRU(n_inputs, hidden, num_layers=n_layers, batch_first=True,
                          dropout=dropout if n_layers > 1 else 0.0)
        self.head = nn.Linear(hidden, 2)

    def forward(self, inputs: torch.Tensor, scale: torch.Tensor,
                state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out, state = self.rnn(inputs, state)
        raw = self.head(out)
        mu = scale * F.softplus(raw[..., 0]) + 1e-6
        alpha = F.softplus(raw[..., 1]) / scale.sqrt() + 1e-6
        return mu, alpha, state
