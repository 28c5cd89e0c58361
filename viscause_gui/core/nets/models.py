"""Torch nets: the architectures, building them from a JSON-able spec, predicting with them.

Every net maps images (N, H, W) or (N, H, W, C) to class logits (N, K); its spec's in_shape is
one image's shape. A net is described by a JSON-able
spec dict so that a saved state_dict can be rebuilt without pickle. Training: nets.training.
"""
from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from viscause_gui.core.nets.generative import DEFAULT_CODE, DEFAULT_WIDTHS, ConvAutoencoder


def default_device() -> torch.device:
    """CUDA when the user has it, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def configure_torch_threads(n: int | None) -> None:
    """Small nets on few cores run fastest on one thread; two busy pools fight each other."""
    if n:
        torch.set_num_threads(int(n))


HEAVY_FORWARD_MACS = 1_000_000   # per image; measured on 2 cores (benchmarks/README.md, "Threads"; bench_threads.py)
SAME_RESULT_THREADS = 1          # the default: torch's sums depend on the thread count, a seed's result must not


def available_cores() -> int:
    """The cores this process may run on (a container's or taskset's limit, not the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                                   # not on Linux
        return max(1, os.cpu_count() or 1)


def faster_threads(forward_macs: int, cores: int | None = None) -> int | None:
    """The torch threads that would train a run faster than one thread when its heaviest net takes
    `forward_macs` multiply-adds per image: one per core for nets of at least HEAVY_FORWARD_MACS (64x64
    colour images train about twice as fast on 2 cores); None for smaller nets, whose batches are too
    small to share out, or on one core. Runs keep one thread unless a person asks (SAME_RESULT_THREADS)."""
    cores = cores or available_cores()
    return cores if forward_macs >= HEAVY_FORWARD_MACS and cores > 1 else None


class MLP(nn.Module):
    """Fully connected net: flatten -> hidden layers (ReLU) -> K logits (the paper's net: hidden=[100])."""

    def __init__(self, in_shape: tuple[int, ...], hidden: list[int], n_classes: int):
        super().__init__()
        self.in_shape = tuple(int(v) for v in in_shape)
        sizes = [int(np.prod(in_shape)), *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in itertools.pairwise(sizes):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], n_classes))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def hidden_features(self, x: torch.Tensor) -> torch.Tensor:
        """Activations of the last hidden layer (for maps of the data)."""
        return self.body[:-1](x)


class ConvNet(nn.Module):
    """Small CNN: conv blocks (ReLU, no pooling for tiny images) -> MLP head.

    stride > 1: the first convolution moves that many pixels at a time (a 64x64 image is convolved at
    32x32 from the start, every pixel still seen by a 3x3 kernel): about four times less work per image
    for large images (method.recipe)."""

    def __init__(self, in_shape: tuple[int, ...], channels: list[int], hidden: list[int],
                 n_classes: int, pool: bool = False, stride: int = 1):
        super().__init__()
        self.in_shape = tuple(int(v) for v in in_shape)
        convs: list[nn.Module] = []
        (h, w), c_in = in_shape[:2], (in_shape[2] if len(in_shape) == 3 else 1)
        self.colour = len(in_shape) == 3
        for k, c in enumerate(channels):
            step = stride if k == 0 else 1
            convs += [nn.Conv2d(c_in, c, 3, stride=step, padding=1), nn.ReLU()]
            h, w = -(-h // step), -(-w // step)
            if pool:
                convs.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c_in = c
        self.convs = nn.Sequential(*convs)
        self.head = MLP((c_in, h * w), hidden, n_classes)

    def _planes(self, x: torch.Tensor) -> torch.Tensor:
        """(N, H, W[, C]) -> (N, C, H, W)."""
        return x.permute(0, 3, 1, 2) if self.colour else x.unsqueeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(self._planes(x)))

    def hidden_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.hidden_features(self.convs(self._planes(x)))


def build_net(spec: dict[str, Any]) -> nn.Module:
    """Rebuild a net from its spec, e.g. {"arch": "mlp", "in_shape": [10, 10], "hidden": [100], "n_classes": 2}
    (or the generative model's {"arch": "autoencoder", "in_shape": [28, 28], "code": 16, "widths": [32, 32]})."""
    arch = spec.get("arch", "mlp")
    in_shape = tuple(int(s) for s in spec["in_shape"])
    n_classes = int(spec.get("n_classes", 2))
    if arch == "mlp":
        return MLP(in_shape, [int(h) for h in spec.get("hidden", [100])], n_classes)
    if arch == "cnn":
        return ConvNet(in_shape, [int(c) for c in spec.get("channels", [16, 16])],
                       [int(h) for h in spec.get("hidden", [100])], n_classes, bool(spec.get("pool", False)),
                       int(spec.get("stride", 1)))
    if arch == "autoencoder":
        return ConvAutoencoder(in_shape, int(spec.get("code", DEFAULT_CODE)),
                               tuple(int(w) for w in spec.get("widths", DEFAULT_WIDTHS)))
    raise ValueError(f"unknown net architecture {arch!r} (known: mlp, cnn, autoencoder)")


def as_batch(images: np.ndarray, net: nn.Module) -> np.ndarray:
    """float32 images shaped (N, *in_shape) for `net`: one image, (H, W) or (H, W, C), becomes a batch
    of one. A net that does not say its in_shape takes grey images: (H, W) is one image."""
    images = np.asarray(images, np.float32)
    in_shape = getattr(net, "in_shape", None)
    if in_shape is None:
        return images[None] if images.ndim == 2 else images
    return images.reshape(-1, *in_shape)


def n_outputs(net: nn.Module) -> int:
    """Number of classes the net outputs."""
    last = [m for m in net.modules() if isinstance(m, nn.Linear)][-1]
    return last.out_features


@torch.no_grad()
def predict_proba(net: nn.Module, images: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """Class probabilities (N, K) as float64 numpy."""
    net.eval()
    device = next(net.parameters()).device
    out = []
    for start in range(0, len(images), batch_size):
        x = torch.as_tensor(images[start:start + batch_size], dtype=torch.float32, device=device)
        out.append(torch.softmax(net(x), dim=1).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, n_outputs(net)))


def ensemble_proba(nets: Sequence[nn.Module], images: np.ndarray) -> np.ndarray:
    """Mean class probabilities (N, K) of an ensemble of nets."""
    return np.mean([predict_proba(net, images) for net in nets], axis=0)


@torch.no_grad()
def hidden_features(net: nn.Module, images: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """Activations of the net's last hidden layer (N, units) as float32, a batch at a time."""
    if not isinstance(net, (MLP, ConvNet)):
        raise TypeError(f"a {type(net).__name__} has no hidden layer to read")
    net.eval()
    device = next(net.parameters()).device
    out = []
    for start in range(0, len(images), batch_size):
        x = torch.as_tensor(images[start:start + batch_size], dtype=torch.float32, device=device)
        out.append(net.hidden_features(x).float().cpu().numpy())
    return np.concatenate(out)


def new_net(spec: dict[str, Any], seed: int, device: torch.device | None = None) -> nn.Module:
    """Build a freshly initialised net from a seed (same seed, same weights)."""
    with torch.random.fork_rng(devices=[]):   # leave the caller's global RNG alone
        torch.manual_seed(seed)
        net = build_net(spec)
    return net.to(device or default_device())
