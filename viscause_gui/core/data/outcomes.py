"""The outcomes of the behaviour T: how many (K, 2 to 20), their names, and answers over them.

A binary T (K = 2) is what the method was first written for and stays as it was everywhere: an answer
is one number, P(T = 1) in [0, 1] (NaN for '?'), an observational or causal level one number. With
K > 2 outcomes an answer is a distribution over them, one row of K probabilities summing to 1 (a row of
NaN for '?'); a single observed outcome is the one-hot row of that outcome. Classes are told apart by
the total variation distance between their answers, ½ Σ_k |p_k − q_k|, which for K = 2 is
|P(T=1) − P'(T=1)|: the tolerance means what it meant for a binary T.

Qt-free and torch-free; numpy only (the layers above all use it).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

MIN_OUTCOMES, MAX_OUTCOMES = 2, 20
MAX_NAME_CHARS = 100
OUTCOMES_KEY = "outcomes"         # the key of a data set's meta (and of the files that state K) naming them
ROW_SUM_TOLERANCE = 1e-4          # a distribution's row may sum to 1 within this (and is then rescaled to 1)


class OutcomeError(ValueError):
    """Outcome names or answers that cannot be used; the message says what is wrong."""


def default_names(k: int) -> tuple[str, ...]:
    """"0", "1", ..., "K-1": the names of outcomes nobody named."""
    return tuple(str(i) for i in range(int(k)))


def check_names(names: Any, where: str = "outcomes") -> tuple[str, ...]:
    """2 to 20 distinct, non-empty, printable names of at most 100 characters; OutcomeError otherwise."""
    if isinstance(names, (str, bytes)) or not isinstance(names, (list, tuple)):
        raise OutcomeError(f"{where} must be a list of {MIN_OUTCOMES} to {MAX_OUTCOMES} names, got "
                           f"{type(names).__name__}")
    if not MIN_OUTCOMES <= len(names) <= MAX_OUTCOMES:
        raise OutcomeError(f"{where} must name {MIN_OUTCOMES} to {MAX_OUTCOMES} outcomes, got {len(names)}")
    for name in names:
        if not (isinstance(name, str) and 0 < len(name) <= MAX_NAME_CHARS and name.isprintable()
                and name.strip() == name):
            shown = repr(name)[:40]
            raise OutcomeError(f"{where}: each name must be printable text of 1 to {MAX_NAME_CHARS} characters "
                               f"without leading or trailing spaces, got {shown}")
    if len(set(names)) != len(names):
        raise OutcomeError(f"{where}: the names must differ, got {', '.join(names)}")
    return tuple(names)


def describe_outcomes(names: Sequence[str]) -> str:
    """'3 outcomes (circle, square, triangle)' or 'binary (0, 1)'."""
    head = "binary" if len(names) == 2 else f"{len(names)} outcomes"
    return f"{head} ({', '.join(names)})"


# ---------------------------------------------------------------- answers

def one_hot(outcomes: Any, k: int) -> np.ndarray:
    """(N,) outcome indices (NaN: '?') -> (N, K) rows: 1 at the outcome, NaN rows for '?'."""
    values = np.asarray(outcomes, np.float64).reshape(-1)
    out = np.zeros((len(values), k), np.float64)
    known = np.isfinite(values)
    out[np.flatnonzero(known), values[known].astype(np.int64)] = 1.0
    out[~known] = np.nan
    return out


def outcome_answers(raw: Any, n: int, k: int) -> np.ndarray:
    """Answers to n images over K > 2 outcomes as (n, K) float64: each row a distribution, or NaN for '?'.

    Takes (n, K) probabilities (each row in [0, 1], summing to 1 within ROW_SUM_TOLERANCE, or all NaN)
    or (n,) outcome indices 0..K-1 (NaN for '?'), made one-hot. OutcomeError says what is wrong."""
    values = np.asarray(raw, np.float64)
    if values.shape == (n,) or values.shape == (n, 1):
        values = values.reshape(-1)
        finite = values[np.isfinite(values)]
        if np.isinf(values).any() or np.any((finite < 0) | (finite > k - 1) | (finite != np.round(finite))):
            bad = values[~np.isnan(values) & ~((values >= 0) & (values <= k - 1) & (values == np.round(values)))]
            raise OutcomeError(f"an outcome must be an integer from 0 to {k - 1} (or NaN for '?'), got {bad[0]:g}")
        return one_hot(values, k)
    if values.shape != (n, k):
        raise OutcomeError(f"shape {values.shape} for {n} images; expected ({n}, {k}): a distribution over the "
                           f"{k} outcomes per image, or ({n},): one outcome index per image")
    nan_rows = np.isnan(values).all(axis=1)
    rows = values[~nan_rows]
    if not np.isfinite(rows).all():
        raise OutcomeError("a row mixes NaN with numbers, or holds an infinite value; a row is a distribution "
                           "over the outcomes, or all NaN for '?'")
    if rows.size and (rows.min() < 0 or rows.max() > 1):
        raise OutcomeError(f"a probability outside [0, 1] ({rows.min() if rows.min() < 0 else rows.max():g})")
    sums = rows.sum(axis=1)
    if rows.size and np.abs(sums - 1).max() > ROW_SUM_TOLERANCE:
        worst = sums[np.argmax(np.abs(sums - 1))]
        raise OutcomeError(f"a row sums to {worst:.6g}, not 1; each row is a distribution over the {k} outcomes")
    out = values.copy()
    out[~nan_rows] = rows / sums[:, None]
    return out


def known(answers: Any) -> np.ndarray:
    """Per answer: True where it is not '?' ((N,) finite values, or (N, K) rows)."""
    a = np.asarray(answers, np.float64)
    return np.asarray(np.isfinite(a) if a.ndim == 1 else np.isfinite(a).all(axis=-1))


def distance(a: Any, b: Any) -> np.ndarray:
    """Total variation distance between answers, broadcast: |a − b| for binary P(T=1) values,
    ½ Σ_k |a_k − b_k| for distributions over K outcomes (the last axis)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim <= 1 and b.ndim <= 1:
        return np.abs(a - b)
    return 0.5 * np.abs(a - b).sum(axis=-1)


def expected_outcome(values: Any) -> np.ndarray:
    """Σ_k k·p_k per answer (P(T=1) itself for binary values): what orders classes."""
    v = np.asarray(values, np.float64)
    return v if v.ndim <= 1 else v @ np.arange(v.shape[-1], dtype=np.float64)


def mean_answer(values: Any) -> Any:
    """The mean of answers: a float for binary values, a distribution (K,) for rows."""
    v = np.asarray(values, np.float64)
    return float(v.mean()) if v.ndim == 1 else v.mean(axis=0)


def format_answer(value: Any, digits: int = 2) -> str:
    """'0.25' for a binary answer, '(0.87, 0.07, 0.07)' for a distribution, '?' for none."""
    v = np.asarray(value, np.float64)
    if v.ndim == 0:
        return "?" if math.isnan(float(v)) else f"{float(v):.{digits}f}"
    if not np.isfinite(v).all():
        return "?"
    return "(" + ", ".join(f"{x:.{digits}f}" for x in v) + ")"


def answer_to_json(value: Any, digits: int | None = None) -> Any:
    """A JSON value for one answer: a number or null (binary), a list of K numbers or null (distribution)."""
    v = np.asarray(value, np.float64)
    if v.ndim == 0:
        x = float(v)
        return None if not math.isfinite(x) else (round(x, digits) if digits is not None else x)
    if not np.isfinite(v).all():
        return None
    return [round(float(x), digits) if digits is not None else float(x) for x in v]
