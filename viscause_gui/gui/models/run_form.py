"""The run settings a person chooses in the Learning panel, as one Qt-free model with one set of keys.

The panel's controls show it and write to it; a session saves it (`to_json`) and reads it back
(`update`), a lesson applies its settings through `update` and records `to_json`'s. Keys saved by
older sessions ("retrain") are read under their new names; a malformed or out-of-range value is
left at what it was, so a damaged session or lesson never breaks the panel.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from viscause_gui.core.method.limits import LEARNING_LIMITS, check_number
from viscause_gui.core.method.oracles import Oracle
from viscause_gui.core.method.plugged_oracles import DEFAULT_TIMEOUT, load_plugged_oracle
from viscause_gui.core.method.query_choice import DEFAULT_CHOICE, QUERY_CHOICES, RANDOM


class OracleKind(StrEnum):
    """Who answers P(T=1 | man(I)) (strings, so that sessions and lessons stay plain JSON)."""

    TRUTH = "truth"              # the exact generative model, where an experiment knows it
    MODEL = "model"              # a classifier trained on the data set's labels
    HUMAN = "human"              # a person, in the queue (or a class, through the share page)
    PYTHON = "python"            # a Python function a person plugs in
    MODEL_FILE = "model_file"    # a torch or ONNX model file a person plugs in


ORACLE_KEYS = tuple(OracleKind)
PLUGGED = (OracleKind.PYTHON, OracleKind.MODEL_FILE)   # oracle choices that ask for a file (plugged_oracles)
NUMBERS = ("label", "iterations", "queries", "alpha", "seed", "epochs", "retrain_epochs")
OLD_NAMES = {"retrain": "retrain_epochs"}     # sessions saved before the keys were one set

Changed = set[str]                      # the keys whose values changed
Listener = Callable[[Changed], None]


@dataclass(frozen=True)
class PluggedChoice:
    """An oracle a person plugged in: a spec of core.method.plugged_oracles and, for a model file,
    the class whose probability is P(T=1)."""

    spec: str                    # "python:FILE.py:FUNCTION", "torch:FILE" or "onnx:FILE"
    positive_class: int = 1

    def load(self, image_shape: tuple[int, ...] | None = None, outcomes: int = 2) -> Oracle:
        """The checked oracle answering over `outcomes` (K) outcomes (OracleLoadError when it cannot be loaded)."""
        return load_plugged_oracle(self.spec, self.positive_class, DEFAULT_TIMEOUT, image_shape, outcomes)


@dataclass
class RunForm:
    """What the next run uses: the oracle, T's label (data with labels only) and the run's numbers."""

    oracle: str = OracleKind.TRUTH
    label: int = 7
    iterations: int = 5
    queries: int = 100
    queries_by: str = DEFAULT_CHOICE
    alpha: float = 0.5
    seed: int = 0
    epochs: int = 30
    retrain_epochs: int = 5
    _listeners: list[Listener] = field(default_factory=list, repr=False, compare=False)

    def subscribe(self, listener: Listener) -> None:
        """`listener(changed_keys)` after every change."""
        self._listeners.append(listener)

    def set(self, **values: Any) -> Changed:
        """Change settings (ValueError for an unknown key or a bad value, nothing changed then); returns
        the keys whose value changed, after telling the listeners."""
        checked = {key: _checked(key, value) for key, value in values.items()}
        changed = {key for key, value in checked.items() if getattr(self, key) != value}
        for key in changed:
            setattr(self, key, checked[key])
        if changed:
            for listener in list(self._listeners):
                listener(changed)
        return changed

    def update(self, saved: Any, oracles: tuple[str, ...] = ORACLE_KEYS) -> Changed:
        """Take what a session or lesson saved: the valid values of known keys (old names too), each on
        its own, the oracle only if it is one of `oracles` (those the data set allows)."""
        if not isinstance(saved, dict):
            return set()
        good: dict[str, Any] = {}
        for key, value in saved.items():
            key = OLD_NAMES.get(str(key), str(key))
            if key == "oracle" and value not in oracles:
                continue
            try:
                good[key] = _checked(key, value)
            except ValueError:
                continue
        return self.set(**good)

    def restore_session(self, saved: Any, oracles: tuple[str, ...] = ORACLE_KEYS) -> Changed:
        """`update` with a session's learning settings; one saved before "queries by" existed ran random
        queries."""
        if isinstance(saved, dict) and "queries_by" not in saved:
            saved = {**saved, "queries_by": RANDOM}
        return self.update(saved, oracles)

    def to_json(self) -> dict[str, Any]:
        """Every setting under its one key (what sessions and lessons save), as plain JSON values."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        return {**values, "oracle": str(self.oracle)}


def _checked(key: str, value: Any) -> Any:
    if key == "oracle":
        if value not in ORACLE_KEYS:
            raise ValueError(f"'oracle' must be one of {', '.join(ORACLE_KEYS)}, got {value!r}")
        return OracleKind(value)
    if key == "queries_by":
        if value not in QUERY_CHOICES:
            raise ValueError(f"'queries_by' must be one of {', '.join(QUERY_CHOICES)}, got {value!r}")
        return value
    if key not in NUMBERS:
        raise ValueError(f"no run setting {key!r}")
    limit = LEARNING_LIMITS[key]
    if not limit.integer and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return check_number(value, key, limit.lo, limit.hi, limit.integer)

