"""Oracles answer A(i) ~ P(T=1 | man(I=i)) for a batch of images (NaN = "no answer", e.g. '?').

`Oracle` is the protocol every oracle follows. The model oracle here is a classifier trained on
the observational data, standing in for people; an experiment with a known generative model
brings its own exact oracle (experiments.grating.TruthOracle); a person answers a QueryBatch
later, through Experiment.answer, and needs no class.
"""
from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Protocol, cast, runtime_checkable

import numpy as np
from torch import nn

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.observe import NEEDS_OBSERVATIONS, ObservationalDataError
from viscause_gui.core.nets.generative import ConvAutoencoder, autoencoder_spec, reconstruction_error
from viscause_gui.core.nets.models import new_net, predict_proba
from viscause_gui.core.nets.training import (TrainConfig, TrainFn, TrainProgress, generative_config,
                                             train_autoencoder, train_steps)

CHECK_QUANTILE = 0.995     # real images' reconstruction error below which an image is "like the data" ...
CHECK_SLACK = 1.1          # ... times this margin
CHECK_EPOCHS = 15


@runtime_checkable
class Oracle(Protocol):
    name: str

    def answer(self, images: np.ndarray) -> np.ndarray:
        """P(T=1 | man(I)) per image, float64 (N,), NaN where the oracle cannot say; for a T with K > 2
        outcomes P(T | man(I)), (N, K), a row of NaN where it cannot say (docs/formats.md §7)."""
        ...


@dataclass
class ManifoldCheck:
    """Does an image look like the data? An autoencoder of the data reconstructs real images
    well and noise, smudges and other off-manifold images badly: an image passes when its
    reconstruction error is within `limit`, what real images held back from training show
    (their CHECK_QUANTILE quantile times CHECK_SLACK). A model oracle says '?' to the others,
    as a person shown a smudge would."""

    model: ConvAutoencoder
    limit: float

    def on_manifold(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, np.float32)
        if images.ndim == len(self.model.in_shape):
            images = images[None]
        return reconstruction_error(self.model, images) <= self.limit


def train_manifold_check(images: np.ndarray, seed: int = 0, epochs: int = CHECK_EPOCHS, code: int = 24,
                         train_fn: TrainFn = train_autoencoder) -> Generator[TrainProgress, None, ManifoldCheck]:
    """Generator: an autoencoder of `images` (its own seed and code size, apart from the
    manipulator's) trained on 90 % of them, calibrated on the other 10 %; returns the check."""
    images = np.asarray(images, np.float32)
    order = np.random.default_rng([seed, 31]).permutation(len(images))
    n_cal = max(1, len(images) // 10)
    calibration, training = images[order[:n_cal]], images[order[n_cal:]]
    model = cast(ConvAutoencoder, new_net(autoencoder_spec(images.shape[1:], code=code), seed + 4099))
    yield from train_fn(model, training, None, None, generative_config(seed + 4099, epochs))
    model.eval()
    errors = reconstruction_error(model, calibration)
    return ManifoldCheck(model, float(np.quantile(errors, CHECK_QUANTILE) * CHECK_SLACK))


class ModelOracle:
    """A trained classifier answers P(T=1 | image) = P(class `positive` | image); NaN when unsure.

    `unsure` is the half-width of the band around 0.5 in which it answers NaN ('?'). A classifier of K > 2
    classes (T's outcomes) answers its softmax, P(T | image) (N, K).
    """

    name = "model"

    def __init__(self, net: nn.Module, positive: int = 1, unsure: float = 0.0):
        self.net = net
        self.positive = positive
        self.unsure = unsure

    def answer(self, images: np.ndarray) -> np.ndarray:
        proba = predict_proba(self.net, np.asarray(images, np.float32))
        if proba.shape[1] > 2:
            return proba.astype(np.float64)
        p = proba[:, self.positive]
        p = p.astype(np.float64)
        p[np.abs(p - 0.5) < self.unsure] = np.nan
        return p


def model_oracle_targets(data: Dataset, positive_label: int | None = None) -> np.ndarray:
    """What a model oracle learns: P(T=1|I) as soft labels (N, 2) (P(T|I) (N, K) over K > 2 outcomes) or T as
    classes (N,)."""
    if data.p_obs is not None:
        if data.p_obs.ndim == 2:
            return data.p_obs.astype(np.float32)
        return np.stack([1 - data.p_obs, data.p_obs], axis=1).astype(np.float32)
    if data.t is not None:
        return np.asarray(data.t, np.int64)
    if data.labels is not None and positive_label is not None:
        return (data.labels == positive_label).astype(np.int64)
    if data.obs_class is not None:
        raise ObservationalDataError("the model oracle needs P(T=1|I) or samples of T to learn from")
    raise ObservationalDataError(NEEDS_OBSERVATIONS.format(extra=""))


def train_model_oracle(data: Dataset, positive_label: int | None = None, seed: int = 0,
                       epochs: int = 5, max_images: int = 10_000,
                       train_fn: Callable[..., Iterator[TrainProgress]] = train_steps
                       ) -> Generator[TrainProgress, None, ModelOracle]:
    """Generator: train a classifier standing in for people; returns a ModelOracle.

    train_fn: models.train_steps or a routine with its signature (e.g. one run in a child process).
    """
    targets = model_oracle_targets(data, positive_label)
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(len(data), min(len(data), max_images), replace=False))
    net = new_net({"arch": "mlp", "hidden": [100], "in_shape": list(data.shape),
                   "n_classes": 2 if positive_label is not None else data.n_outcomes}, seed + 7919)
    yield from train_fn(net, data.images[index], targets[index], None, TrainConfig(epochs=epochs, seed=seed))
    return ModelOracle(net)
