"""Torch nets and the training loop (progress and cancel through a generator).

Every net maps images (N, H, W) to class logits (N, K). A net is described by a JSON-able
spec dict so that a saved state_dict can be rebuilt without pickle.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn

from viscause_gui.core.runtime.foreground import yield_to_foreground


def default_device() -> torch.device:
    """CUDA when the user has it, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def configure_torch_threads(n: int | None) -> None:
    """Small nets on few cores run fastest on one thread; two busy pools fight each other."""
    if n:
        torch.set_num_threads(int(n))


class MLP(nn.Module):
    """Fully connected net: flatten -> hidden layers (ReLU) -> K logits (the paper's net: hidden=[100])."""

    def __init__(self, in_shape: tuple[int, int], hidden: list[int], n_classes: int):
        super().__init__()
        sizes = [int(np.prod(in_shape)), *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], n_classes))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def hidden_features(self, x: torch.Tensor) -> torch.Tensor:
        """Activations of the last hidden layer (for maps of the data)."""
        return self.body[:-1](x)


class ConvNet(nn.Module):
    """Small CNN: conv blocks (ReLU, no pooling for tiny images) -> MLP head."""

    def __init__(self, in_shape: tuple[int, int], channels: list[int], hidden: list[int],
                 n_classes: int, pool: bool = False):
        super().__init__()
        convs: list[nn.Module] = []
        c_in, (h, w) = 1, in_shape
        for c in channels:
            convs += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU()]
            if pool:
                convs.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c_in = c
        self.convs = nn.Sequential(*convs)
        self.head = MLP((c_in, h * w), hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(x.unsqueeze(1)))

    def hidden_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.hidden_features(self.convs(x.unsqueeze(1)))


def build_net(spec: dict[str, Any]) -> nn.Module:
    """Rebuild a net from its spec, e.g. {"arch": "mlp", "in_shape": [10, 10], "hidden": [100], "n_classes": 2}."""
    arch = spec.get("arch", "mlp")
    in_shape = tuple(int(s) for s in spec["in_shape"])
    n_classes = int(spec.get("n_classes", 2))
    if arch == "mlp":
        return MLP(in_shape, [int(h) for h in spec.get("hidden", [100])], n_classes)
    if arch == "cnn":
        return ConvNet(in_shape, [int(c) for c in spec.get("channels", [16, 16])],
                       [int(h) for h in spec.get("hidden", [100])], n_classes, bool(spec.get("pool", False)))
    raise ValueError(f"unknown net architecture {arch!r} (known: mlp, cnn)")


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
                weights: np.ndarray | None, config: TrainConfig) -> "TrainingData":
        gen = torch.Generator().manual_seed(config.seed)
        n = len(images)
        x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
        y = _soft_targets(targets, _n_outputs(net))
        w = torch.ones(n) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
        perm = torch.randperm(n, generator=gen)
        n_val = int(round(n * config.val_fraction)) if n >= 20 else 0
        return cls(gen, x, y, w, perm[n_val:], perm[:n_val])


def train_steps(
    net: nn.Module,
    images: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray | None = None,
    config: TrainConfig | None = None,
    device: torch.device | None = None,
) -> Iterator[TrainProgress]:
    """Train `net` in place, yielding progress after every epoch; stop iterating to cancel.

    targets: int classes (N,) or class probabilities (N, K) (soft labels, e.g. P(T|man(I))).
    weights: per-sample loss weights (e.g. to count oracle answers more than plentiful data).
    Early stopping keeps the weights of the best validation epoch.
    """
    config = config or TrainConfig()
    device = device or next(net.parameters()).device
    d = TrainingData.prepare(net, images, targets, weights, config)
    gen, x, y, w, train_idx, val_idx, n_val = d.gen, d.x, d.y, d.w, d.train_idx, d.val_idx, len(d.val_idx)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    early = EarlyStopping(net, config.patience)
    for epoch in range(1, config.epochs + 1):
        net.train()
        order = train_idx[torch.randperm(len(train_idx), generator=gen)]
        train_loss = run_epoch(opt, order, config.batch_size, lambda b: weighted_cross_entropy(
            net(x[b].to(device)), y[b].to(device), w[b].to(device)))
        val_loss = _eval_loss(net, x[val_idx], y[val_idx], w[val_idx], device) if n_val else train_loss
        stop = early.update(val_loss)
        yield TrainProgress(epoch, config.epochs, train_loss, val_loss, early.best, stop)
        if stop:
            break
    early.restore()


def run_epoch(opt: torch.optim.Optimizer, order: torch.Tensor, batch_size: int,
              batch_loss: Callable[[torch.Tensor], torch.Tensor]) -> float:
    """One optimiser pass over the sample indices `order` in batches; returns the mean loss.

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


def _n_outputs(net: nn.Module) -> int:
    last = [m for m in net.modules() if isinstance(m, nn.Linear)][-1]
    return last.out_features


def weighted_cross_entropy(logits: torch.Tensor, soft: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against soft targets, averaged with per-sample weights."""
    per_sample = -(soft * torch.log_softmax(logits, dim=1)).sum(dim=1)
    return (per_sample * w).sum() / w.sum().clamp_min(1e-12)


@torch.no_grad()
def _eval_loss(net, x, y, w, device) -> float:
    net.eval()
    return float(weighted_cross_entropy(net(x.to(device)), y.to(device), w.to(device)))


@torch.no_grad()
def predict_proba(net: nn.Module, images: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """Class probabilities (N, K) as float64 numpy."""
    net.eval()
    device = next(net.parameters()).device
    out = []
    for start in range(0, len(images), batch_size):
        x = torch.as_tensor(images[start:start + batch_size], dtype=torch.float32, device=device)
        out.append(torch.softmax(net(x), dim=1).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, _n_outputs(net)))


@torch.no_grad()
def hidden_features(net: nn.Module, images: np.ndarray) -> np.ndarray:
    net.eval()
    device = next(net.parameters()).device
    x = torch.as_tensor(images, dtype=torch.float32, device=device)
    return net.hidden_features(x).cpu().numpy()


def new_net(spec: dict[str, Any], seed: int, device: torch.device | None = None) -> nn.Module:
    """Build a freshly initialised net from a seed (same seed, same weights)."""
    with torch.random.fork_rng(devices=[]):   # leave the caller's global RNG alone
        torch.manual_seed(seed)
        net = build_net(spec)
    return net.to(device or default_device())
