"""What the Oracle (label) panel says of the answers an image has: Qt-free text from the answer session's
counts (a binary T's fraction of yes, or over K > 2 outcomes the share of each outcome)."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def value_text(v: float) -> str:
    """A binary T's answer: yes (1), no (0), ? or a probability."""
    if not math.isfinite(v):
        return "?"
    if v == 1.0:
        return "yes (1)"
    if v == 0.0:
        return "no (0)"
    return f"{v:.2f}"


def binary_answers_text(value: float, disagreement: float, n: int, needed: int) -> str:
    """The answers of one image to a binary T: none yet, yours, or k of n with the fraction of yes."""
    if n == 0:
        return "not answered yet"
    if needed == 1 and n == 1:
        return f"your answer: {value_text(value)}"
    frac = "?" if not math.isfinite(value) else f"{value:.2f}"
    text = f"{n}/{needed} answers · yes fraction {frac}"
    return text + (f" · disagreement {disagreement:.2f}" if math.isfinite(disagreement) else "")


def given_outcome(shares: np.ndarray, n: int) -> tuple[int | None, bool]:
    """Over K > 2 outcomes: the outcome an image's answers give most (None: '?'), and whether it was the one
    answer given (a button to check)."""
    known = bool(np.isfinite(shares).all())
    given = int(np.argmax(shares)) if known else None
    return given, n > 0 and (not known or float(shares.max()) == 1.0)


def outcome_answers_text(shares: np.ndarray, disagreement: float, n: int, needed: int,
                         names: Sequence[str], keys: Sequence[str]) -> str:
    """The answers of one image over K > 2 outcomes: none yet, yours (name and key), or the share of each."""
    if n == 0:
        return "not answered yet"
    given, _ = given_outcome(shares, n)
    if needed == 1 and n == 1:
        return "your answer: ?" if given is None else f"your answer: {names[given]} [{keys[given]}]"
    known = bool(np.isfinite(shares).all())
    parts = ", ".join(f"{names[int(j)]} {shares[j]:.2f}" for j in np.flatnonzero(shares > 0)) if known else "?"
    text = f"{n}/{needed} answers · {parts}"
    return text + (f" · disagreement {disagreement:.2f}" if math.isfinite(disagreement) else "")
