"""Independent judges of manipulated digits, for the MNIST benchmark only (the loop never sees them).

- `JudgeCNN`: a digit classifier of an architecture the loop does not use (3x3 convolutions
  32-64-64, two poolings, a 128-unit head), other seeds, trained with its own augmentation
  (random shifts of up to 2 pixels, small rotations and scalings, pixel noise).
- `nearest_neighbour_labels`: the majority label of the 5 nearest real digits (L2): a judge
  with no learned weights at all.
- `Realism`: checks that separate real digits from smudged ones, each calibrated on real
  held-out digits (0.5th to 99.5th percentile): the reconstruction error of an independent
  autoencoder (its own seed and code size), the share of ink drawn in mid-grey (smudges are
  grey, strokes are dark with thin grey edges) and the total ink. An image is realistic when
  it passes all three.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from viscause_gui.core.nets.generative import autoencoder_spec, reconstruction_error
from viscause_gui.core.nets.models import new_net, predict_proba
from viscause_gui.core.nets.training import TrainConfig, generative_config, train_autoencoder, train_steps

INK = 0.15                  # a value above this is ink
MID_GREY = (0.15, 0.85)     # ink in this band is grey


class JudgeCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.unsqueeze(1))


def augmented(images: np.ndarray, copies: int, seed: int) -> np.ndarray:
    """`copies` jittered copies of each image: shift <= 2 px, rotation <= 12 degrees, scale 0.9-1.1, noise."""
    rng = np.random.default_rng(seed)
    x = torch.as_tensor(np.tile(images, (copies, 1, 1)))[:, None]
    n = len(x)
    angle = torch.as_tensor(rng.uniform(-0.21, 0.21, n), dtype=torch.float32)
    scale = torch.as_tensor(rng.uniform(0.9, 1.1, n), dtype=torch.float32)
    shift = torch.as_tensor(rng.uniform(-2 / 14, 2 / 14, (n, 2)), dtype=torch.float32)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = torch.cos(angle) / scale, -torch.sin(angle) / scale
    theta[:, 1, 0], theta[:, 1, 1] = torch.sin(angle) / scale, torch.cos(angle) / scale
    theta[:, :, 2] = shift
    grid = nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    out = nn.functional.grid_sample(x, grid, align_corners=False)[:, 0]
    out = out + torch.as_tensor(rng.normal(0, 0.05, out.shape), dtype=torch.float32)
    return out.clamp(0, 1).numpy()


def train_judge(images: np.ndarray, labels: np.ndarray, seed: int = 4242, epochs: int = 6) -> nn.Module:
    torch.manual_seed(seed)
    net = JudgeCNN()
    x = np.concatenate([images, augmented(images, 2, seed)])
    y = np.tile(labels, 3)
    for _ in train_steps(net, x, y, None, TrainConfig(epochs=epochs, lr=1e-3, batch_size=64, patience=2,
                                                      seed=seed)):
        pass
    return net.eval()


def judge_labels(judge: nn.Module, images: np.ndarray) -> np.ndarray:
    return predict_proba(judge, np.asarray(images, np.float32)).argmax(1)


def nearest_neighbour_labels(images: np.ndarray, pool: np.ndarray, pool_labels: np.ndarray, k: int = 5) -> np.ndarray:
    q = np.asarray(images, np.float32).reshape(len(images), -1)
    p = np.asarray(pool, np.float32).reshape(len(pool), -1)
    sq = (p ** 2).sum(1)
    out = np.zeros(len(q), np.int64)
    for lo in range(0, len(q), 512):
        d2 = sq[None] - 2 * q[lo:lo + 512] @ p.T
        nearest = np.argpartition(d2, k, axis=1)[:, :k]
        votes = pool_labels[nearest]
        out[lo:lo + 512] = [np.bincount(v, minlength=10).argmax() for v in votes]
    return out


def ink_statistics(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(share of ink in mid-grey, total ink) per image."""
    x = np.asarray(images, np.float64).reshape(len(images), -1)
    ink = x > INK
    grey = ink & (x < MID_GREY[1])
    return grey.sum(1) / np.maximum(ink.sum(1), 1), x.sum(1)


@dataclass
class Realism:
    autoencoder: nn.Module
    bounds: dict[str, tuple[float, float]]

    @classmethod
    def calibrate(cls, train_images: np.ndarray, real_images: np.ndarray, seed: int = 777) -> Realism:
        ae = new_net(autoencoder_spec(train_images.shape[1:], code=24), seed)
        for _ in train_autoencoder(ae, train_images, config=generative_config(seed, epochs=15)):
            pass
        ae.eval()
        scores = cls.scores_of(ae, real_images)
        bounds = {k: (float(np.percentile(v, 0.5)), float(np.percentile(v, 99.5))) for k, v in scores.items()}
        return cls(ae, bounds)

    @staticmethod
    def scores_of(ae: nn.Module, images: np.ndarray) -> dict[str, np.ndarray]:
        grey, ink = ink_statistics(images)
        return {"reconstruction": reconstruction_error(ae, images), "grey_share": grey, "ink": ink}

    def checks(self, images: np.ndarray) -> dict[str, np.ndarray]:
        scores = self.scores_of(self.autoencoder, images)
        return {k: (v >= self.bounds[k][0]) & (v <= self.bounds[k][1]) for k, v in scores.items()}

    def realistic(self, images: np.ndarray) -> np.ndarray:
        return np.logical_and.reduce(list(self.checks(images).values()))
