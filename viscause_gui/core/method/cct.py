"""The Causal Coarsening Theorem on a discrete model: exact observational and causal partitions."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from viscause_gui.core.data.user_files import UserFileError, read_user_file
from viscause_gui.core.method.partitions import cells, partition_from_values, partition_relation

MODEL_KEYS = ("p_h", "p_i_given_h", "p_t1_given_h_i")


@dataclass
class DiscreteModel:
    """Discrete hidden H -> image I, binary T depending on (H, I).

    p_h: P(H=h), shape (nH,). p_i_given_h: P(I=i | H=h), shape (nH, nI), rows sum to 1.
    p_t1_given_h_i: P(T=1 | H=h, I=i), shape (nH, nI).
    """

    p_h: np.ndarray
    p_i_given_h: np.ndarray
    p_t1_given_h_i: np.ndarray

    def __post_init__(self) -> None:
        self.p_h = _probabilities("p_h", self.p_h, 1)
        self.p_i_given_h = _probabilities("p_i_given_h", self.p_i_given_h, 2)
        self.p_t1_given_h_i = _probabilities("p_t1_given_h_i", self.p_t1_given_h_i, 2)
        n_h, n_i = self.p_i_given_h.shape
        if len(self.p_h) != n_h:
            raise ValueError(f"p_h has {len(self.p_h)} entries but p_i_given_h has {n_h} rows (one per h)")
        if self.p_t1_given_h_i.shape != (n_h, n_i):
            raise ValueError(f"p_t1_given_h_i has shape {self.p_t1_given_h_i.shape}, expected {(n_h, n_i)}")
        if abs(self.p_h.sum() - 1) > 1e-6:
            raise ValueError(f"p_h must sum to 1, sums to {self.p_h.sum():.6g}")
        bad = np.flatnonzero(np.abs(self.p_i_given_h.sum(axis=1) - 1) > 1e-6)
        if len(bad):
            raise ValueError(f"p_i_given_h row {bad[0]} must sum to 1, sums to {self.p_i_given_h[bad[0]].sum():.6g}")

    @classmethod
    def from_json(cls, spec: Any) -> DiscreteModel:
        """Build from {"p_h": [..], "p_i_given_h": [[..] per h], "p_t1_given_h_i": [[..] per h]}.

        Keys starting with "_" are comments. Raises ValueError with a one-line message.
        """
        if not isinstance(spec, dict):
            raise ValueError(f"a CCT model must be a JSON object, got {type(spec).__name__}")
        missing = [k for k in MODEL_KEYS if k not in spec]
        if missing:
            raise ValueError(f"CCT model lacks {', '.join(missing)} (needs {', '.join(MODEL_KEYS)})")
        unknown = [k for k in spec if k not in MODEL_KEYS and not str(k).startswith("_")]
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} in CCT model (known: {', '.join(MODEL_KEYS)}; "
                             "keys starting with '_' are comments)")
        return cls(*(spec[k] for k in MODEL_KEYS))

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k).tolist() for k in MODEL_KEYS}

    @property
    def p_i(self) -> np.ndarray:
        """P(I=i) = sum_h P(i|h) P(h)."""
        return self.p_h @ self.p_i_given_h

    def p_obs(self) -> np.ndarray:
        """P(T=1 | I=i) = sum_h P(T=1|h,i) P(h|i); NaN where P(I=i) = 0 (never observed)."""
        joint = self.p_h[:, None] * self.p_i_given_h
        p_i = joint.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(p_i > 0, (joint * self.p_t1_given_h_i).sum(axis=0) / p_i, np.nan)

    def p_causal(self) -> np.ndarray:
        """P(T=1 | man(I=i)) = sum_h P(T=1|h,i) P(h)."""
        return self.p_h @ self.p_t1_given_h_i


MAX_STATES = 10_000          # values of H or of I a model file may have
MAX_MODEL_FILE_BYTES = 64 * 1024**2


def read_cct_model(path: str | os.PathLike, max_bytes: int = MAX_MODEL_FILE_BYTES) -> DiscreteModel:
    """The model of a CCT file (JSON, see DiscreteModel.from_json); any problem is one ValueError
    line that starts with the file's name."""
    path = Path(path)
    try:
        return DiscreteModel.from_json(_read_json(path, max_bytes))
    except ValueError as exc:
        message = " ".join(str(exc).split())
        raise ValueError(message if message.startswith(str(path)) else f"{path}: {message}") from None


def _read_json(path: Path, max_bytes: int) -> Any:
    try:
        return json.loads(read_user_file(path, max_bytes, "a model file"))
    except UserFileError as exc:
        raise ValueError(f"{path}: {exc.problem}") from None
    except RecursionError:
        raise ValueError(f"{path}: not valid JSON (nested too deeply)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


def _numbers_only(value: Any, depth: int) -> bool:
    """Nested lists of depth `depth` holding only ints and floats (no strings, booleans or None)."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "iuf" and value.ndim == depth
    if depth == 0:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, list) and all(_numbers_only(v, depth - 1) for v in value)


def _probabilities(name: str, value: Any, ndim: int) -> np.ndarray:
    if not _numbers_only(value, ndim):
        raise ValueError(f"{name} must be {'a list' if ndim == 1 else 'a list of lists'} of numbers "
                         "(no strings, true/false or null)")
    if len(value) > MAX_STATES or (ndim == 2 and any(len(row) > MAX_STATES for row in value)):
        raise ValueError(f"{name} has more than {MAX_STATES:,} entries per axis (the limit)")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be {'a list' if ndim == 1 else 'a list of lists'} of numbers") from None
    if arr.ndim != ndim or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty {'list' if ndim == 1 else 'list of equal-length lists'}"
                         f" of numbers, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{name} must hold probabilities in [0, 1]")
    return arr


def cct(model: DiscreteModel, tol: float = 1e-3) -> dict[str, Any]:
    """Exact observational and causal partitions of a discrete model and how they relate.

    Probabilities within `tol` are equal (a chain of small gaps is one class). An image with
    P(I=i) = 0 has no P(T | I=i): its p_obs is None and it belongs to no observational class; the
    relation compares Πo with Πc restricted to the observed images (it still has a causal class).
    """
    p_obs, p_causal = model.p_obs(), model.p_causal()
    seen = np.flatnonzero(np.isfinite(p_obs))
    obs_labels = partition_from_values(p_obs[seen], tol)
    causal_labels = partition_from_values(p_causal, tol)
    return {
        "observational_partition": cells(seen, obs_labels),
        "causal_partition": cells(np.arange(len(p_causal)), causal_labels),
        "p_obs": [None if not np.isfinite(p) else float(p) for p in p_obs],
        "p_causal": [float(p) for p in p_causal],
        "relation": partition_relation(obs_labels, causal_labels[seen]),
    }
