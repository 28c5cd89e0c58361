"""The CCT explorer's model (Qt-free): a discrete model with binary H and a T with 2 to 5 outcomes,
its partitions live, the paper's Supplement B models as presets, and the nearest exception to the theorem.

`cct.py` computes the partitions; this module adds what a person changes one slider at a time
(`CctExplorer`) and the search for the closest model in which the observational partition is
*not* a refinement of the causal one (`nearest_exception`): the theorem's exceptions lie on a
set of measure zero, so the distance it finds shows how finely tuned such a model must be.
Over K > 2 outcomes the model is a core OutcomeModel and the search is cct_outcomes'.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from viscause_gui.core.data.outcomes import default_names
from viscause_gui.core.method.cct import DiscreteModel, OutcomeModel, cct
from viscause_gui.gui.models.cct_outcomes import (MAX_EXPLORER_OUTCOMES, MIN_EXPLORER_OUTCOMES,
                                                  nearest_outcome_exception, resize_outcomes, set_in_row)

MIN_IMAGES, MAX_IMAGES = 3, 6

# Supplement B of the paper: H binary, I in {0, 1, 2}, T binary. The three models share P(H) and
# P(I|H); they differ in P(T=0 | H, I) for (H, I) = (0,0) (0,1) (0,2) (1,0) (1,1) (1,2).
PAPER_P_H0 = 0.4572
PAPER_P_I_GIVEN_H = ((0.3426, 0.1239), (0.3255, 0.5097))     # P(I=0|H=h), P(I=1|H=h); P(I=2|h) the rest
PAPER_P_T0 = {
    "Supplement B, model 1": (0.13, 0.233, 0.05, 0.12, 0.0332, 0.1141),
    "Supplement B, model 2": (0.13, 0.233, 0.44, 0.12, 0.0332, 0.1582),
    "Supplement B, model 3": (0.123, 0.883, 0.44, 0.321, 0.0938, 0.1582),
}

RELATION_WORDS = {
    "equal": "the two partitions are equal",
    "causal_coarsens_observational": "the causal partition coarsens the observational one (the CCT's generic case)",
    "observational_coarsens_causal": "the observational partition coarsens the causal one (a CCT exception)",
    "incompatible": "neither partition coarsens the other (a CCT exception)",
}
EXCEPTIONS = ("observational_coarsens_causal", "incompatible")


def paper_model(name: str) -> DiscreteModel:
    """One of the Supplement B models, from the numbers printed in the paper."""
    p_t0 = np.asarray(PAPER_P_T0[name], np.float64).reshape(2, 3)
    rows = np.array([[a, b, 1.0 - a - b] for a, b in PAPER_P_I_GIVEN_H])
    return DiscreteModel(np.array([PAPER_P_H0, 1.0 - PAPER_P_H0]), rows, 1.0 - p_t0)


def is_exception(result: dict[str, Any]) -> bool:
    """The CCT fails: some observational class holds images of two causal classes."""
    return result["relation"] in EXCEPTIONS


@dataclass
class NearestException:
    """The model `nearest_exception` found, how far it is (largest change of one P(T=1|h,i), or of
    one P(T=k|h,i) over K outcomes, and the L2 norm of every change) and the two images the
    observational class joins."""

    model: DiscreteModel | OutcomeModel
    max_change: float
    l2_change: float
    images: tuple[int, int]


def nearest_exception(model: DiscreteModel | OutcomeModel, tol: float = 1e-3,
                      margin: float | None = None) -> NearestException | None:
    """The closest model (changing only P(T=1 | H, I)) in which the CCT fails, or None.

    For each pair of images (i, j) it solves, in closed form, the smallest change d of the table
    t = P(T=1|h,i) with P(T=1|I=i) = P(T=1|I=j) exactly (one observational class) and
    |P(T=1|man i) - P(T=1|man j)| = `margin` (two causal classes; default max(10 tol, 0.02), a
    difference one can see). Both are linear in t, so d is the minimum-norm solution of two linear
    equations; a pair whose equations are dependent (H independent of I there: no confounding)
    has no exception. Candidates leaving [0, 1] are clipped and kept only if still exceptions.
    Over K > 2 outcomes (an OutcomeModel) see cct_outcomes.nearest_outcome_exception; the margin
    is then a total variation distance.
    """
    here = cct(model, tol)
    if is_exception(here):
        return NearestException(model, 0.0, 0.0, _joined_pair(here))
    margin = max(10 * tol, 0.02) if margin is None else margin
    if isinstance(model, OutcomeModel):
        over_k = nearest_outcome_exception(model, tol, margin, is_exception)
        return None if over_k is None else NearestException(*over_k)
    t = model.p_t1_given_h_i
    joint = model.p_h[:, None] * model.p_i_given_h
    p_i = joint.sum(axis=0)
    n_i = t.shape[1]
    best: NearestException | None = None
    for i in range(n_i):
        for j in range(i + 1, n_i):
            if p_i[i] <= 0 or p_i[j] <= 0:
                continue
            a = np.zeros_like(t)
            a[:, i], a[:, j] = joint[:, i] / p_i[i], -joint[:, j] / p_i[j]      # P(T=1|i) - P(T=1|j)
            b = np.zeros_like(t)
            b[:, i], b[:, j] = model.p_h, -model.p_h                          # P(T=1|man i) - P(T=1|man j)
            constraints = np.stack([a.ravel(), b.ravel()])
            if np.linalg.matrix_rank(constraints, tol=1e-12) < 2:
                continue
            for sign in (1.0, -1.0):
                r = np.array([-(a * t).sum(), sign * margin - (b * t).sum()])
                d = constraints.T @ np.linalg.solve(constraints @ constraints.T, r)
                new_t = np.clip(t + d.reshape(t.shape), 0.0, 1.0)
                candidate = DiscreteModel(model.p_h, model.p_i_given_h, new_t)
                if not is_exception(cct(candidate, tol)):
                    continue
                change = new_t - t
                found = NearestException(candidate, float(np.abs(change).max()), float(np.sqrt((change ** 2).sum())),
                                   (i, j))
                if best is None or found.l2_change < best.l2_change:
                    best = found
    return best


def _joined_pair(result: dict[str, Any]) -> tuple[int, int]:
    """Two images in one observational class but in two causal classes."""
    causal = {i: k for k, cell in enumerate(result["causal_partition"]) for i in cell}
    for cell in result["observational_partition"]:
        for a in cell:
            for b in cell:
                if causal[a] != causal[b]:
                    return (min(a, b), max(a, b))
    return (0, 0)


class CctExplorer:
    """What the CCT explorer panel shows, changed one probability at a time (no Qt).

    Binary H; I with MIN_IMAGES..MAX_IMAGES values; T with 2 (binary, a DiscreteModel) to
    MAX_EXPLORER_OUTCOMES outcomes (an OutcomeModel). `p_h0` = P(H=0); `p_i_given_h[h, i]` and
    `p_t[h, i, k]` = P(T=k|h,i) hold distributions (setting one entry rescales the others of its
    row); `p_t1[h, i]` = P(T=1|h,i), what the binary explorer shows.
    """

    def __init__(self, n_images: int = 3, tol: float = 1e-3):
        self.p_h0 = 0.5
        self.p_i_given_h = np.full((2, n_images), 1.0 / n_images)
        self.p_t = np.full((2, n_images, 2), 0.5)
        self.outcomes = default_names(2)
        self.tol = tol
        if n_images == 3:
            self.set_model(paper_model("Supplement B, model 1"))

    @property
    def n_images(self) -> int:
        return self.p_i_given_h.shape[1]

    @property
    def n_outcomes(self) -> int:
        return self.p_t.shape[2]

    @property
    def p_t1(self) -> np.ndarray:
        """P(T=1 | h, i), (2, n_images)."""
        return self.p_t[:, :, 1]

    def p_i(self) -> np.ndarray:
        """P(I=i) = sum_h P(i|h) P(h)."""
        return np.array([self.p_h0, 1.0 - self.p_h0]) @ self.p_i_given_h

    def model(self) -> DiscreteModel | OutcomeModel:
        p_h = np.array([self.p_h0, 1.0 - self.p_h0])
        if self.n_outcomes == 2:
            return DiscreteModel(p_h, self.p_i_given_h, self.p_t1.copy())
        return OutcomeModel(p_h, self.p_i_given_h, self.p_t.copy(), self.outcomes)

    def set_model(self, model: DiscreteModel | OutcomeModel) -> None:
        if model.p_i_given_h.shape[0] != 2 or not MIN_IMAGES <= model.p_i_given_h.shape[1] <= MAX_IMAGES:
            raise ValueError(f"the explorer shows binary H and {MIN_IMAGES} to {MAX_IMAGES} images, got "
                             f"{model.p_i_given_h.shape[0]} values of H and {model.p_i_given_h.shape[1]} images")
        if isinstance(model, OutcomeModel):
            if model.p_t_given_h_i.shape[2] > MAX_EXPLORER_OUTCOMES:
                raise ValueError(f"the explorer shows at most {MAX_EXPLORER_OUTCOMES} outcomes, got "
                                 f"{model.p_t_given_h_i.shape[2]}")
            p_t, self.outcomes = model.p_t_given_h_i.copy(), tuple(model.outcomes)
        else:
            p_t, self.outcomes = np.stack([1.0 - model.p_t1_given_h_i, model.p_t1_given_h_i], axis=2), default_names(2)
        self.p_h0 = float(model.p_h[0])
        self.p_i_given_h = model.p_i_given_h.copy()
        self.p_t = p_t

    def load_preset(self, name: str) -> None:
        self.set_model(paper_model(name))

    def set_size(self, n_images: int) -> None:
        """Keep what fits; a new image gets a little probability (taken from the others) and every
        outcome of T the same (0.5 for a binary T)."""
        if not MIN_IMAGES <= n_images <= MAX_IMAGES:
            raise ValueError(f"images: {MIN_IMAGES} to {MAX_IMAGES}")
        old = self.n_images
        if n_images < old:
            p = self.p_i_given_h[:, :n_images]
            self.p_i_given_h = p / p.sum(axis=1, keepdims=True)
            self.p_t = self.p_t[:, :n_images].copy()
        elif n_images > old:
            extra = n_images - old
            share = 1.0 / n_images
            self.p_i_given_h = np.concatenate([self.p_i_given_h * (1 - extra * share),
                                               np.full((2, extra), share)], axis=1)
            self.p_t = np.concatenate([self.p_t, np.full((2, extra, self.n_outcomes), 1.0 / self.n_outcomes)],
                                      axis=1)

    def set_outcomes(self, k: int) -> None:
        """T with k outcomes (default names); see cct_outcomes.resize_outcomes for the numbers."""
        if not MIN_EXPLORER_OUTCOMES <= k <= MAX_EXPLORER_OUTCOMES:
            raise ValueError(f"outcomes: {MIN_EXPLORER_OUTCOMES} to {MAX_EXPLORER_OUTCOMES}")
        if k != self.n_outcomes:
            self.p_t = resize_outcomes(self.p_t, k)
            self.outcomes = default_names(k)

    def set_p_h0(self, value: float) -> None:
        self.p_h0 = float(np.clip(value, 0.0, 1.0))

    def set_p_i(self, h: int, i: int, value: float) -> None:
        """P(I=i | H=h) = value; the row's other entries keep their proportions and fill the rest."""
        self.p_i_given_h[h] = set_in_row(self.p_i_given_h[h], i, value)

    def set_p_t(self, h: int, i: int, k: int, value: float) -> None:
        """P(T=k | H=h, I=i) = value; the other outcomes keep their proportions and fill the rest."""
        self.p_t[h, i] = set_in_row(self.p_t[h, i], k, value)

    def set_p_t1(self, h: int, i: int, value: float) -> None:
        self.set_p_t(h, i, 1, value)

    def result(self) -> dict[str, Any]:
        """cct() of the model now, with the relation in words."""
        out = cct(self.model(), self.tol)
        out["relation_words"] = RELATION_WORDS[out["relation"]]
        out["exception"] = is_exception(out)
        return out

    def jump_to_nearest_exception(self) -> NearestException | None:
        found = nearest_exception(self.model(), self.tol)
        if found is not None:
            self.set_model(found.model)
        return found
