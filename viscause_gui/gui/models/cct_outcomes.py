"""The CCT explorer over a T with K > 2 outcomes (Qt-free): rows that stay distributions, a change
of K, and the nearest exception to the theorem when P(T | h, i) is a distribution over K outcomes.

Distances between distributions are total variation (core.data.outcomes.distance), as in core cct.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from viscause_gui.core.method.cct import OutcomeModel, cct

MIN_EXPLORER_OUTCOMES, MAX_EXPLORER_OUTCOMES = 2, 5
_RESIDUAL = 1e-9            # a linear system with a larger residual has no solution


def set_in_row(row: np.ndarray, index: int, value: float) -> np.ndarray:
    """A copy of the distribution `row` with row[index] = value; the other entries keep their
    proportions and fill the rest (shared equally when they were all 0)."""
    value = float(np.clip(value, 0.0, 1.0))
    row = row.copy()
    others = np.delete(np.arange(len(row)), index)
    rest = row[others].sum()
    row[others] = (1.0 - value) * (row[others] / rest if rest > 0 else 1.0 / len(others))
    row[index] = value
    return row


def resize_outcomes(p_t: np.ndarray, k: int) -> np.ndarray:
    """P(T | h, i) over k outcomes from one over p_t.shape[-1]: a new outcome gets probability 0 (the
    model, and so its partitions, stay the same); removed outcomes are lumped into the last one kept,
    so that each row still sums to 1 (going 2 -> 3 -> 2 gives back the same numbers)."""
    old = p_t.shape[-1]
    if k >= old:
        return np.concatenate([p_t, np.zeros((*p_t.shape[:-1], k - old))], axis=-1)
    out = p_t[..., :k].copy()
    out[..., k - 1] += p_t[..., k:].sum(axis=-1)
    return out


def nearest_outcome_exception(model: OutcomeModel, tol: float, margin: float,
                              is_exception: Callable[[dict[str, Any]], bool]
                              ) -> tuple[OutcomeModel, float, float, tuple[int, int]] | None:
    """The closest model (changing only P(T | H, I), each row a distribution) in which an
    observational class holds two causal classes: (model, largest change, L2 change, the two images).

    The binary search (cct_explore.nearest_exception) carried to K outcomes. For images i and j
    the change d of the table t = P(T=k | h, i) must (1) keep every row a distribution,
    sum_k d[h, i, k] = 0; (2) make P(T | I=i) = P(T | I=j) exactly, K linear equations; and (3)
    part their causal answers, TV(P(T | man i), P(T | man j)) >= margin. (1) and (2) are linear;
    (3) is not, but total variation is a maximum of linear forms, TV(x) = max over sign vectors s
    of ½ s·x, so (3) is the union over s of the half-spaces ½ s·Δ >= margin. The closest point of
    a union is the closest over its parts, and the closest point of (1)-(2) with one half-space is
    either the minimum-norm solution of (1)-(2) (when it lies in the half-space) or that with
    ½ s·Δ = margin as one more equation: minimum-norm solutions of linear systems, 2^K - 2 of
    them per pair (s constant adds nothing, as Δ sums to 0). For K = 2 it is the binary search.
    A system without solution (H independent of I at i and j: no confounding) gives nothing;
    candidates leaving [0, 1] are clipped, their rows renormalised, and kept only if still
    exceptions. The answer is the smallest L2 change over all pairs and sign vectors.
    """
    t = model.p_t_given_h_i
    n_h, n_i, k = t.shape
    joint = model.p_h[:, None] * model.p_i_given_h
    p_i = joint.sum(axis=0)
    rows_sum = _row_sum_equations(n_h, n_i, k)
    best: tuple[OutcomeModel, float, float, tuple[int, int]] | None = None
    for i, j in itertools.combinations(range(n_i), 2):
        if p_i[i] <= 0 or p_i[j] <= 0:
            continue
        obs = _difference_equations(joint[:, i] / p_i[i], -joint[:, j] / p_i[j], i, j, t.shape)
        causal = _difference_equations(model.p_h, -model.p_h, i, j, t.shape)
        base = np.vstack([rows_sum, obs])
        base_r = np.concatenate([np.zeros(len(rows_sum)), -obs @ t.ravel()])
        for d in _candidates(base, base_r, causal, t.ravel(), margin, k):
            new_t = np.clip(t + d.reshape(t.shape), 0.0, 1.0)
            new_t /= new_t.sum(axis=2, keepdims=True)
            candidate = OutcomeModel(model.p_h, model.p_i_given_h, new_t, model.outcomes)
            if not is_exception(cct(candidate, tol)):
                continue
            change = new_t - t
            l2 = float(np.sqrt((change ** 2).sum()))
            if best is None or l2 < best[2]:
                best = (candidate, float(np.abs(change).max()), l2, (i, j))
    return best


def _candidates(base: np.ndarray, base_r: np.ndarray, causal: np.ndarray, t: np.ndarray, margin: float,
                k: int) -> list[np.ndarray]:
    """The changes d that solve `base` d = base_r with the least norm, one per half-space of (3)."""
    free = _min_norm(base, base_r)
    if free is None:
        return []
    if 0.5 * np.abs(causal @ (t + free)).sum() >= margin:     # already in the union: the closest point
        return [free]
    found = []
    for signs in itertools.product((1.0, -1.0), repeat=k):
        if len(set(signs)) == 1:
            continue
        form = 0.5 * (np.asarray(signs) @ causal)         # ½ s·Δ as a linear form of the table
        d = _min_norm(np.vstack([base, form]), np.append(base_r, margin - form @ t))
        if d is not None:
            found.append(d)
    return found


def _min_norm(a: np.ndarray, r: np.ndarray) -> np.ndarray | None:
    """The least-norm d with a d = r, or None when there is none."""
    d, *_ = np.linalg.lstsq(a, r, rcond=None)
    return d if np.abs(a @ d - r).max() <= _RESIDUAL else None


def _row_sum_equations(n_h: int, n_i: int, k: int) -> np.ndarray:
    """One row per (h, i): the sum of d[h, i, :] (which must stay 0)."""
    return np.kron(np.eye(n_h * n_i), np.ones((1, k)))


def _difference_equations(w_i: np.ndarray, w_j: np.ndarray, i: int, j: int, shape: tuple[int, ...]) -> np.ndarray:
    """(K, table size): outcome k's sum_h w_i[h] t[h, i, k] + w_j[h] t[h, j, k]."""
    k = shape[-1]
    rows = np.zeros((k, *shape))
    for outcome in range(k):
        rows[outcome, :, i, outcome] = w_i
        rows[outcome, :, j, outcome] = w_j
    return rows.reshape(k, -1)
