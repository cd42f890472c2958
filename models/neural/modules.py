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
        return monotone_levels(self.body(x).view(-1, self.horizon, self.n_levels))


def monotone_levels(raw: torch.Tensor) -> torch.Tensor:
    """``(..., Q)`` raw outputs -> non-decreasing quantiles: a base value plus cumulative
    softplus increments. The softplus runs on a contiguous tensor: on the strided slice
    ``raw[..., 1:]`` torch takes its scalar path, about 10x slower (forward and backward were
    a fifth of a network's training step on a large panel)."""
    base, steps = raw[..., :1], F.softplus(raw[..., 1:].contiguous())
    return torch.cat([base, base + torch.cumsum(steps, dim=-1)], dim=-1)


def _mlp(n_in: int, hidden: int, n_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_out))


class TiDENet(nn.Module):
    """TiDE (Das et al. 2023): ``x (B, F) -> (B, H, Q)``.

    ``x[:, known_start : known_start + H * K]`` holds the known-future covariates of the
    ``H`` target steps (``K`` each); the rest is the past (its first ``context`` columns the
    scaled lags). Covariates are projected step by step to ``proj`` features; a dense
    encoder reads the past and all projected steps; a dense decoder emits one vector per
    step; a temporal decoder maps each step's vector with *that step's* projected
    covariates to its quantiles; a linear skip from the lags adds a baseline per step."""

    def __init__(self, n_inputs: int, horizon: int, n_levels: int, known_start: int, n_known: int, context: int,
                 hidden: int = 64, n_layers: int = 2, proj: int = 4, decoded: int = 8, dropout: float = 0.0) -> None:
        super().__init__()
        self.horizon, self.n_levels, self.context = horizon, n_levels, context
        self.known_start, self.n_known = known_start, n_known
        self.proj = proj if n_known else 0
        self.project = _mlp(n_known, hidden, proj, dropout) if n_known else None
        n_past = n_inputs - horizon * n_known
        layers: list[nn.Module] = []
        width = n_past + horizon * self.proj
        for _ in range(n_layers):
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        self.encoder = nn.Sequential(*layers)
        self.decoder = nn.Linear(hidden, horizon * decoded)
        self.temporal = _mlp(decoded + self.proj, hidden, n_levels, dropout)
        self.skip = nn.Linear(context, horizon)
        self.decoded = decoded

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, end = x.shape[0], self.known_start + self.horizon * self.n_known
        past = torch.cat([x[:, : self.known_start], x[:, end:]], dim=1)
        parts = [past]
        if self.project is not None:
            projected = self.project(x[:, self.known_start : end].view(b, self.horizon, self.n_known))
            parts.append(projected.reshape(b, -1))
        decoded = self.decoder(self.encoder(torch.cat(parts, dim=1))).view(b, self.horizon, self.decoded)
        step_inputs = torch.cat([decoded, projected], dim=-1) if self.project is not None else decoded
        raw = self.temporal(step_inputs) + self.skip(x[:, : self.context]).unsqueeze(-1)
        return monotone_levels(raw)


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
