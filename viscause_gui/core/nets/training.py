"""Training routines: progress and cancel through a generator, early stopping, robust training.

Every routine has the signature of `train_steps` (net, images, targets, weights, config, device)
and yields a `TrainProgress` after each epoch; stop iterating to cancel. The Experiment takes any
of them as its train_fn (the training process runs them in a child process).
"""
from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from viscause_gui.core.nets.generative import ConvAutoencoder
from viscause_gui.core.nets.models import n_outputs
from viscause_gui.core.system.foreground import yield_to_foreground

R = TypeVar("R")
TrainFn = Callable[..., Iterator["TrainProgress"]]   # the signature of train_steps


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 0.0
    val_fraction: float = 0.1
    patience: int = 5
    seed: int = 0


@dataclass
class TrainProgress:
    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    best_val_loss: float
    stopped_early: bool = False


class EarlyStopping:
    """Keeps the weights of the best validation epoch; says stop after `patience` epochs without one."""

    def __init__(self, net: nn.Module, patience: int):
        self.net, self.patience = net, patience
        self.best, self.bad_epochs = float("inf"), 0
        self.best_state: dict[str, torch.Tensor] | None = None

    def update(self, val_loss: float) -> bool:
        """Record an epoch's validation loss; True when training should stop."""
        if val_loss < self.best - 1e-6:
            self.best, self.bad_epochs = val_loss, 0
            self.best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience

    def restore(self) -> None:
        """Put the best epoch's weights back and leave the net in eval mode."""
        if self.best_state is not None:
            self.net.load_state_dict(self.best_state)
        self.net.eval()


def _soft_targets(targets: np.ndarray, n_classes: int) -> torch.Tensor:
    targets = np.asarray(targets)
    if targets.ndim == 1:
        out = np.zeros((len(targets), n_classes), np.float32)
        out[np.arange(len(targets)), targets.astype(np.int64)] = 1.0
        return torch.from_numpy(out)
    return torch.as_tensor(targets, dtype=torch.float32)


@dataclass
class TrainingData:
    """Tensors of one training run and its seeded train / validation split."""

    gen: torch.Generator
    x: torch.Tensor
    y: torch.Tensor          # soft targets (N, K)
    w: torch.Tensor          # per-sample loss weights (N,)
    train_idx: torch.Tensor
    val_idx: torch.Tensor

    @classmethod
    def prepare(cls, net: nn.Module, images: np.ndarray, targets: np.ndarray,
                weights: np.ndarray | None, config: TrainConfig) -> TrainingData:
        gen = torch.Generator().manual_seed(config.seed)
        n = len(images)
        x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
        y = _soft_targets(targets, n_outputs(net))
        w = torch.ones(n) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
        perm = torch.randperm(n, generator=gen)
        n_val = round(n * config.val_fraction) if n >= 20 else 0
        return cls(gen, x, y, w, perm[n_val:], perm[:n_val])


