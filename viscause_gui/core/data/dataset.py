"""The Dataset container shared by every layer."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

OPTIONAL_ARRAYS = ("p_obs", "t", "obs_class", "causal_class", "labels")
MAX_CHANNELS = 8      # colour images have 2..MAX_CHANNELS channels (last axis); more is not an image


class DatasetError(ValueError):
    """A data file or folder could not be used; the message names it and the problem."""


@dataclass
class Dataset:
    """Images float32 in [0, 1], plus whatever labels exist: grey (N, H, W), 1.0 = ink, or colour
    (N, H, W, C) with 2 <= C <= MAX_CHANNELS channels last, 1.0 = full intensity of a channel
    (C = 3 is RGB; C = 2 is shown as red and green).

    p_obs: P(T=1 | I) per image; t: observed samples of T; obs_class / causal_class:
    small integer classes; labels: e.g. the digit. Any of them may be None.
    """

    images: np.ndarray
    p_obs: np.ndarray | None = None
    t: np.ndarray | None = None
    obs_class: np.ndarray | None = None
    causal_class: np.ndarray | None = None
    labels: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    name: str = "data"

    def __post_init__(self) -> None:
        self.images = validate_images(self.images, self.name)
        n = len(self.images)
        for key in OPTIONAL_ARRAYS:
            value = getattr(self, key)
            if value is None:
                continue
            value = np.asarray(value)
            if value.shape != (n,):
                raise DatasetError(
                    f"{self.name}: '{key}' has shape {value.shape}, expected ({n},) — one per image"
                )
            if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                raise DatasetError(f"{self.name}: '{key}' contains NaN or infinite values")
            if key in ("p_obs",):
                value = value.astype(np.float64)
                if value.min(initial=0) < 0 or value.max(initial=0) > 1:
                    raise DatasetError(f"{self.name}: '{key}' must lie in [0, 1]")
            setattr(self, key, value)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, ...]:
        """One image's shape: (H, W) grey or (H, W, C) colour (a net's in_shape)."""
        return tuple(self.images.shape[1:])

    @property
    def channels(self) -> int:
        """1 for grey images, else C."""
        return channels_of(self.images)

    @property
    def is_colour(self) -> bool:
        return self.images.ndim == 4

    @property
    def is_binary(self) -> bool:
        return bool(np.all((self.images == 0.0) | (self.images == 1.0)))

    def need(self, key: str) -> np.ndarray:
        """The optional array `key` (one of OPTIONAL_ARRAYS), which the caller cannot do without."""
        value = getattr(self, key)
        if value is None:
            raise DatasetError(f"{self.name}: has no '{key}'")
        return value

    def subset(self, index: np.ndarray) -> Dataset:
        arrays: dict[str, Any] = {k: (None if getattr(self, k) is None else getattr(self, k)[index])
                                  for k in OPTIONAL_ARRAYS}
        return replace(self, images=self.images[index], **arrays, meta=dict(self.meta))

    def save_npz(self, path: str) -> None:
        arrays: dict[str, Any] = {"images": self.images}
        arrays.update({k: getattr(self, k) for k in OPTIONAL_ARRAYS if getattr(self, k) is not None})
        np.savez_compressed(path, meta=np.array(json.dumps(self.meta)), **arrays)


def describe_shape(shape: tuple[int, ...]) -> str:
    """One image's shape in words: '28x28' (grey) or '14x14 with 2 channels'."""
    text = "x".join(str(int(v)) for v in shape[:2])
    return text if len(shape) == 2 else f"{text} with {int(shape[2])} channels"


def channels_of(images: np.ndarray) -> int:
    """Channels of a batch (N, H, W[, C]): 1 for grey."""
    return int(images.shape[3]) if images.ndim == 4 else 1


def validate_images(images: Any, name: str) -> np.ndarray:
    """Return images as float32 (N, H, W) or (N, H, W, C) in [0, 1], or raise DatasetError saying
    what is wrong. A single image (H, W) becomes a batch of one; one channel (N, H, W, 1) is grey."""
    arr = np.asarray(images)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise DatasetError(f"{name}: images must be numeric, got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 4 and arr.shape[3] == 1:
        arr = arr[..., 0]
    if arr.ndim == 4 and not 2 <= arr.shape[3] <= MAX_CHANNELS:
        raise DatasetError(f"{name}: colour images have 2 to {MAX_CHANNELS} channels on the last axis "
                           f"(N, H, W, C), got shape {arr.shape}")
    if arr.ndim not in (3, 4):
        raise DatasetError(f"{name}: images must have shape (N, H, W) or (N, H, W, C), got {arr.shape}")
    if min(arr.shape) == 0:
        raise DatasetError(f"{name}: no images (shape {arr.shape})")
    arr = arr.astype(np.float32, copy=False)
    if not np.all(np.isfinite(arr)):
        raise DatasetError(f"{name}: images contain NaN or infinite values")
    if arr.min() < 0 or arr.max() > 1:
        raise DatasetError(
            f"{name}: image values must lie in [0, 1] (1.0 = ink), got [{arr.min():g}, {arr.max():g}]"
        )
    return np.ascontiguousarray(arr)
