"""The observational model behind the canvas readout: P(T=1 | I) and the observational class.

Qt-free: the GUI runs it in a worker.
`observe_and_train(dataset)` is a generator for a worker: it yields `ObservedClasses` when it
had to estimate the observational classes from samples of T, then the training progress, and
returns an `ObservationalModel` (or None when the data set has no T at all). The model is a net
for the observational class, trained on every image and the copies the data set declares the
same, with, on binary images, the check of core.method.ink_patterns.
"""
from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
from torch import nn

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.data.outcomes import distance, one_hot
from viscause_gui.core.method.experiment import random_cyclic_shifts
from viscause_gui.core.method.ink_patterns import InkPatterns, learn_ink_patterns
from viscause_gui.core.method.observe import FitCancelled, ObservedClasses, estimate_observational_classes
from viscause_gui.core.method.recipe import CYCLIC_SHIFTS
from viscause_gui.core.nets.models import new_net, predict_proba
from viscause_gui.core.nets.training import TrainConfig, TrainProgress, train_steps

MAX_TRAIN_IMAGES = 10_000   # a readout model: a subsample keeps every epoch short (cancel fast)
TRAIN_STEPS = 600           # optimiser steps to aim for: 150 epochs of 2,000 images, 30 of 10,000
MIN_EPOCHS, MAX_EPOCHS = 5, 200
PATIENCE = 20               # epochs without a better validation loss before training stops
MAX_CLASSES = 16            # more observational classes than this: the net learns P(T=1 | I) itself
BATCH_SIZE = 512            # large batches: in the app each batch also waits for the GUI thread
LEARNING_RATE = 1e-2
SHIFT_COPIES = 10           # cyclic shifts of every image, where the data set declares T blind to them
MAX_COPY_VALUES = 50_000_000  # at most this many float32 values in the copies (200 MB): fewer copies of large images


@dataclass
class ObsPrediction:
    p_t: np.ndarray           # (N,) P(T=1 | I) by the net; over K > 2 outcomes P(T | I), (N, K)
    obs_class: np.ndarray     # (N,) the observational class (-1 when the classes are unknown)


class ObservationalModel:
    """A net for the observational class of an image, each class with its P(T=1) level.

    `reads_classes`: the net's outputs are the classes (P(T=1 | I) = sum over classes of
    P(class | I) * level); otherwise they are T's outcomes and the class is the one with the nearest level.
    Over K > 2 outcomes a level is a distribution (C, K) and "nearest" is in total variation.
    `patterns`: for binary images whose classes are exact ink patterns, the check that takes out of a
    class an image lacking its ink (core.method.ink_patterns); None: the net answers alone.
    """

    def __init__(self, net: nn.Module, in_shape: tuple[int, ...], classes: np.ndarray, levels: np.ndarray,
                 reads_classes: bool = False, patterns: InkPatterns | None = None):
        self.net = net
        self.in_shape = tuple(int(s) for s in in_shape)
        self.classes = np.asarray(classes, np.int64)
        self.levels = np.asarray(levels, np.float64)
        self.reads_classes = bool(reads_classes)
        self.patterns = patterns if self.reads_classes else None

    def predict(self, images: np.ndarray) -> ObsPrediction:
        images = np.asarray(images, np.float32).reshape(-1, *self.in_shape)
        proba = predict_proba(self.net, images)
        if self.reads_classes:
            if self.patterns is not None:
                proba = self.patterns.restrict(images, proba)
            return ObsPrediction(proba @ self.levels, self.classes[proba.argmax(axis=1)])
        p_t = proba[:, 1] if proba.shape[1] == 2 else proba.astype(np.float64)
        if not len(self.levels):
            return ObsPrediction(p_t, np.full(len(p_t), -1, np.int64))
        if p_t.ndim == 1:
            nearest = np.abs(p_t[:, None] - self.levels[None]).argmin(axis=1)
        else:
            nearest = distance(p_t[:, None], self.levels[None]).argmin(axis=1)
        return ObsPrediction(p_t, self.classes[nearest])


