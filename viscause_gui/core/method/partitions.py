"""Partitions as class labels: classes from equal values, the spurious class S within each causal
class, and how two partitions relate (equal, one coarsens the other, incompatible)."""
from __future__ import annotations

from typing import Any

import numpy as np

RELATIONS = ("equal", "causal_coarsens_observational", "observational_coarsens_causal", "incompatible")


# --------------------------------------------------------------------------- label helpers

def partition_from_values(values: Any, tol: float = 1e-3) -> np.ndarray:
    """Class id per value: sort, start a new class wherever the gap to the previous value is > tol.

    Ids are 0, 1, ... ordered by value. (A chain of small gaps stays one class.)
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(values)):
        raise ValueError("partition_from_values: values must be finite")
    labels = np.zeros(len(values), np.int64)
    if len(values) == 0:
        return labels
    order = np.argsort(values, kind="stable")
    new_class = np.diff(values[order]) > tol
    labels[order] = np.concatenate([[0], np.cumsum(new_class)])
    return labels


def partition_from_vectors(values: Any, tol: float = 1e-3) -> np.ndarray:
    """Class id per distribution (rows of (N, K) values over K outcomes): rows whose total variation
    distance ½ Σ|p − q| is at most tol are one class, and so is a chain of such rows (single linkage).

    Ids are 0, 1, ... ordered by the class's mean expected outcome Σ_k k·p_k (ties by its mean row). For
    K = 2 this is `partition_from_values` on P(T=1) (the distance is |p1 − q1|)."""
    from scipy.sparse import coo_matrix  # imported when used (scipy imports slowly)
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"partition_from_vectors: values must be (N, K), got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("partition_from_vectors: values must be finite")
    if len(values) == 0:
        return np.zeros(0, np.int64)
    rows, inverse = np.unique(values, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    pairs = cKDTree(rows).query_pairs(2.0 * tol, p=1, output_type="ndarray")   # L1 <= 2 tol: TV <= tol
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(rows), len(rows)))
    _, component = connected_components(graph, directed=False)
    labels = component[inverse]
    count = int(labels.max()) + 1
    means = np.stack([values[labels == c].mean(axis=0) for c in range(count)])
    order = np.lexsort((*means.T[::-1], means @ np.arange(values.shape[1])))
    rank = np.empty(count, np.int64)
    rank[order] = np.arange(count)
    return rank[labels]


def partition_answers(values: Any, tol: float) -> np.ndarray:
    """Classes of answers: `partition_from_values` for binary P(T=1) values (N,), `partition_from_vectors`
    for distributions over K outcomes (N, K)."""
    values = np.asarray(values, dtype=np.float64)
    return partition_from_vectors(values, tol) if values.ndim == 2 else partition_from_values(values, tol)


def spurious_classes(obs_class: Any, causal_class: Any) -> np.ndarray:
    """S per image: the observational classes inside each causal class numbered 0..Mk-1 (by obs id)."""
    obs, causal = np.asarray(obs_class).ravel(), np.asarray(causal_class).ravel()
    if obs.shape != causal.shape:
        raise ValueError(f"spurious_classes: {obs.shape} observational vs {causal.shape} causal labels")
    out = np.zeros(len(obs), np.int64)
    for c in np.unique(causal):
        members = causal == c
        out[members] = np.unique(obs[members], return_inverse=True)[1]
    return out


# --------------------------------------------------------------------------- observational fit


# --------------------------------------------------------------------------- CCT on discrete models


def cells(index: np.ndarray, labels: np.ndarray) -> list[list[int]]:
    """The members (from `index`) of each class 0..max(labels), as lists."""
    return [index[labels == c].tolist() for c in range(int(labels.max()) + 1)] if len(labels) else []


def partition_relation(obs_labels: Any, causal_labels: Any) -> str:
    """equal / causal_coarsens_observational / observational_coarsens_causal / incompatible."""
    obs, causal = np.asarray(obs_labels), np.asarray(causal_labels)
    obs_in_causal = _refines(obs, causal)
    causal_in_obs = _refines(causal, obs)
    if obs_in_causal and causal_in_obs:
        return "equal"
    if obs_in_causal:
        return "causal_coarsens_observational"
    if causal_in_obs:
        return "observational_coarsens_causal"
    return "incompatible"


def _refines(fine: np.ndarray, coarse: np.ndarray) -> bool:
    """True when every cell of `fine` lies inside one cell of `coarse`."""
    return all(len(np.unique(coarse[fine == c])) == 1 for c in np.unique(fine))
