"""What the classes panel shows, Qt-free: partition summaries, the C x S table, a 2-D map of the data."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import nn

from viscause_gui.core.data.outcomes import one_hot
from viscause_gui.core.nets.models import hidden_features

MAX_MAP_POINTS = 5000


@dataclass
class PartitionSummary:
    """One row per class: its count and P(T=1) level (NaN when unknown)."""

    classes: np.ndarray
    counts: np.ndarray
    p_t: np.ndarray                 # obs: P(T=1|I); causal: P(T=1|man I); K > 2 outcomes: (classes, K) rows
    p_man: np.ndarray | None = None  # obs only: the oracle's answer for the class (Algorithm 1)
    causal: np.ndarray | None = None  # obs only: the causal class it belongs to (-1 unknown)


def _unknown(n: int, outcomes: int) -> np.ndarray:
    """NaN levels for n classes: (n,) for a binary T, (n, K) rows over K > 2 outcomes."""
    return np.full(n, np.nan) if outcomes <= 2 else np.full((n, outcomes), np.nan)


def _class_means(labels: np.ndarray, classes: np.ndarray, values: np.ndarray | None, outcomes: int = 2
                 ) -> np.ndarray:
    if values is None:
        return _unknown(len(classes), outcomes)
    values = np.asarray(values, np.float64)
    if outcomes > 2 and values.ndim == 1:           # samples of T: outcome indices, counted as one-hot rows
        values = one_hot(values, outcomes)
    return np.array([values[labels == c].mean(axis=0) for c in classes])


def observational_summary(obs: np.ndarray, p_obs: np.ndarray | None = None, t: np.ndarray | None = None,
                          obs_answers: np.ndarray | None = None,
                          obs_to_causal: np.ndarray | None = None, outcomes: int = 2) -> PartitionSummary:
    """Observational classes with P(T=1|I) (from p_obs, else the mean of T) and Algorithm 1's answers;
    over K = `outcomes` > 2 outcomes each level and answer is a distribution (a row of K)."""
    obs = np.asarray(obs, np.int64)
    classes, counts = np.unique(obs, return_counts=True)
    p_t = _class_means(obs, classes, p_obs if p_obs is not None else t, outcomes)
    p_man = None if obs_answers is None or len(obs_answers) != len(classes) else np.asarray(obs_answers, float)
    causal = None
    if obs_to_causal is not None:
        causal = np.array([obs_to_causal[c] if c < len(obs_to_causal) else -1 for c in classes], np.int64)
    return PartitionSummary(classes, counts, p_t, p_man, causal)


def causal_summary(causal: np.ndarray, levels: np.ndarray | None = None, outcomes: int = 2) -> PartitionSummary:
    """Causal classes with their P(T=1|man I) level (levels indexed by class id; over K = `outcomes` > 2
    outcomes a row of K each)."""
    causal = np.asarray(causal, np.int64)
    classes, counts = np.unique(causal, return_counts=True)
    if levels is None:
        p_t = _unknown(len(classes), outcomes)
    else:
        levels = np.asarray(levels, np.float64)
        unknown = _unknown(1, outcomes)[0]
        p_t = np.array([levels[c] if 0 <= c < len(levels) else unknown for c in classes])
    return PartitionSummary(classes, counts, p_t)


@dataclass
class CrossTable:
    """Counts of causal class (rows) x spurious class (columns) and one example image per cell."""

    causal_classes: np.ndarray
    spurious_classes: np.ndarray
    counts: np.ndarray          # (K, M)
    examples: np.ndarray        # (K, M) data set index of an example, -1 for an empty cell
    causal: np.ndarray          # per image, to list a cell's members
    spurious: np.ndarray

    def members(self, row: int, col: int) -> np.ndarray:
        """Data set indices of the images in cell (row, col)."""
        c, s = self.causal_classes[row], self.spurious_classes[col]
        return np.flatnonzero((self.causal == c) & (self.spurious == s))


def cross_table(causal: np.ndarray, spurious: np.ndarray) -> CrossTable:
    causal = np.asarray(causal, np.int64)
    spurious = np.asarray(spurious, np.int64)
    cs, ss = np.unique(causal), np.unique(spurious)
    ci, si = np.searchsorted(cs, causal), np.searchsorted(ss, spurious)
    counts = np.zeros((len(cs), len(ss)), np.int64)
    np.add.at(counts, (ci, si), 1)
    examples = np.full((len(cs), len(ss)), -1, np.int64)
    flat = ci * len(ss) + si
    first = np.unique(flat, return_index=True)
    examples.flat[first[0]] = first[1]
    return CrossTable(cs, ss, counts, examples, causal, spurious)


def subsample(n: int, max_n: int = MAX_MAP_POINTS, seed: int = 0) -> np.ndarray:
    """At most max_n sorted indices out of n, the same for the same (n, max_n, seed)."""
    if n <= max_n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_n, replace=False))


def pca_2d(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """First two principal components (N, 2), signs fixed so the result is deterministic.

    Eigen-decomposition of the covariance for few features; a seeded randomized subspace
    iteration for many (e.g. 784 pixels), which is far cheaper than a full SVD.
    """
    x = np.asarray(features, np.float64).reshape(len(features), -1)
    x = x - x.mean(axis=0)
    if len(x) < 2:
        return np.zeros((len(x), 2), np.float32)
    comps = _top_components(x, 2, seed)
    signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(1)])
    signs[signs == 0] = 1
    xy = x @ (comps * signs[:, None]).T
    if xy.shape[1] < 2:
        xy = np.hstack([xy, np.zeros((len(xy), 2 - xy.shape[1]))])
    return xy.astype(np.float32)


def _top_components(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """(k', D) leading principal axes of centred x (k' = min(k, D))."""
    d = x.shape[1]
    if d <= 256:
        _, vecs = np.linalg.eigh(x.T @ x)
        return vecs[:, ::-1][:, :min(k, d)].T
    q = np.random.default_rng(seed).standard_normal((d, k + 8))
    for _ in range(4):
        q, _ = np.linalg.qr(x.T @ (x @ q))
    _, _, vt = np.linalg.svd(x @ q, full_matrices=False)
    return vt[:k] @ q.T


@dataclass
class DataMap:
    index: np.ndarray     # data set index of each point
    xy: np.ndarray        # (P, 2)
    source: str           # what was projected


def data_map(images: np.ndarray, nets: Sequence[nn.Module] | None = None,
             max_points: int = MAX_MAP_POINTS, seed: int = 0) -> DataMap:
    """PCA of the causal net's last hidden layer (or of the pixels without a net)."""
    index = subsample(len(images), max_points, seed)
    if nets:
        feats = np.concatenate([hidden_features(net, images[index]) for net in nets], axis=1)
        return DataMap(index, pca_2d(feats), "PCA of the causal net's hidden layer")
    return DataMap(index, pca_2d(images[index]), "PCA of the pixels (no causal net yet)")