def class_levels(obs_class: np.ndarray | None, p: np.ndarray | None, outcomes: int = 2
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Each observational class and its mean P(T=1) (from p_obs or samples of T); over K = `outcomes` > 2
    outcomes its mean distribution, (C, K) (samples of T counted as one-hot rows)."""
    if obs_class is None or p is None:
        return np.zeros(0, np.int64), np.zeros(0)
    if outcomes > 2 and np.ndim(p) == 1:
        p = one_hot(p, outcomes)
    classes = np.unique(obs_class)
    levels = np.array([np.mean(p[obs_class == c], axis=0) for c in classes], np.float64)
    return classes, levels


def _targets(p_obs: np.ndarray | None, t: np.ndarray | None) -> np.ndarray | None:
    """What the net learns when it learns T: soft labels (N, K) from P(T | I), or the outcomes (N,)."""
    if p_obs is not None:
        if p_obs.ndim == 2:
            return p_obs.astype(np.float32)
        return np.stack([1.0 - p_obs, p_obs], axis=1).astype(np.float32)
    return None if t is None else np.asarray(t, np.int64)


def declared_copies(data: Dataset, images: np.ndarray, targets: np.ndarray, seed: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The images and targets plus SHIFT_COPIES random cyclic shifts of each (fewer where they would pass
    MAX_COPY_VALUES), where the data set declares
    (meta "invariances", e.g. GRATING's) that T ignores them: every bar is then seen at every row and
    column, and a rare line of noise pixels in many places."""
    copies = min(SHIFT_COPIES, MAX_COPY_VALUES // max(1, images.size))
    if CYCLIC_SHIFTS not in (data.meta or {}).get("invariances", ()) or copies < 1:
        return images, targets
    shifted = random_cyclic_shifts(images, copies, np.random.default_rng(seed))
    return np.concatenate([images, shifted]), np.concatenate([targets] * (copies + 1))


def readout_epochs(n_train: int, batch_size: int = BATCH_SIZE) -> int:
    """Epochs for about TRAIN_STEPS optimiser steps over `n_train` images, within MIN_EPOCHS..MAX_EPOCHS."""
    batches = max(1, -(-int(n_train) // batch_size))
    return int(np.clip(-(-TRAIN_STEPS // batches), MIN_EPOCHS, MAX_EPOCHS))


def observe_and_train(data: Dataset, seed: int = 0, epochs: int | None = None, max_images: int = MAX_TRAIN_IMAGES,
                      cancelled: Callable[[], bool] = lambda: False
                      ) -> Generator[ObservedClasses | TrainProgress, None, ObservationalModel | None]:
    """Generator: estimate observational classes if needed, then train the readout net.

    The net learns the observational class of each image (a hard label) rather than its P(T=1)
    (a soft one): P(T=1) tells the classes apart by a few tenths, too weak a signal for a net
    to learn each class from a few hundred images (GRATING's lone v-bars read 0.1 where the
    truth is 0.4). Where the classes are unknown, one, or more than MAX_CLASSES (P(T=1 | I)
    varies from image to image), it learns P(T=1) itself. `epochs`: None, about TRAIN_STEPS steps.
    On binary images whose classes are exact ink patterns the net's answers are checked against
    the patterns (core.method.ink_patterns).
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
    classes, levels = class_levels(obs_class, p_obs if p_obs is not None else data.t, data.n_outcomes)
    reads_classes = 2 <= len(classes) <= MAX_CLASSES
    if reads_classes and obs_class is not None:        # (classes come from obs_class: never without it)
        targets = np.searchsorted(classes, obs_class)
    index = np.sort(np.random.default_rng(seed).choice(len(data), min(len(data), max_images), replace=False))
    images, targets = data.images[index], targets[index]

    def copies(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return declared_copies(data, x, y, seed)

    net = new_net({"arch": "mlp", "hidden": [100], "in_shape": list(data.shape),
                   "n_classes": len(classes) if reads_classes else data.n_outcomes}, seed)
    if not (yield from _train(net, *copies(images, targets), epochs, seed, cancelled)):
        return None
    patterns = learn_ink_patterns(images, targets, len(classes), copies, seed, cancelled) if reads_classes else None
    return None if cancelled() else ObservationalModel(net, data.shape, classes, levels, reads_classes, patterns)


def _train(net: nn.Module, images: np.ndarray, targets: np.ndarray, epochs: int | None, seed: int,
           cancelled: Callable[[], bool]) -> Generator[TrainProgress, None, bool]:
    """Train the readout net, yielding its progress; returns False when cancelled."""
    config = TrainConfig(epochs=epochs or readout_epochs(len(images)), batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                         patience=PATIENCE, seed=seed)
    for progress in train_steps(net, images, targets, config=config, cancelled=cancelled):
        if cancelled():
            return False
        yield progress
    return True