def train_steps(
    net: nn.Module,
    images: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray | None = None,
    config: TrainConfig | None = None,
    device: torch.device | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Generator[TrainProgress, None, None]:
    """Train `net` in place, yielding progress after every epoch; stop iterating to cancel, or
    give `cancelled`, asked after every batch (an epoch on much data takes seconds).

    targets: int classes (N,) or class probabilities (N, K) (soft labels, e.g. P(T|man(I))).
    weights: per-sample loss weights (e.g. to count oracle answers more than plentiful data).
    Early stopping keeps the weights of the best validation epoch. A generative model
    (nets.generative.ConvAutoencoder) learns to reconstruct the images instead (train_autoencoder),
    so one routine, in-process or in the training process, trains every net of the project.
    """
    if isinstance(net, ConvAutoencoder):
        yield from train_autoencoder(net, images, targets, weights, config, device)
        return
    config = config or TrainConfig()
    device = device or next(net.parameters()).device
    d = TrainingData.prepare(net, images, targets, weights, config)
    gen, x, y, w, train_idx, val_idx, n_val = d.gen, d.x, d.y, d.w, d.train_idx, d.val_idx, len(d.val_idx)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    yield from epochs(net, config, gen, train_idx, opt, lambda b: weighted_cross_entropy(
        net(x[b].to(device)), y[b].to(device), w[b].to(device)),
        (lambda: _eval_loss(net, x[val_idx], y[val_idx], w[val_idx], device)) if n_val else None, cancelled)


def epochs(net: nn.Module, config: TrainConfig, gen: torch.Generator, train_idx: torch.Tensor,
           opt: torch.optim.Optimizer, batch_loss: Callable[[torch.Tensor], torch.Tensor],
           validation: Callable[[], float] | None,
           cancelled: Callable[[], bool] | None = None) -> Iterator[TrainProgress]:
    """The epoch loop every routine shares: shuffle, one pass (run_epoch), the validation loss
    (None: the training loss), early stopping; progress after each epoch; the best weights at the end.
    `cancelled()` true ends it between two batches, with no further progress."""
    early = EarlyStopping(net, config.patience)
    for epoch in range(1, config.epochs + 1):
        net.train()
        order = train_idx[torch.randperm(len(train_idx), generator=gen)]
        train_loss = run_epoch(opt, order, config.batch_size, batch_loss, cancelled)
        if cancelled is not None and cancelled():
            return
        val_loss = validation() if validation is not None else train_loss
        stop = early.update(val_loss)
        yield TrainProgress(epoch, config.epochs, train_loss, val_loss, early.best, stop)
        if stop:
            break
    early.restore()


def run_epoch(opt: torch.optim.Optimizer, order: torch.Tensor, batch_size: int,
              batch_loss: Callable[[torch.Tensor], torch.Tensor], cancelled: Callable[[], bool] | None = None) -> float:
    """One optimiser pass over the sample indices `order` in batches (ended early when `cancelled()`);
    returns the mean loss.

    Between batches the loop lets the GUI thread go first when one is busy (core.foreground).
    """
    total = 0.0
    for start in range(0, len(order), batch_size):
        b = order[start:start + batch_size]
        loss = batch_loss(b)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += float(loss.detach()) * len(b)
        yield_to_foreground()
        if cancelled is not None and cancelled():
            break
    return total / max(len(order), 1)


def train_classifier(net: nn.Module, images: np.ndarray, targets: np.ndarray,
                     weights: np.ndarray | None = None, config: TrainConfig | None = None,
                     progress: Callable[[TrainProgress], bool | None] | None = None) -> list[TrainProgress]:
    """Run train_steps to the end; `progress` may return True to cancel."""
    history = []
    for p in train_steps(net, images, targets, weights, config):
        history.append(p)
        if progress is not None and progress(p):
            break
    net.eval()
    return history


def weighted_cross_entropy(logits: torch.Tensor, soft: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against soft targets, averaged with per-sample weights."""
    per_sample = -(soft * torch.log_softmax(logits, dim=1)).sum(dim=1)
    return (per_sample * w).sum() / w.sum().clamp_min(1e-12)


@torch.no_grad()
def _eval_loss(net, x, y, w, device) -> float:
    net.eval()
    return float(weighted_cross_entropy(net(x.to(device)), y.to(device), w.to(device)))


class RobustTraining:
    """Robust training: each batch with L2-bounded adversarial copies of itself (drop-in for train_steps).

    Each batch is trained together with adversarial copies of itself: the L2 change of at most
    `radius` (found by `attack_steps` of projected gradient ascent, kept in [0, 1]) that most
    raises the batch's loss, with the original labels. It is an invariance the experimenter
    asserts ("a change this small does not change T"); an experiment chooses it through
    ExperimentConfig.adversarial_radius (the MNIST recipe does: without it a one-vs-all net
    flips on changes no person would notice, and the manipulator's changes are noise the
    oracle rejects). Early stopping watches the loss on adversarial copies of the validation
    images.
    """

    def __init__(self, radius: float = 2.5, attack_steps: int = 5):
        self.radius = float(radius)
        self.attack_steps = int(attack_steps)

    def to_json(self) -> dict[str, Any]:
        return {"recipe": "l2_adversarial", "radius": self.radius, "attack_steps": self.attack_steps}

    def attack(self, net: nn.Module, x: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
        """x moved by at most `radius` (L2) to raise the cross-entropy against `soft` most."""
        if self.radius <= 0 or self.attack_steps <= 0:
            return x
        was_training = net.training
        net.eval()
        view = (len(x),) + (1,) * (x.dim() - 1)
        step = 2.5 * self.radius / self.attack_steps
        delta = torch.zeros_like(x)
        for _ in range(self.attack_steps):
            with torch.enable_grad():
                d = delta.requires_grad_(True)
                loss = -(soft * torch.log_softmax(net(x + d), dim=1)).sum()
                (grad,) = torch.autograd.grad(loss, d)
            g_norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(view)
            delta = delta.detach() + step * grad / g_norm
            norm = delta.flatten(1).norm(dim=1).clamp_min(1e-12).view(view)
            delta = delta * (self.radius / norm).clamp(max=1.0)
            delta = (x + delta).clamp(0.0, 1.0) - x
        net.train(was_training)
        return (x + delta).detach()

    def _robust_loss(self, net: nn.Module, xb: torch.Tensor, yb: torch.Tensor, wb: torch.Tensor) -> torch.Tensor:
        """Half the loss on the batch, half on its adversarial copies."""
        xa = self.attack(net, xb, yb)
        return 0.5 * (weighted_cross_entropy(net(xb), yb, wb) + weighted_cross_entropy(net(xa), yb, wb))

    def __call__(self, net: nn.Module, images: np.ndarray, targets: np.ndarray,
                 weights: np.ndarray | None = None, config: TrainConfig | None = None,
                 device: torch.device | None = None) -> Iterator[TrainProgress]:
        config = config or TrainConfig()
        device = device or next(net.parameters()).device
        d = TrainingData.prepare(net, images, targets, weights, config)
        gen, x, y, w, train_idx, val_idx, n_val = d.gen, d.x, d.y, d.w, d.train_idx, d.val_idx, len(d.val_idx)
        opt = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)

        def loss_of(xb, yb, wb):
            return weighted_cross_entropy(net(xb), yb, wb)

        def validation() -> float:
            xv, yv, wv = x[val_idx].to(device), y[val_idx].to(device), w[val_idx].to(device)
            xva = self.attack(net, xv, yv)
            net.eval()
            with torch.no_grad():
                return float(0.5 * (loss_of(xv, yv, wv) + loss_of(xva, yv, wv)))

        yield from epochs(net, config, gen, train_idx, opt, lambda b: self._robust_loss(
            net, x[b].to(device), y[b].to(device), w[b].to(device)), validation if n_val else None)


def map_yields(steps: Generator[Any, None, R], wrap: Callable[[Any], Any]) -> Generator[Any, None, R]:
    """The generator `steps` with each item it yields passed through `wrap`; returns its value
    (e.g. training progress wrapped in events, the trained net at the end)."""
    while True:
        try:
            item = next(steps)
        except StopIteration as stop:
            return stop.value
        yield wrap(item)


def run_to_end(steps: Generator[Any, None, R]) -> R:
    """Exhaust a generator and give its return value (a trainer's net or oracle)."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


GENERATIVE_EPOCHS = 30
GENERATIVE_IMAGE_PASSES = 120_000   # at most this many images seen in its training (30 epochs of 4,000)
GENERATIVE_MIN_EPOCHS = 5


def generative_config(seed: int = 0, epochs: int = GENERATIVE_EPOCHS, n_images: int | None = None) -> TrainConfig:
    """How the generative model trains by default (Adam 2e-3, batches of 64, early stopping):
    `epochs`, fewer for many images (a larger data set needs fewer passes over it; 10,000
    images: 12 epochs), at least GENERATIVE_MIN_EPOCHS."""
    if n_images:
        epochs = min(epochs, max(GENERATIVE_MIN_EPOCHS, GENERATIVE_IMAGE_PASSES // int(n_images)))
    return TrainConfig(epochs=epochs, batch_size=64, lr=2e-3, patience=4, seed=seed)


def train_autoencoder(net: ConvAutoencoder, images: np.ndarray, targets: np.ndarray | None = None,
                      weights: np.ndarray | None = None, config: TrainConfig | None = None,
                      device: torch.device | None = None) -> Iterator[TrainProgress]:
    """Train the autoencoder to reconstruct `images` (binary cross-entropy per value), yielding
    progress after each epoch; stop iterating to cancel. Same signature as train_steps
    (`targets` and `weights` are not used: the images are their own targets)."""
    config = config or generative_config()
    device = device or next(net.parameters()).device
    gen = torch.Generator().manual_seed(config.seed)
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    n = len(x)
    perm = torch.randperm(n, generator=gen)
    n_val = round(n * config.val_fraction) if n >= 20 else 0
    train_idx, val_idx = perm[n_val:], perm[:n_val]
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    def loss_of(xb: torch.Tensor) -> torch.Tensor:
        return nn.functional.binary_cross_entropy_with_logits(net.decode_logits(net.encode(xb)), xb)

    @torch.no_grad()
    def validation() -> float:
        net.eval()
        return float(loss_of(x[val_idx].to(device)))

    yield from epochs(net, config, gen, train_idx, opt, lambda b: loss_of(x[b].to(device)),
                      validation if n_val else None)
