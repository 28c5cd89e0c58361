"""The Causal Coarsening Theorem on a discrete model: exact observational and causal partitions.

T is binary (`DiscreteModel`: P(T=1 | h, i)) or has K > 2 outcomes (`OutcomeModel`: P(T | h, i) as K
probabilities per (h, i)); a model file names which by its key (`model_from_json`)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from viscause_gui.core.data.outcomes import MAX_OUTCOMES, MIN_OUTCOMES, OutcomeError, check_names, default_names
from viscause_gui.core.data.user_files import UserFileError, read_user_file
from viscause_gui.core.method.partitions import cells, partition_answers, partition_relation

MODEL_KEYS = ("p_h", "p_i_given_h", "p_t1_given_h_i")
OUTCOME_KEYS = ("p_h", "p_i_given_h", "p_t_given_h_i")     # T with K > 2 outcomes; "outcomes" may name them


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
        self.p_h, self.p_i_given_h = _hidden_and_images(self.p_h, self.p_i_given_h)
        self.p_t1_given_h_i = _probabilities("p_t1_given_h_i", self.p_t1_given_h_i, 2)
        if self.p_t1_given_h_i.shape != self.p_i_given_h.shape:
            raise ValueError(f"p_t1_given_h_i has shape {self.p_t1_given_h_i.shape}, expected "
                             f"{self.p_i_given_h.shape}")

    @classmethod
    def from_json(cls, spec: Any) -> DiscreteModel:
        """Build from {"p_h": [..], "p_i_given_h": [[..] per h], "p_t1_given_h_i": [[..] per h]}.

        Keys starting with "_" are comments. Raises ValueError with a one-line message.
        """
        _check_keys(spec, MODEL_KEYS)
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


@dataclass
class OutcomeModel:
    """Discrete hidden H -> image I, T with K > 2 outcomes depending on (H, I).

    p_t_given_h_i: P(T=k | H=h, I=i), shape (nH, nI, K), each (h, i) row sums to 1; outcomes: their names.
    """

    p_h: np.ndarray
    p_i_given_h: np.ndarray
    p_t_given_h_i: np.ndarray
    outcomes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.p_h, self.p_i_given_h = _hidden_and_images(self.p_h, self.p_i_given_h)
        self.p_t_given_h_i = _probabilities("p_t_given_h_i", self.p_t_given_h_i, 3)
        shape = self.p_t_given_h_i.shape
        if shape[:2] != self.p_i_given_h.shape or not MIN_OUTCOMES < shape[2] <= MAX_OUTCOMES:
            n_h, n_i = self.p_i_given_h.shape
            raise ValueError(f"p_t_given_h_i has shape {shape}, expected ({n_h}, {n_i}, K) with K from "
                             f"{MIN_OUTCOMES + 1} to {MAX_OUTCOMES} outcomes (a binary T: p_t1_given_h_i)")
        sums = self.p_t_given_h_i.sum(axis=2)
        bad = np.argwhere(np.abs(sums - 1) > 1e-6)
        if len(bad):
            h, i = bad[0]
            raise ValueError(f"p_t_given_h_i[{h}][{i}] must sum to 1, sums to {sums[h, i]:.6g}")
        try:
            self.outcomes = default_names(shape[2]) if self.outcomes == () else check_names(self.outcomes, "outcomes")
        except OutcomeError as exc:
            raise ValueError(str(exc)) from None
        if len(self.outcomes) != shape[2]:
            raise ValueError(f"outcomes names {len(self.outcomes)} outcomes, p_t_given_h_i has {shape[2]}")

    def p_obs(self) -> np.ndarray:
        """P(T | I=i) = sum_h P(T|h,i) P(h|i), (nI, K); a row of NaN where P(I=i) = 0 (never observed)."""
        joint = self.p_h[:, None] * self.p_i_given_h
        p_i = joint.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            rows = np.einsum("hi,hik->ik", joint, self.p_t_given_h_i) / p_i[:, None]
        return np.where((p_i > 0)[:, None], rows, np.nan)

    def p_causal(self) -> np.ndarray:
        """P(T | man(I=i)) = sum_h P(T|h,i) P(h), (nI, K)."""
        return np.einsum("h,hik->ik", self.p_h, self.p_t_given_h_i)


def model_from_json(spec: Any) -> DiscreteModel | OutcomeModel:
    """The model a CCT file's object describes: `p_t1_given_h_i` for a binary T, `p_t_given_h_i` (and
    optionally `outcomes`) for T with K > 2 outcomes. Raises ValueError with a one-line message."""
    if isinstance(spec, dict) and "p_t_given_h_i" in spec:
        _check_keys(spec, OUTCOME_KEYS, optional=("outcomes",))
        return OutcomeModel(spec["p_h"], spec["p_i_given_h"], spec["p_t_given_h_i"], outcomes=spec.get("outcomes", ()))
    return DiscreteModel.from_json(spec)


def _check_keys(spec: Any, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    if not isinstance(spec, dict):
        raise ValueError(f"a CCT model must be a JSON object, got {type(spec).__name__}")
    missing = [k for k in required if k not in spec]
    if missing:
        raise ValueError(f"CCT model lacks {', '.join(missing)} (needs {', '.join(required)}; over K > 2 "
                         "outcomes p_t_given_h_i in place of p_t1_given_h_i)")
    known = required + optional
    unknown = [k for k in spec if k not in known and not str(k).startswith("_")]
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} in CCT model (known: {', '.join(known)}; "
                         "keys starting with '_' are comments)")


def _hidden_and_images(p_h: Any, p_i_given_h: Any) -> tuple[np.ndarray, np.ndarray]:
    """P(H) and P(I | H), checked: probabilities, shapes that agree, sums of 1."""
    p_h = _probabilities("p_h", p_h, 1)
    p_i_given_h = _probabilities("p_i_given_h", p_i_given_h, 2)
    n_h = p_i_given_h.shape[0]
    if len(p_h) != n_h:
        raise ValueError(f"p_h has {len(p_h)} entries but p_i_given_h has {n_h} rows (one per h)")
    if abs(p_h.sum() - 1) > 1e-6:
        raise ValueError(f"p_h must sum to 1, sums to {p_h.sum():.6g}")
    bad = np.flatnonzero(np.abs(p_i_given_h.sum(axis=1) - 1) > 1e-6)
    if len(bad):
        raise ValueError(f"p_i_given_h row {bad[0]} must sum to 1, sums to {p_i_given_h[bad[0]].sum():.6g}")
    return p_h, p_i_given_h


MAX_STATES = 10_000          # values of H or of I a model file may have
MAX_MODEL_FILE_BYTES = 64 * 1024**2


def read_cct_model(path: str | os.PathLike, max_bytes: int = MAX_MODEL_FILE_BYTES) -> DiscreteModel | OutcomeModel:
    """The model of a CCT file (JSON, see model_from_json); any problem is one ValueError line that
    starts with the file's name."""
    path = Path(path)
    try:
        return model_from_json(_read_json(path, max_bytes))
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


