"""A sweep's spec and folder (docs/sweeps.md, docs/formats.md §10), without Ray.

A spec (TOML) names what runs (a built-in experiment or data sets), fixed `viscause run` options, a
grid (the cartesian product of some options' values) and/or a list of cells. Each cell is one
`viscause run` command line; the CLI checks it with the very parser `viscause run` uses. Here: the
spec read into cells, their readable names, the record of the spec in the sweep folder (a rerun
with another spec is refused), and which cells a rerun skips.
"""
from __future__ import annotations

import csv
import itertools
import json
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from viscause_gui.core.store.atomic import atomic_write

RECORD_FILE = "sweep.json"       # the sweep's cells as they were first run
CELLS_DIR = "cells"              # DIR/cells/<name>/: one ordinary run folder per cell
MARKER_FILE = ".sweep_cell.json"  # written atomically once the cell's run has ended: status, seconds, memory
STARTED_FILE = ".sweep_started"  # written when a cell's task starts (the progress counts it as running)
LOG_FILE = "run.log"             # the run's stdout and stderr
ERROR_FILE = "error.txt"         # a failed cell: why (the end of its log)
CSV_FILE = "sweep.csv"           # one row per cell (sweep_results.write_csv)
MERR_FIGURE = "sweep_merr.png"   # MErr per iteration, one line per cell
SEEDS_FIGURE = "sweep_seeds.png"  # MErr per iteration: mean and range over seeds, one line per setting
MAX_CSV_BYTES = 64 * 2**20       # a sweep.csv the app reads: far more than any sweep's table
FINISHED = ("done", "waiting")   # a rerun skips these; a failed cell runs again
PERSON_ORACLES = ("human", "share")
RESERVED = {"out": "each cell's folder is DIR/cells/<name>", "threads": "torch's threads follow --cpus-per-cell",
            "help": "not a run option"}
_TOP_KEYS = ("experiment", "data", "oracle", "options", "grid", "cells")
_TARGET_KEYS = ("experiment", "data")
_NAME_CHARS = re.compile(r"[^A-Za-z0-9._+=-]+")
MAX_NAME = 120


class SweepError(ValueError):
    """A spec or a sweep folder that cannot go; one line for the user."""


Value = bool | int | float | str | list


@dataclass(frozen=True)
class Cell:
    """One run of the sweep: what runs (an experiment's name or a data set's path) and its options."""

    name: str
    target: str
    options: tuple[tuple[str, Value], ...]       # (option name with dashes, value), in the spec's order

    def argv(self) -> list[str]:
        """The `viscause run` arguments, without --out and --threads (the sweep adds them)."""
        args = ["run", self.target]
        for key, value in self.options:
            args += option_args(key, value)
        return args

    def option(self, key: str) -> Value | None:
        return dict(self.options).get(key)

    def with_option(self, key: str, value: Value) -> Cell:
        """The same cell with this option's value (e.g. the command line's --oracle over the spec's)."""
        return Cell(self.name, self.target, (*((k, v) for k, v in self.options if k != key), (key, value)))


def option_args(key: str, value: Value) -> list[str]:
    """--key=value (a value may start with '-'); true: the bare flag, false: nothing; a list: the flag
    repeated (e.g. --invariant)."""
    flag = f"--{key}"
    if isinstance(value, bool):
        return [flag] if value else []
    if isinstance(value, list):
        return [f"{flag}={item}" for item in value]
    return [f"{flag}={value}"]


@dataclass(frozen=True)
class SweepSpec:
    cells: tuple[Cell, ...]
    text: str


def read_spec(path: Path) -> SweepSpec:
    """The spec file's cells; SweepError (one line) for anything it cannot be."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"{path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    return parse_spec(text, Path(path).resolve().parent, str(path))


def parse_spec(text: str, base: Path, where: str = "the spec") -> SweepSpec:
    """The cells of a spec's text; relative data and model paths are taken from `base`."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"{where}: not valid TOML ({exc})") from None
    unknown = sorted(set(doc) - set(_TOP_KEYS))
    if unknown:
        raise SweepError(f"{where}: unknown key {unknown[0]!r}; a spec has {', '.join(_TOP_KEYS)}")
    targets = _targets(doc, base, where)
    fixed = _options(doc.get("options", {}), f"{where}: [options]", base)
    if "oracle" in doc:
        fixed = {**fixed, "oracle": _oracle(_scalar(doc["oracle"], f"{where}: oracle"), base, f"{where}: oracle")}
    runs = _grid_runs(doc, targets, fixed, base, where) + _listed_runs(doc, targets, fixed, base, where)
    if not runs:
        raise SweepError(f"{where}: no cells: give a [grid] (option = [values, ...]) or [[cells]]")
    return SweepSpec(_named(runs, where), text)


