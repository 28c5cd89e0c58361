"""A sweep's results, read from its cells' run folders (no Ray): DIR/sweep.csv and the summary figures.

Every figure comes from files a cell wrote (history.json, iteration_NN.npz, the sweep's marker), so
the table can be rebuilt at any time, e.g. while a sweep still runs or after a rerun.
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from viscause_gui.core.store.atomic import atomic_write
from viscause_gui.core.store.sweep import (CSV_FILE, ERROR_FILE, MERR_FIGURE, SEEDS_FIGURE, Cell, cell_folder,
                                           read_marker)

__all__ = ["CSV_FILE", "MERR_FIGURE", "SEEDS_FIGURE", "cell_row", "write_csv", "write_figures"]
_SKIPPED_SUMMARY = ("iteration", "queries", "merr", "target_digits")


def history_of(folder: Path) -> dict[str, Any] | None:
    """A run folder's history.json, None when there is none (yet) or it cannot be read."""
    try:
        history = json.loads((Path(folder) / "history.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return history if isinstance(history, dict) else None


def merr_curve(folder: Path) -> list[tuple[int, float]]:
    """(iteration, MErr) of each finished Algorithm 2 iteration."""
    history = history_of(folder) or {}
    return [(int(r["iteration"]), float(r["merr"])) for r in history.get("iterations", [])
            if isinstance(r, dict) and "iteration" in r and "merr" in r]


def answers_used(folder: Path) -> int:
    """The Algorithm 2 answers a run got (its iteration files' answers other than '?')."""
    total = 0
    for path in sorted(Path(folder).glob("iteration_[0-9][0-9]*.npz")):
        try:
            with np.load(path, allow_pickle=False) as z:
                answers = np.asarray(z["answers"], dtype=np.float64)
        except (OSError, KeyError, ValueError, EOFError):
            continue
        answered = ~np.isnan(answers) if answers.ndim == 1 else ~np.isnan(answers).all(axis=1)
        total += int(answered.sum())
    return total


def _judge_figures(config: dict[str, Any]) -> dict[str, Any]:
    """The figures the experiment's own judge wrote: its last iteration summary and the oracle's held-out check."""
    out: dict[str, Any] = {}
    summaries = config.get("iteration_summaries")
    if isinstance(summaries, list) and summaries and isinstance(summaries[-1], dict):
        out.update({f"judge_{k}": v for k, v in summaries[-1].items()
                    if k not in _SKIPPED_SUMMARY and _is_number(v)})
    heldout = config.get("oracle_heldout")
    if isinstance(heldout, dict):
        out.update({f"oracle_{k}": v for k, v in heldout.items() if _is_number(v)})
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def cell_row(out: Path, cell: Cell) -> dict[str, Any]:
    """One row of sweep.csv: the cell's options, its status and its run's figures."""
    folder = cell_folder(out, cell.name)
    marker = read_marker(folder) or {}
    history = history_of(folder) or {}
    iterations = [r for r in history.get("iterations", []) if isinstance(r, dict)]
    last = iterations[-1] if iterations else {}
    row: dict[str, Any] = {"cell": cell.name, "status": marker.get("status", "not run"), "run": cell.target}
    row.update({key: _text(value) for key, value in cell.options})
    row.update({"iterations": len(iterations), "merr": last.get("merr"), "mdist": last.get("mdist"),
                "answers": answers_used(folder), "seconds": marker.get("seconds"),
                "peak_mib": marker.get("peak_mib"), "tries": marker.get("tries")})
    config = history.get("config")
    row.update(_judge_figures(config if isinstance(config, dict) else {}))
    if row["status"] == "failed":
        row["error"] = _first_line(folder / ERROR_FILE)
    return row


def _text(value: Any) -> Any:
    return "+".join(str(v) for v in value) if isinstance(value, list) else value


def _first_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[0][:300] if lines else ""


def write_csv(out: Path, cells: Sequence[Cell]) -> Path:
    """DIR/sweep.csv, one row per cell; columns: every row's keys in first-seen order."""
    rows = [cell_row(out, c) for c in cells]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    if "error" in columns:
        columns.append(columns.pop(columns.index("error")))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _cell_text(row.get(k)) for k in columns} for row in rows)
    return atomic_write(Path(out) / CSV_FILE, lambda f: f.write(buffer.getvalue().encode("utf-8")))


def _cell_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value):
        return round(value, 6)
    return value


# ---------------------------------------------------------------- figures

def _setting(cell: Cell) -> str:
    """The cell's options but its seed: the cells of one setting differ only by seed."""
    parts = [f"{k}={_text(v)}" for k, v in cell.options if k != "seed"]
    return ", ".join([Path(cell.target).stem, *parts])


def write_figures(out: Path, cells: Sequence[Cell]) -> list[Path]:
    """sweep_merr.png (every cell) and sweep_seeds.png (mean and range over seeds per setting)."""
    curves = {c.name: merr_curve(cell_folder(out, c.name)) for c in cells}
    fig = Figure(figsize=(8, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for name, curve in curves.items():
        if curve:
            ax.plot(*zip(*[(i, 100 * m) for i, m in curve]), marker="o", ms=3, label=name)
    _finish(ax, fig, "MErr per iteration, each cell")
    paths = [_save(fig, Path(out) / MERR_FIGURE)]

    settings: dict[str, list[list[tuple[int, float]]]] = {}
    for cell in cells:
        if curves[cell.name]:
            settings.setdefault(_setting(cell), []).append(curves[cell.name])
    fig = Figure(figsize=(8, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for label, group in settings.items():
        iterations, mean, low, high = _spread(group)
        line = ax.plot(iterations, mean, marker="o", ms=3, label=f"{label} ({len(group)} seeds)")[0]
        ax.fill_between(iterations, low, high, color=line.get_color(), alpha=0.2)
    _finish(ax, fig, "MErr per iteration: mean and range over seeds")
    paths.append(_save(fig, Path(out) / SEEDS_FIGURE))
    return paths


def _spread(group: list[list[tuple[int, float]]]) -> tuple[list[int], list[float], list[float], list[float]]:
    """Per iteration reached by every seed: mean, min and max MErr (%)."""
    common = sorted(set.intersection(*(set(i for i, _ in curve) for curve in group)))
    values = np.array([[100 * dict(curve)[i] for i in common] for curve in group]).reshape(len(group), len(common))
    return common, values.mean(0).tolist(), values.min(0).tolist(), values.max(0).tolist()


def _finish(ax: Any, fig: Figure, title: str) -> None:
    ax.set(xlabel="iteration", ylabel="MErr (% manipulations failed)", ylim=(0, 100), title=title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    fig.tight_layout()


def _save(fig: Figure, path: Path) -> Path:
    return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
