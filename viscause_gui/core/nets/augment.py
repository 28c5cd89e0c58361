"""Jittered copies of images: what a classifier standing in for people should shrug off.

Shifts of a pixel or two (with empty borders, not wrapped round), strokes drawn a little
thicker or thinner, and faint pixel noise. Grey (N, H, W) and colour (N, H, W, C) images alike.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


def jittered(images: np.ndarray, copies: int, seed: int, max_shift: int = 2, noise: float = 0.03) -> np.ndarray:
    """`copies` jittered copies of every image, (copies * N, ...) float32 in [0, 1]."""
    images = np.asarray(images, np.float32)
    rng = np.random.default_rng(seed)
    out = np.tile(images, (copies,) + (1,) * (images.ndim - 1))
    n = len(out)
    shifts = rng.integers(-max_shift, max_shift + 1, (n, 2))
    for i, (dy, dx) in enumerate(shifts):
        out[i] = _shifted(out[i], int(dy), int(dx))
    planes = torch.as_tensor(out if out.ndim == 4 else out[..., None]).permute(0, 3, 1, 2)
    stroke = rng.integers(0, 3, n)       # 0: as drawn, 1: thicker, 2: thinner
    thick = nn.functional.max_pool2d(planes, 3, 1, 1)
    thin = -nn.functional.max_pool2d(-planes, 3, 1, 1)
    blend = 0.5
    pick = torch.as_tensor(stroke).view(-1, 1, 1, 1)
    planes = torch.where(pick == 1, (1 - blend) * planes + blend * thick,
                         torch.where(pick == 2, (1 - blend) * planes + blend * thin, planes))
    out = planes.permute(0, 2, 3, 1).numpy()
    out = out if images.ndim == 4 else out[..., 0]
    out = out + rng.normal(0.0, noise, out.shape).astype(np.float32)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(image)
    h, w = image.shape[:2]
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out
