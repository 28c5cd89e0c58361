"""The Dataset container shared by every layer."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from viscause_gui.core.data.outcomes import (MAX_OUTCOMES, MIN_OUTCOMES, OUTCOMES_KEY, ROW_SUM_TOLERANCE, OutcomeError,
                                             check_names, default_names)

OPTIONAL_ARRAYS = ("p_obs", "t", "obs_class", "causal_class", "labels")
MAX_CHANNELS = 8      # colour images have 2..MAX_CHANNELS channels (last axis); more is not an image


class DatasetError(ValueError):
    """A data file or folder could not be used; the message names it and the problem."""


@dataclass
class Dataset:
    """Images float32 in [0, 1], plus whatever labels exist: grey (N, H, W), 1.0 = ink, or colour
    (N, H, W, C) with 2 <= C <= MAX_CHANNELS channels last, 1.0 = full intensity of a channel
    (C = 3 is RGB; C = 2 is shown as red and green).

    p_obs: P(T=1 | I) per image (N,) for a binary T, or P(T | I) (N, K) over K outcomes; t: observed
    samples of T, outcome indices 0..K-1; obs_class / causal_class: small integer classes; labels: e.g.
    the digit. Any of them may be None.

    outcomes: the names of T's K outcomes (2 <= K <= 20). None: meta["outcomes"] when the data set names
    them, else K from p_obs (N, K) or from t (its largest outcome + 1) with the names "0".."K-1"; a data
    set that says nothing of it has a binary T, ("0", "1").
    """

    images: np.ndarray
    p_obs: np.ndarray | None = None
    t: np.ndarray | None = None
    obs_class: np.ndarray | None = None
    causal_class: np.ndarray | None = None
    labels: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    name: str = "data"
    outcomes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        self.images = validate_images(self.images, self.name)
        n = len(self.images)
        for key in OPTIONAL_ARRAYS:
            value = getattr(self, key)
            if value is None:
                continue
            value = np.asarray(value)
            if key == "p_obs" and value.ndim == 2 and value.shape[0] == n:
                setattr(self, key, _distributions(value, self.name))
                continue
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
        self.outcomes = _outcomes(self)

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
    def n_outcomes(self) -> int:
        """K, the number of T's outcomes (2: a binary T)."""
        return len(self.outcomes or ())

    @property
    def outcome_names(self) -> tuple[str, ...]:
        assert self.outcomes is not None, "__post_init__ sets them"
        return self.outcomes

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
        np.savez_compressed(path, meta=np.array(json.dumps(meta_with_outcomes(self))), **arrays)


def meta_with_outcomes(data: Dataset) -> dict[str, Any]:
    """The data set's meta, naming its outcomes where they are not a binary T's "0" and "1"."""
    names = data.outcome_names
    if names == default_names(2):
        return dict(data.meta)
    return {**data.meta, OUTCOMES_KEY: list(names)}


def labels_as_outcomes(data: Dataset) -> Dataset:
    """A copy whose T is the label: t = the label's index among the sorted labels, K = how many labels there
    are, and the outcomes named after them (a folder's sub-folder names, else the labels themselves)."""
    labels = data.need("labels")
    present = [key for key in ("t", "p_obs", "obs_class") if getattr(data, key) is not None]
    if present:
        raise DatasetError(f"{data.name}: T from the labels, but the data set has its own "
                           f"{', '.join(repr(k) for k in present)}; drop them or leave T as it is")
    values, index = np.unique(labels, return_inverse=True)
    if not MIN_OUTCOMES <= len(values) <= MAX_OUTCOMES:
        raise DatasetError(f"{data.name}: T from the labels needs {MIN_OUTCOMES} to {MAX_OUTCOMES} different labels, "
                           f"this data set has {len(values)}")
    folder = data.meta.get("label_names")
    if values.dtype.kind in "iu" and isinstance(folder, list) and len(folder) > int(values.max()) >= 0 \
            and int(values.min()) >= 0:
        names = [str(folder[int(v)]) for v in values]
    else:
        names = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values.tolist()]
    names = [" ".join(n.split())[:100] or str(i) for i, n in enumerate(names)]
    if len(set(names)) != len(names):
        names = list(default_names(len(values)))
    meta = {**data.meta, OUTCOMES_KEY: list(names)}
    return replace(data, t=index.astype(np.int64), meta=meta, outcomes=tuple(names))


