"""GRATING's confounding, exactly (the confounding slider): for the generator's parameters, each
kind of image's P(T=1 | I) and P(T=1 | man(I)), the two partitions, and what a classifier of T
that learned from observations gets right on images we set ourselves.

The four kinds of image: no bar, a v-bar only, an h-bar only, both. Observationally the v-bar
reveals H1, so P(T=1 | I) = base + w_h1 vbar + w_c hbar; when we set the image, H1 keeps its
prior: P(T=1 | man(I)) = base + w_h1 P(H1=1) + w_c hbar. Interventional images: each bar drawn
by a fair coin of ours, independent of H.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.method.partitions import cells, partition_from_values, partition_relation

KINDS = ("no bar", "v-bar", "h-bar", "v-bar + h-bar")
VBAR = np.array([0, 1, 0, 1])
HBAR = np.array([0, 0, 1, 1])


@dataclass
class Confounding:
    model: GratingModel
    p_obs: np.ndarray            # P(T=1 | I) per kind
    p_causal: np.ndarray         # P(T=1 | man(I)) per kind
    p_kind_observed: np.ndarray  # how often each kind is observed
    observational_partition: list[list[int]]
    causal_partition: list[list[int]]
    relation: str
    accuracy_observational: float   # the classifier "T = 1 when P(T=1|I) > 1/2" on interventional images
    accuracy_causal: float          # "T = 1 when P(T=1|man I) > 1/2" on the same images (the best possible)
    accuracy_on_observations: float  # the observational classifier on observational images

    def rows(self) -> list[tuple[str, float, float]]:
        return [(k, float(a), float(b)) for k, a, b in zip(KINDS, self.p_obs, self.p_causal)]


def confounding(base: float = 0.1, w_h1: float = 0.3, w_c: float = 0.6, p_h1: float = 0.5, p_h2: float = 0.5,
                tol: float = 1e-3) -> Confounding:
    """The exact quantities above; ValueError (from GratingModel) when P(T=1|H1,C) leaves [0, 1]."""
    model = GratingModel(base=base, w_h1=w_h1, w_c=w_c, p_h1=p_h1, p_h2=p_h2)
    p_obs = model.p_t(VBAR, HBAR)
    p_causal = model.p_t(model.p_h1, HBAR)
    p_kind = np.where(VBAR, p_h1, 1 - p_h1) * np.where(HBAR, p_h2, 1 - p_h2)
    obs_labels, causal_labels = partition_from_values(p_obs, tol), partition_from_values(p_causal, tol)
    kinds = np.arange(4)
    predicted = p_obs > 0.5

    def accuracy(said: np.ndarray, p_true: np.ndarray, weights: np.ndarray) -> float:
        return float(np.sum(weights * np.where(said, p_true, 1 - p_true)))

    uniform = np.full(4, 0.25)
    return Confounding(model, p_obs, p_causal, p_kind, cells(kinds, obs_labels), cells(kinds, causal_labels),
                       partition_relation(obs_labels, causal_labels),
                       accuracy(predicted, p_causal, uniform), accuracy(p_causal > 0.5, p_causal, uniform),
                       accuracy(predicted, p_obs, p_kind))
