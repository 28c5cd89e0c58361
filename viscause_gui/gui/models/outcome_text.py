"""How the app names an answer or a class level in words (Qt-free).

A binary T (K = 2) keeps the app's numbers: a level is P(T=1), shown as "0.83". Over K > 2 outcomes a
level is a distribution over the outcomes; a table cell or a list entry shows its most likely outcome
("mostly 'square' (0.93)") and a tooltip the whole row ("left 0.03 · square 0.93 · right 0.04").
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def many(names: Sequence[str] | None) -> bool:
    """T has more than two outcomes (None: no data set, as binary)."""
    return names is not None and len(names) > 2


def _row(level: Any) -> np.ndarray | None:
    """A level as a finite distribution, or None ('?', no answer)."""
    row = np.asarray(level, np.float64).reshape(-1)
    return row if row.size and np.isfinite(row).all() else None


def most_likely(level: Any, names: Sequence[str]) -> str:
    """"mostly 'square' (0.93)" for a distribution, "?" for none."""
    row = _row(level)
    if row is None:
        return "?"
    k = int(np.argmax(row))
    return f"mostly '{names[k]}' ({row[k]:.2f})"


def distribution(level: Any, names: Sequence[str], digits: int = 2) -> str:
    """"left 0.03 · square 0.93 · right 0.04": every outcome with its probability ("?" for none)."""
    row = _row(level)
    if row is None:
        return "?"
    return " · ".join(f"{name} {p:.{digits}f}" for name, p in zip(names, row))


UNKNOWN = "–"        # a table cell without a level


def level_text(level: Any, names: Sequence[str] | None) -> str:
    """A class level or an answer in a table cell: "0.83" (binary), "mostly 'up' (0.61)" (K > 2), "–" unknown."""
    if _row(level) is None:
        return UNKNOWN
    if many(names):
        assert names is not None
        return most_likely(level, names)
    return f"{float(np.asarray(level, np.float64).reshape(-1)[-1]):.2f}"


def level_tooltip(level: Any, names: Sequence[str] | None) -> str:
    """The whole distribution behind `level_text` over K > 2 outcomes ("" for a binary T)."""
    return distribution(level, names) if many(names) and names is not None else ""


def target_name(k: int, level: Any, names: Sequence[str] | None) -> str:
    """A causal class in the manipulator's target list: "C = 1   (P(T=1|man) = 0.83)" (binary) or
    "C1: mostly 'square' (0.93)" (K > 2)."""
    if many(names):
        assert names is not None
        return f"C{k}: {most_likely(level, names)}"
    return f"C = {k}   (P(T=1|man) = {float(np.asarray(level).reshape(-1)[-1]):.2f})"