def _too_long(value: Any, depth: int) -> bool:
    """Some axis of nested lists (or an array) longer than MAX_STATES."""
    if isinstance(value, np.ndarray):
        return any(n > MAX_STATES for n in value.shape)
    return depth > 0 and (len(value) > MAX_STATES or any(_too_long(v, depth - 1) for v in value))


def _probabilities(name: str, value: Any, ndim: int) -> np.ndarray:
    nested = {1: "a list", 2: "a list of lists", 3: "a list of lists of lists"}[ndim]
    if not _numbers_only(value, ndim):
        raise ValueError(f"{name} must be {nested} of numbers (no strings, true/false or null)")
    if _too_long(value, ndim):
        raise ValueError(f"{name} has more than {MAX_STATES:,} entries per axis (the limit)")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be {nested} of numbers") from None
    if arr.ndim != ndim or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty {'list' if ndim == 1 else nested + ' of equal lengths'}"
                         f" of numbers, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{name} must hold probabilities in [0, 1]")
    return arr


def cct(model: DiscreteModel | OutcomeModel, tol: float = 1e-3) -> dict[str, Any]:
    """Exact observational and causal partitions of a discrete model and how they relate.

    Probabilities within `tol` are equal (a chain of small gaps is one class); over K > 2 outcomes two
    distributions are equal when their total variation distance is within `tol`. An image with
    P(I=i) = 0 has no P(T | I=i): its p_obs is None and it belongs to no observational class; the
    relation compares Πo with Πc restricted to the observed images (it still has a causal class).
    """
    p_obs, p_causal = model.p_obs(), model.p_causal()
    observed = np.isfinite(p_obs) if p_obs.ndim == 1 else np.isfinite(p_obs).all(axis=1)
    seen = np.flatnonzero(observed)
    obs_labels = partition_answers(p_obs[seen], tol)
    causal_labels = partition_answers(p_causal, tol)
    result: dict[str, Any] = {
        "observational_partition": cells(seen, obs_labels),
        "causal_partition": cells(np.arange(len(p_causal)), causal_labels),
        "p_obs": [_number_or_row(p) if ok else None for p, ok in zip(p_obs, observed)],
        "p_causal": [_number_or_row(p) for p in p_causal],
        "relation": partition_relation(obs_labels, causal_labels[seen]),
    }
    if isinstance(model, OutcomeModel):
        result["outcomes"] = list(model.outcomes)
    return result


def _number_or_row(p: Any) -> float | list[float]:
    return float(p) if np.ndim(p) == 0 else [float(v) for v in p]
