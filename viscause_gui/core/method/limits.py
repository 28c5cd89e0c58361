"""The ranges of the learning settings a person sets: one definition for the Learning panel's spin
boxes, lessons and whatever else takes them, so that a lesson can hold no value the panel would
refuse. Qt-free.

`check_number` is the one rule for a number from a file against a range (a learning setting here,
a built-in data set's generator option from its `Option`): the right type (an integer where the
spin box counts, never a bool), finite, inside [lo, hi]. Its messages show the value with
`shown_value`, which never prints a huge integer in full (Python refuses to turn an integer of more
than 4,300 digits into text: the message itself would raise) and escapes control characters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from viscause_gui.core.data.user_files import printable


@dataclass(frozen=True)
class Limit:
    """A learning setting's range (the Learning panel's spin box)."""

    key: str
    lo: float
    hi: float
    integer: bool = True

    def check(self, value: Any) -> int | float:
        return check_number(value, self.key, self.lo, self.hi, self.integer)


LEARNING_LIMITS: dict[str, Limit] = {limit.key: limit for limit in (
    Limit("iterations", 1, 10_000),             # Algorithm 2 iterations N
    Limit("queries", 1, 100_000),               # queries Q per iteration
    Limit("alpha", 0.0, 1.0, integer=False),    # α of the manipulator
    Limit("seed", 0, 2**31 - 1),                # the experiment's seed
    Limit("epochs", 1, 10_000),                 # the first training
    Limit("retrain_epochs", 1, 10_000),         # each later retraining
    Limit("label", 0, 9999),                    # T = 1 for this label (digit mode)
    Limit("target", 0, 1000),                   # the Manipulator panel's target causal class
)}


def check_number(value: Any, key: str, lo: float, hi: float, integer: bool) -> int | float:
    """`value` as int (integer) or float when it is one inside [lo, hi]; ValueError with one line
    ("'seed' must be an integer, got 0.5", "'n' must lie in [10, 1000000], got 2000000") otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ValueError(f"{key!r} must be {'an integer' if integer else 'a number'}, got {shown_value(value)}")
    if not (isinstance(value, int) or math.isfinite(value)) or not lo <= value <= hi:
        raise ValueError(f"{key!r} must lie in [{_bound(lo, integer)}, {_bound(hi, integer)}], got "
                         f"{shown_value(value)}")
    return int(value) if integer else float(value)


def _bound(x: float, integer: bool) -> str:
    return str(int(x)) if integer else f"{x:g}"


def shown_value(value: Any, limit: int = 60) -> str:
    """A value from a file for a message: its repr, a huge integer by its size, at most `limit`
    characters, control characters escaped."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        try:
            return f"an integer of {len(str(abs(value))):,} digits"
        except ValueError:      # more digits than Python turns into text
            return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1:,} digits"
    try:
        text = repr(value)
    except (ValueError, RecursionError):       # a container holding a huge integer, or nested deep
        text = f"a {type(value).__name__} too large to show"
    return printable(text, limit)
