"""Which key answers which of T's outcomes, for a person answering over K > 2 outcomes (the Oracle (label)
panel and the share page use the same keys).

- Names that are single digits ("0".."9", or a rating "1".."5"): the digit itself.
- Otherwise the names' first letters (lower case), when they differ and none is a key with another use
  (``s`` skips an image in the panel, ``?`` means "can't tell").
- Otherwise, up to ten outcomes: the digits 0, 1, ... in the outcomes' order; more than ten: 0-9, then
  the letters a, b, c, ... (``s`` left out).

'?' is always "can't tell". A binary T keeps its own keys (1/y yes, 0/n no), not these.
"""
from __future__ import annotations

import string
from collections.abc import Sequence

UNKNOWN_KEY = "?"
RESERVED = frozenset({"s", UNKNOWN_KEY})       # s: skip (the panel); ?: can't tell


def outcome_keys(names: Sequence[str]) -> tuple[str, ...]:
    """One key (a single lower-case character) per outcome, in the outcomes' order."""
    names = list(names)
    if all(len(n) == 1 and n in string.digits for n in names) and len(set(names)) == len(names):
        return tuple(names)
    first = [n[:1].lower() for n in names]
    if (len(set(first)) == len(first)
            and all(c in string.ascii_lowercase + string.digits and c not in RESERVED for c in first)):
        return tuple(first)
    spare = [c for c in string.digits + string.ascii_lowercase if c not in RESERVED]
    return tuple(spare[:len(names)])


def key_index(keys: Sequence[str], text: str) -> int | None:
    """The outcome a typed character answers (upper case as lower), or None."""
    text = text.lower()
    return keys.index(text) if len(text) == 1 and text in keys else None