def _distributions(value: np.ndarray, name: str) -> np.ndarray:
    """p_obs (N, K): P(T | I) per image, each row in [0, 1] summing to 1."""
    if value.dtype.kind not in "biuf":
        raise DatasetError(f"{name}: 'p_obs' must be numeric, got dtype {value.dtype}")
    value = value.astype(np.float64)
    if not MIN_OUTCOMES <= value.shape[1] <= MAX_OUTCOMES:
        raise DatasetError(f"{name}: 'p_obs' has shape {value.shape}: (N,) is P(T=1) of a binary T, (N, K) "
                           f"P(T | I) over K = {MIN_OUTCOMES} to {MAX_OUTCOMES} outcomes")
    if not np.all(np.isfinite(value)):
        raise DatasetError(f"{name}: 'p_obs' contains NaN or infinite values")
    if value.min(initial=0) < 0 or value.max(initial=0) > 1:
        raise DatasetError(f"{name}: 'p_obs' must lie in [0, 1]")
    sums = value.sum(axis=1)
    if len(sums) and np.abs(sums - 1).max() > ROW_SUM_TOLERANCE:
        raise DatasetError(f"{name}: each row of 'p_obs' (N, K) is P(T | I) over the K outcomes and must sum to 1 "
                           f"(one sums to {sums[np.argmax(np.abs(sums - 1))]:.6g})")
    return value / sums[:, None]


def _outcomes(data: Dataset) -> tuple[str, ...]:
    """The names of T's outcomes (see Dataset.outcomes), checked against p_obs and t."""
    named = data.outcomes if data.outcomes is not None else data.meta.get(OUTCOMES_KEY) \
        if isinstance(data.meta, dict) else None
    p_obs, t = data.p_obs, data.t
    try:
        names = check_names(named, f"{data.name}: outcomes") if named is not None else None
    except OutcomeError as exc:
        raise DatasetError(str(exc)) from None
    if names is None:
        k = 2
        if p_obs is not None and p_obs.ndim == 2:
            k = p_obs.shape[1]
        elif _outcome_indices(t) and t is not None and len(t) and int(t.max()) >= 2:
            k = int(t.max()) + 1
            if k > MAX_OUTCOMES:
                raise DatasetError(f"{data.name}: 't' holds outcomes up to {k - 1}; T may have at most "
                                   f"{MAX_OUTCOMES} outcomes")
        names = default_names(k)
    k = len(names)
    if p_obs is not None and p_obs.ndim == 2 and p_obs.shape[1] != k:
        raise DatasetError(f"{data.name}: 'p_obs' has {p_obs.shape[1]} columns but T has {k} outcomes "
                           f"({', '.join(names)})")
    if p_obs is not None and p_obs.ndim == 1 and k > 2:
        raise DatasetError(f"{data.name}: 'p_obs' (N,) is P(T=1) of a binary T, but T has {k} outcomes; give "
                           f"P(T | I) as (N, {k})")
    if k > 2 and t is not None and not (_outcome_indices(t) and (not len(t) or int(t.max()) < k)):
        raise DatasetError(f"{data.name}: 't' must hold outcome indices 0 to {k - 1} (T has {k} outcomes: "
                           f"{', '.join(names)})")
    return names


def _outcome_indices(t: np.ndarray | None) -> bool:
    """t holds whole numbers >= 0 (outcome indices)."""
    return t is not None and t.dtype.kind in "biuf" and bool(np.all(t >= 0)) and bool(np.all(t == np.round(t)))


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
