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
