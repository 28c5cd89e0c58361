"""Copies of images that a class ignores: jitter for a classifier standing in for people, and the
invariances a user declares for their data.

`jittered`: shifts of a pixel or two (with empty borders, not wrapped round), strokes drawn a little
thicker or thinner, and faint pixel noise. `translated` (`--invariant shifts`): small shifts with the
background filled in; `mirrored` (`--invariant flips`): the left-right mirror image. An invariance is
an assertion about T, never a default: wrapping a face round the border, or mirroring a letter, makes
a different image (method.recipe). Grey (N, H, W) and colour (N, H, W, C) images alike.
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


# ---------------------------------------------------------------- invariances a user declares
# (ExperimentConfig.shift_mode / augment_flips; GRATING's cyclic shifts stay in method.experiment)

def default_max_shift(height: int, width: int) -> int:
    """How far the non-cyclic shifts of `--invariant shifts` move an image: an eighth of its smaller
    side, at least one pixel (10x10: 1, 28x28: 3, 64x64: 8)."""
    return max(1, min(int(height), int(width)) // 8)


def border_background(images: np.ndarray) -> np.ndarray:
    """Each image's background as its border shows it: the median of its outermost pixels, per channel;
    (N,) for grey images, (N, C) for colour ones."""
    images = np.asarray(images, np.float32)
    border = np.concatenate([images[:, 0], images[:, -1], images[:, 1:-1, 0], images[:, 1:-1, -1]], axis=1)
    return np.median(border, axis=1).astype(np.float32)


def translated(images: np.ndarray, copies: int, rng: np.random.Generator, max_shift: int | None = None) -> np.ndarray:
    """`copies` shifted copies of every image, (copies * N, H, W[, C]): each moved by a random (row, column)
    offset of at most `max_shift` pixels (default: default_max_shift), *not* wrapped round: what is moved
    out is dropped and the uncovered border takes the image's background (border_background). Copy k of
    image i is row k * N + i, as random_cyclic_shifts lays them out."""
    images = np.asarray(images, np.float32)
    n, h, w = images.shape[:3]
    reach = default_max_shift(h, w) if max_shift is None else int(max_shift)
    offsets = rng.integers(-reach, reach + 1, (copies * n, 2))
    background = np.tile(border_background(images), (copies,) + (1,) * (images.ndim - 3))
    out = np.empty((copies * n, *images.shape[1:]), np.float32)
    for row, (dy, dx) in enumerate(offsets):
        out[row] = background[row]
        src = images[row % n]
        out[row, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            src[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def mirrored(images: np.ndarray) -> np.ndarray:
    """Every image mirrored left to right (`--invariant flips`), same shape."""
    return np.ascontiguousarray(np.asarray(images, np.float32)[:, :, ::-1])