def _targets(doc: dict[str, Any], base: Path, where: str) -> list[str]:
    targets = [*_strings(doc.get("experiment", []), f"{where}: experiment"),
               *(_resolve(p, base) for p in _strings(doc.get("data", []), f"{where}: data"))]
    if not targets:
        raise SweepError(f"{where}: name what runs: experiment = \"grating\" (a built-in experiment) or "
                         "data = \"set.npz\" (a data set, or a list of them)")
    return targets


def _strings(value: Any, where: str) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and v for v in values):
        raise SweepError(f"{where}: must be a name or path, or a list of them")
    return values


def _resolve(path: str, base: Path) -> str:
    return str(Path(path) if Path(path).is_absolute() else base / path)


def _key(key: str, where: str) -> str:
    name = key.replace("_", "-")
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        raise SweepError(f"{where}: {key!r} is not an option name (e.g. seed, n-obs, queries-by)")
    if name in RESERVED:
        raise SweepError(f"{where}: {name} is not a sweep option: {RESERVED[name]}")
    if name in _TARGET_KEYS:
        raise SweepError(f"{where}: {name} goes at the top of the spec or in [[cells]], not among the options")
    return name


def _scalar(value: Any, where: str) -> Value:
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, int | float | str) and not isinstance(v, bool)
                                                 for v in value):
        return list(value)                # a repeated option, e.g. invariant = ["shifts", "flips"]
    raise SweepError(f"{where}: must be a number, a string, true/false or a list of those (got {value!r})")


def _oracle(value: Value, base: Path, where: str) -> Value:
    """A spec's oracle: never one that needs a person, never code (python:); model files from `base`."""
    if not isinstance(value, str):
        raise SweepError(f"{where}: an oracle is a string, e.g. \"truth\" or \"onnx:model.onnx\"")
    if value in PERSON_ORACLES:
        raise SweepError(f"{where}: --oracle {value} needs a person; a sweep runs unattended (offline cells stop "
                         "at their first batch and wait)")
    if value.startswith("python:"):
        raise SweepError(f"{where}: a spec is data and never names code to run: pass --oracle {value} on the "
                         "viscause sweep command line instead (it applies to every cell)")
    kind, sep, file = value.partition(":")
    return f"{kind}:{_resolve(file, base)}" if sep and kind in ("torch", "onnx") else value


def _options(table: Any, where: str, base: Path) -> dict[str, Value]:
    if not isinstance(table, dict):
        raise SweepError(f"{where}: must be a table of option = value")
    options = {}
    for key, value in table.items():
        name = _key(key, where)
        options[name] = _scalar(value, f"{where}: {key}")
        if name == "oracle":
            options[name] = _oracle(options[name], base, f"{where}: {key}")
    return options


def _grid_runs(doc: dict[str, Any], targets: list[str], fixed: dict[str, Value], base: Path,
               where: str) -> list[tuple[str, dict[str, Value]]]:
    """The cartesian product of the targets and the grid's values, over the fixed options."""
    if "grid" not in doc and "cells" in doc:
        return []
    grid = doc.get("grid", {})
    if not isinstance(grid, dict):
        raise SweepError(f"{where}: [grid] must be a table of option = [values, ...]")
    axes = []
    for key, values in grid.items():
        name = _key(key, f"{where}: [grid]")
        if not isinstance(values, list):
            raise SweepError(f"{where}: [grid] {key} must be a list of values, e.g. {key} = [0, 1, 2]")
        if not values:
            raise SweepError(f"{where}: [grid] {key} = []: an empty grid has no cells")
        checked = [_scalar(v, f"{where}: [grid] {key}") for v in values]
        if name == "oracle":
            checked = [_oracle(v, base, f"{where}: [grid] {key}") for v in checked]
        axes.append([(name, v) for v in checked])
    if not axes and "cells" not in doc and len(targets) == 1:
        raise SweepError(f"{where}: the grid is empty: give [grid] option = [values, ...] or [[cells]]")
    return [(target, {**fixed, **dict(combo)}) for target in targets for combo in itertools.product(*axes)]


