"""The training loop shared by the neural forecasters: Adam, gradient clipping, a
wall-clock budget, deterministic under ``seed``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)


def train(
    net: nn.Module,
    batch_loss: Callable[[nn.Module, np.random.Generator], torch.Tensor],
    epochs: int,
    batches_per_epoch: int,
    learning_rate: float,
    max_train_s: float,
    seed: int,
    name: str = "model",
) -> list[float]:
    """Train ``net`` in place; ``batch_loss(net, rng)`` draws a batch and returns its loss.

    Stops after ``epochs`` epochs or once ``max_train_s`` seconds have passed
    (logged). Returns the mean loss of each epoch.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    deadline = time.perf_counter() + max_train_s
    history: list[float] = []
    net.train()
    for epoch in range(epochs):
        losses = []
        for _ in range(batches_per_epoch):
            optimizer.zero_grad()
            loss = batch_loss(net, rng)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 10.0)
            optimizer.step()
            losses.append(float(loss.detach()))
        scheduler.step()
        history.append(float(np.mean(losses)))
        if time.perf_counter() > deadline:
            log.info("%s: stopped after %d of %d epochs (max_train_s=%.0f)",
                     name, epoch + 1, epochs, max_train_s)
            break
    net.eval()
    return history
