"""The Causal Coarsening Theorem on discrete models (H, I discrete, T binary).

P(T=1 | I=i)       = sum_h P(T=1 | h, i) P(h | i),  P(h | i) ∝ P(i | h) P(h)
P(T=1 | man(I=i))  = sum_h P(T=1 | h, i) P(h)      (a manipulation leaves H at its prior)

Images with P(I=i) = 0 never occur in observational data, so they have no observational
class: they are left out of both partitions compared (and reported as `unobserved`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .partitions import partition_from_values


@dataclass(frozen=True)
class DiscreteModel:
    p_h: np.ndarray              # (nH,)
    p_i_given_h: np.ndarray      # (nH, nI)
    p_t1_given_h_i: np.ndarray   # (nH, nI)

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> "DiscreteModel":
        """Validate {"p_h", "p_i_given_h", "p_t1_given_h_i"}; ValueError with one line if wrong."""
        if not isinstance(spec, dict):
            raise ValueError("the model must be a JSON object")
        missing = [k for k in ("p_h", "p_i_given_h", "p_t1_given_h_i") if k not in spec]
        if missing:
            raise ValueError(f"the model lacks {', '.join(missing)}")
        try:
            p_h = np.asarray(spec["p_h"], float)
            p_i = np.asarray(spec["p_i_given_h"], float)
            p_t = np.asarray(spec["p_t1_given_h_i"], float)
        except (TypeError, ValueError):
            raise ValueError("probabilities must be numbers in nested lists") from None
        _check(p_h.ndim == 1 and len(p_h) > 0, "p_h must be a non-empty list")
        _check(p_i.ndim == 2 and p_i.shape[0] == len(p_h), f"p_i_given_h must have one row per h ({len(p_h)})")
        _check(p_t.shape == p_i.shape, f"p_t1_given_h_i must have shape {p_i.shape}, got {p_t.shape}")
        for name, arr in (("p_h", p_h), ("p_i_given_h", p_i), ("p_t1_given_h_i", p_t)):
            _check(np.all(np.isfinite(arr)) and arr.min() >= 0 and arr.max() <= 1, f"{name} must lie in [0, 1]")
        _check(abs(p_h.sum() - 1) < 1e-6, f"p_h must sum to 1, sums to {p_h.sum():g}")
        _check(np.allclose(p_i.sum(1), 1, atol=1e-6), "each row of p_i_given_h must sum to 1")
        return cls(p_h, p_i, p_t)

    def p_i(self) -> np.ndarray:
        return self.p_h @ self.p_i_given_h

    def p_obs(self) -> np.ndarray:
        """P(T=1 | I=i); NaN where P(I=i) = 0."""
        joint = self.p_h[:, None] * self.p_i_given_h
        p_i = joint.sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(p_i > 0, (joint * self.p_t1_given_h_i).sum(0) / p_i, np.nan)

    def p_causal(self) -> np.ndarray:
        return self.p_h @ self.p_t1_given_h_i


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _groups(labels: np.ndarray, index: np.ndarray) -> list[list[int]]:
    return [index[labels == k].tolist() for k in range(labels.max() + 1)] if len(index) else []


def _refines(fine: np.ndarray, coarse: np.ndarray) -> bool:
    """Every cell of `fine` lies inside one cell of `coarse`."""
    return all(len(np.unique(coarse[fine == k])) == 1 for k in np.unique(fine))


def relation(obs: np.ndarray, causal: np.ndarray) -> str:
    obs_in_causal, causal_in_obs = _refines(obs, causal), _refines(causal, obs)
    if obs_in_causal and causal_in_obs:
        return "equal"
    if obs_in_causal:
        return "causal_coarsens_observational"
    if causal_in_obs:
        return "observational_coarsens_causal"
    return "incompatible"


def cct(model: DiscreteModel, tol: float = 1e-3) -> dict[str, Any]:
    """Observational and causal partitions of the images that occur, and how they relate."""
    p_obs, p_causal = model.p_obs(), model.p_causal()
    seen = np.flatnonzero(np.isfinite(p_obs))
    obs = partition_from_values(p_obs[seen], tol)
    causal = partition_from_values(p_causal[seen], tol)
    return {
        "observational_partition": _groups(obs, seen),
        "causal_partition": _groups(causal, seen),
        "p_obs": [None if np.isnan(p) else float(p) for p in p_obs],
        "p_causal": [float(p) for p in p_causal],
        "relation": relation(obs, causal),
        "unobserved": np.flatnonzero(~np.isfinite(p_obs)).tolist(),
    }