def _listed_runs(doc: dict[str, Any], targets: list[str], fixed: dict[str, Value], base: Path,
                 where: str) -> list[tuple[str, dict[str, Value]]]:
    listed = doc.get("cells", [])
    if not isinstance(listed, list) or not all(isinstance(c, dict) for c in listed):
        raise SweepError(f"{where}: cells must be [[cells]] tables of option = value")
    runs = []
    for i, table in enumerate(listed, 1):
        here = f"{where}: cell {i}"
        own = {k: v for k, v in table.items() if k in _TARGET_KEYS}
        if len(own) > 1 or (not own and len(targets) > 1):
            raise SweepError(f"{here}: name one experiment or data set (the spec has {len(targets)})")
        target = targets[0]
        if "experiment" in own:
            target = _strings(own["experiment"], here)[0]
        elif "data" in own:
            target = _resolve(_strings(own["data"], here)[0], base)
        options = _options({k: v for k, v in table.items() if k not in _TARGET_KEYS}, here, base)
        runs.append((target, {**fixed, **options}))
    return runs


def _label(value: Value, is_target: bool) -> str:
    if is_target:
        return Path(str(value)).stem
    if isinstance(value, list):
        return "+".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _named(runs: list[tuple[str, dict[str, Value]]], where: str) -> tuple[Cell, ...]:
    """Each run named by what varies across the sweep, e.g. alpha-0.3_seed-2; the same run twice is refused."""
    keys = list(dict.fromkeys(k for _, options in runs for k in options))
    varying = [k for k in keys if len({json.dumps(o.get(k)) for _, o in runs}) > 1]
    many_targets = len({t for t, _ in runs}) > 1
    cells: list[Cell] = []
    seen: dict[str, int] = {}
    for target, options in runs:
        parts = ([_label(target, True)] if many_targets else []) + [
            f"{k}-{_label(options[k], False)}" if k in options else f"no-{k}" for k in varying]
        base_name = _NAME_CHARS.sub("-", "_".join(parts) or "run")[:MAX_NAME].strip("-_.") or "run"
        cell = Cell("", target, tuple(options.items()))
        twin = next((c for c in cells if c.target == target and dict(c.options) == options), None)
        if twin is not None:
            raise SweepError(f"{where}: the cell {twin.name} is listed twice")
        seen[base_name] = seen.get(base_name, 0) + 1
        name = base_name if seen[base_name] == 1 else f"{base_name}-{seen[base_name]}"
        cells.append(Cell(name, target, cell.options))
    return tuple(cells)


# ---------------------------------------------------------------- the sweep folder

def cell_folder(out: Path, cell_name: str) -> Path:
    return Path(out) / CELLS_DIR / cell_name


def check_record(out: Path, spec_text: str, commands: dict[str, list[str]]) -> None:
    """Record the sweep's cells in DIR/sweep.json, or check that a rerun's are the same: a sweep folder
    holds one sweep (commands: cell name -> its command line, --threads and a command-line oracle included)."""
    path = Path(out) / RECORD_FILE
    if path.exists():
        try:
            earlier = json.loads(path.read_text(encoding="utf-8")).get("cells")
        except (OSError, ValueError, AttributeError) as exc:
            raise SweepError(f"{path}: damaged ({exc}); choose another --out") from None
        if earlier != commands:
            raise SweepError(f"--out {out} holds another sweep (its {RECORD_FILE} lists other cells or options); "
                             "rerun that spec to resume it, or choose another --out")
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    record = {"version": 1, "cells": commands, "spec": spec_text}
    atomic_write(path, lambda f: f.write(json.dumps(record, indent=2).encode("utf-8")))


def read_record(out: Path) -> dict[str, Any]:
    """A sweep folder's record (its cells' command lines and spec); SweepError if it is not a sweep folder."""
    path = Path(out) / RECORD_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SweepError(f"{out}: not a sweep folder (no readable {RECORD_FILE}: {exc})") from None
    if not (isinstance(record, dict) and isinstance(record.get("cells"), dict)):
        raise SweepError(f"{path}: has no 'cells'")
    return record


def read_marker(folder: Path) -> dict[str, Any] | None:
    """A cell's end marker (status, returncode, seconds, peak_mib, tries), None while it has not ended."""
    try:
        marker = json.loads((Path(folder) / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and marker.get("status") in ("done", "waiting", "failed") else None


def cells_to_run(out: Path, names: Iterable[str]) -> list[str]:
    """The cells a (re)run still has to run: those without a done or waiting marker."""
    return [n for n in names if (read_marker(cell_folder(out, n)) or {}).get("status") not in FINISHED]


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """sweep.csv's columns and rows (the app's table); SweepError for a file that is not one."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise SweepError(f"{path}: larger than {MAX_CSV_BYTES // 2**20} MiB; not a sweep's table")
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            columns = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SweepError(f"{path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    if columns[:2] != ["cell", "status"]:
        raise SweepError(f"{path}: not a sweep's table (its first columns must be cell, status)")
    return columns, rows


def status_counts(statuses: Sequence[str]) -> dict[str, int]:
    return {s: sum(1 for x in statuses if x == s) for s in ("done", "waiting", "failed")}
