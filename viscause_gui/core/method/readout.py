"""The observational model behind the canvas readout: P(T=1 | I) and the observational class.

Qt-free: the GUI runs it in a worker.
`observe_and_train(dataset)` is a generator for a worker: it yields `ObservedClasses` when it
had to estimate the observational classes from samples of T, then the training progress, and
returns an `ObservationalModel` (or None when the data set has no T at all).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
from torch import nn

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.observe import FitCancelled, ObservedClasses, estimate_observational_classes
from viscause_gui.core.nets.models import new_net, predict_proba
from viscause_gui.core.nets.training import TrainConfig, TrainProgress, train_steps

MAX_TRAIN_IMAGES = 10_000   # a readout model: a subsample keeps every epoch short (cancel fast)


@dataclass
class ObsPrediction:
    p_t: np.ndarray           # (N,) P(T=1 | I) by the net
    obs_class: np.ndarray     # (N,) nearest observational class (-1 when the classes are unknown)


class ObservationalModel:
    """A net for P(T=1 | I) plus the P(T=1) level of each observational class."""

    def __init__(self, net: nn.Module, in_shape: tuple[int, ...], classes: np.ndarray, levels: np.ndarray):
        self.net = net
        self.in_shape = tuple(int(s) for s in in_shape)
        self.classes = np.asarray(classes, np.int64)
        self.levels = np.asarray(levels, np.float64)

    def predict(self, images: np.ndarray) -> ObsPrediction:
        images = np.asarray(images, np.float32).reshape(-1, *self.in_shape)
        p_t = predict_proba(self.net, images)[:, 1]
        if not len(self.levels):
            return ObsPrediction(p_t, np.full(len(p_t), -1, np.int64))
        nearest = np.abs(p_t[:, None] - self.levels[None]).argmin(axis=1)
        return ObsPrediction(p_t, self.classes[nearest])


def class_levels(obs_class: np.ndarray | None, p: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Each observational class and its mean P(T=1) (from p_obs or samples of T)."""
    if obs_class is None or p is None:
        return np.zeros(0, np.int64), np.zeros(0)
    classes = np.unique(obs_class)
    levels = np.array([np.mean(p[obs_class == c]) for c in classes], np.float64)
    return classes, levels


def _targets(p_obs: np.ndarray | None, t: np.ndarray | None) -> np.ndarray | None:
    if p_obs is not None:
        return np.stack([1.0 - p_obs, p_obs], axis=1).astype(np.float32)
    return None if t is None else np.asarray(t, np.int64)


def observe_and_train(data: Dataset, seed: int = 0, epochs: int = 15, max_images: int = MAX_TRAIN_IMAGES,
                      cancelled: Callable[[], bool] = lambda: False
                      ) -> Iterator[ObservedClasses | TrainProgress]:
    """Generator: estimate observational classes if needed, then train the readout net.

    Returns the ObservationalModel, or None when the data set has no T or `cancelled()` said so.
    """
    p_obs, obs_class = data.p_obs, data.obs_class
    if obs_class is None:
        try:
            found = estimate_observational_classes(data, seed=seed, cancelled=cancelled)
        except FitCancelled:
            return None
        if found is not None:
            p_obs, obs_class = found.p_obs, found.obs_class
            yield found
    targets = _targets(p_obs, data.t)
    if targets is None or cancelled():
        return None
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(len(data), min(len(data), max_images), replace=False))
    net = new_net({"arch": "mlp", "hidden": [100], "in_shape": list(data.shape), "n_classes": 2}, seed)
    for progress in train_steps(net, data.images[index], targets[index], config=TrainConfig(epochs=epochs, seed=seed)):
        if cancelled():
            return None
        yield progress
    classes, levels = class_levels(obs_class, p_obs if p_obs is not None else data.t)
    return ObservationalModel(net, data.shape, classes, levels)
