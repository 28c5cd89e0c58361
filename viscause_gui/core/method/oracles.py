"""Oracles answer A(i) ~ P(T=1 | man(I=i)) for a batch of images (NaN = "no answer", e.g. '?').

The truth oracle knows the generative model (GRATING); the model oracle is a trained
classifier standing in for people; the human oracle (GUI) answers a QueryBatch later,
through Experiment.answer, so it needs no class here.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from torch import nn

from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.nets.models import predict_proba


@runtime_checkable
class Oracle(Protocol):
    name: str

    def answer(self, images: np.ndarray) -> np.ndarray:
        """P(T=1 | man(I)) per image, float64 (N,), NaN where the oracle cannot say."""
        ...


class TruthOracle:
    """Exact P(T=1 | man(I)) of the GRATING model."""

    name = "truth"

    def __init__(self, model: GratingModel | None = None):
        self.model = model or GratingModel()

    def answer(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.p_causal(images), np.float64)


class SampledTruthOracle(TruthOracle):
    """Like the truth oracle, but answers with the mean of `samples` draws of T (a noisy experiment)."""

    name = "sampled"

    def __init__(self, model: GratingModel | None = None, samples: int = 1, seed: int = 0):
        super().__init__(model)
        self.samples = samples
        self.rng = np.random.default_rng(seed)

    def answer(self, images: np.ndarray) -> np.ndarray:
        p = super().answer(images)
        return self.rng.binomial(self.samples, p) / self.samples


class ModelOracle:
    """A trained classifier answers P(T=1 | image) = P(class `positive` | image); NaN when unsure.

    `unsure` is the half-width of the band around 0.5 in which it answers NaN ('?').
    """

    name = "model"

    def __init__(self, net: nn.Module, positive: int = 1, unsure: float = 0.0):
        self.net = net
        self.positive = positive
        self.unsure = unsure

    def answer(self, images: np.ndarray) -> np.ndarray:
        p = predict_proba(self.net, np.asarray(images, np.float32))[:, self.positive]
        p = p.astype(np.float64)
        p[np.abs(p - 0.5) < self.unsure] = np.nan
        return p
