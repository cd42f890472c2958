"""The training loop shared by the neural forecasters: Adam, gradient clipping, a
wall-clock budget, deterministic under ``seed``."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)


#: Fewest batches a neural model trains on, however small the panel.
MIN_BATCHES = 30


def step_budget(
    n_windows: int, batch_size: int, epochs: int, batches_per_epoch: int, passes: float | None
) -> tuple[int, int]:
    """``(epochs, batches_per_epoch)`` so that training cost scales with the data.

    ``n_windows`` training windows (samples) are seen about ``passes`` times, at
    least :data:`MIN_BATCHES` batches, and never more than the ``epochs *
    batches_per_epoch`` batches asked for (the cap on big panels). ``passes``
    None keeps the cap.
    """
    cap = max(1, epochs * batches_per_epoch)
    if passes is None:
        return epochs, batches_per_epoch
    want = max(MIN_BATCHES, math.ceil(passes * n_windows / max(batch_size, 1)))
    total = min(cap, want)
    n_epochs = max(1, min(epochs, math.ceil(total / max(batches_per_epoch, 1))))
    return n_epochs, math.ceil(total / n_epochs)


class Adam:
    """Adam (Kingma and Ba), torch's single-tensor algorithm with its defaults (betas 0.9 and
    0.999, eps 1e-8, no weight decay), and a cosine-annealed learning rate over ``epochs``.
    Hand-written because constructing ``torch.optim.Adam`` imports ``torch._dynamo``
    (about 2 s, once per process: most of a small panel's network fit)."""

    def __init__(self, params: list[nn.Parameter], learning_rate: float, epochs: int,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.base_lr, self.lr, self.epochs = learning_rate, learning_rate, max(epochs, 1)
        self.betas, self.eps, self.steps = betas, eps, 0
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        self.steps += 1
        step_size = self.lr / (1 - beta1**self.steps)
        correction2_sqrt = (1 - beta2**self.steps) ** 0.5
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        params = [self.params[i] for i in live]
        grads = [p.grad for p in params]
        means = [self.moments[i][0] for i in live]
        squares = [self.moments[i][1] for i in live]
        # the single-tensor algorithm's operations, each on all the tensors in one call
        torch._foreach_lerp_(means, grads, 1 - beta1)
        torch._foreach_mul_(squares, beta2)
        torch._foreach_addcmul_(squares, grads, grads, value=1 - beta2)
        denominators = torch._foreach_sqrt(squares)
        torch._foreach_div_(denominators, correction2_sqrt)
        torch._foreach_add_(denominators, self.eps)
        torch._foreach_addcdiv_(params, means, denominators, value=-step_size)

    def end_epoch(self, epoch: int) -> None:
        """The learning rate for the epoch after ``epoch`` (0-based): cosine from the base to 0."""
        self.lr = self.base_lr * (1 + math.cos(math.pi * (epoch + 1) / self.epochs)) / 2


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
    parameters = list(net.parameters())
    optimizer = Adam(parameters, learning_rate, epochs)
    deadline = time.perf_counter() + max_train_s
    history: list[float] = []
    net.train()
    for epoch in range(epochs):
        losses = []
        for _ in range(batches_per_epoch):
            optimizer.zero_grad()
            loss = batch_loss(net, rng)
            loss.backward()
            nn.utils.clip_grad_norm_(parameters, 10.0)
            optimizer.step()
            losses.append(float(loss.detach()))
        optimizer.end_epoch(epoch)
        history.append(float(np.mean(losses)))
        if time.perf_counter() > deadline:
            log.info("%s: stopped after %d of %d epochs (max_train_s=%.0f)", name, epoch + 1, epochs, max_train_s)
            break
    net.eval()
    return history


def fit_network(net: nn.Module, batch_loss: Callable, n_windows: int, params: dict, name: str) -> list[float]:
    """Train ``net`` for the step budget that ``n_windows`` training windows and the
    model's parameters (batch_size, epochs, batches_per_epoch, passes,
    learning_rate, max_train_s, seed) allow; returns the loss history."""
    epochs, batches = step_budget(
        n_windows, params["batch_size"], params["epochs"], params["batches_per_epoch"], params["passes"]
    )
    return train(net, batch_loss, epochs, batches, params["learning_rate"], params["max_train_s"], params["seed"], name)
