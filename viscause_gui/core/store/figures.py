"""PNG figures made with matplotlib's Agg backend (no Qt): MErr and MDist per iteration."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def plot_history(records: Sequence[dict], path: str | Path, title: str = "",
                 distance_label: str = "MDist (pixels flipped)") -> Path:
    """Two panels: manipulation error and manipulation distance per iteration, one line per series.

    records: {"label": str, "iterations": [{"iteration", "merr", "mdist"}, ...]} per series.
    """
    fig = Figure(figsize=(9, 3.4))
    FigureCanvasAgg(fig)
    ax_err, ax_dist = fig.subplots(1, 2)
    for series in records:
        it = [r["iteration"] for r in series["iterations"]]
        ax_err.plot(it, [100 * r["merr"] for r in series["iterations"]], marker="o", ms=3, label=series["label"])
        ax_dist.plot(it, [r["mdist"] for r in series["iterations"]], marker="o", ms=3, label=series["label"])
    ax_err.set(xlabel="iteration", ylabel="MErr (% manipulations failed)", ylim=(0, 100))
    ax_dist.set(xlabel="iteration", ylabel=distance_label)
    ax_dist.set_ylim(bottom=0)
    for ax in (ax_err, ax_dist):
        ax.grid(alpha=0.3)
    ax_err.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path
