"""The paper's MNIST experiment as one run: T = the digit a person reads, ten outcomes "0".."9".

The paper trained ten one-vs-all manipulators ("does this image show a 7?") because its T was
binary. Here T has ten outcomes and one run learns them all (`viscause run mnist --outcomes ten`):

- `ten_digits`: the causal data (every pool image, the ten digits' observational classes =
  the labels, p_obs the one-hot rows of the labels over the ten outcomes) and a held-out split
  of every digit, as `mnist.one_vs_all` makes its pool and held-out images.
- `TenDigitOracle`: the model oracle of the one-vs-all run (the same panel of reference nets and
  its '?' check), answering over ten digits: each annotator votes for its most probable digit or
  says '?'; the answer is the share of votes per digit among those who voted, a row of NaN ('?')
  when half or more said '?' or the leading digits tie, or when the image does not look like a digit.
- `run_ten`: Algorithms 1 and 2 with the manifold manipulator towards any other causal class,
  into a run folder like the one-vs-all run's, plus `ten_by_ten.png`.
- `plot_ten_by_ten`: the paper's Figure 6, complete: row i a held-out digit i, column j it made
  into j by the final manipulator (the diagonal: the original).
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.data.outcomes import one_hot
from viscause_gui.core.experiments.mnist import (IMAGE_SHAPE, N_DIGITS, UNSURE_BELOW, _median, digit_grid,
                                                 draw_digit, oracle_training, panel_probabilities, panel_spec,
                                                 reading_report, run_config, split_per_label)
from viscause_gui.core.experiments.registry import Progress, RunRequest
from viscause_gui.core.method.experiment import Experiment, QueryBatch, train_generative_model
from viscause_gui.core.method.oracles import ManifoldCheck
from viscause_gui.core.nets.training import run_to_end
from viscause_gui.core.store.figures import plot_history
from viscause_gui.core.store.rundir import run_to_folder, save_history, save_model

OUTCOMES = tuple(str(d) for d in range(N_DIGITS))
FIGURE_NAME = "ten_by_ten.png"


@dataclass
class TenDigitTask:
    """data: every pool image, T over ten outcomes; pool: the same images (the oracle and the
    generative model train on them); heldout: `heldout_per_digit` images of every digit, seen by no net."""

    data: Dataset
    pool: Dataset
    heldout: Dataset
    seed: int
    meta: dict[str, Any] = field(default_factory=dict)


def _ten(images: np.ndarray, labels: np.ndarray, name: str, meta: dict[str, Any]) -> Dataset:
    labels = labels.astype(np.int64)
    return Dataset(images=images, labels=labels, obs_class=labels, p_obs=one_hot(labels, N_DIGITS),
                   meta={**meta, "outcomes": list(OUTCOMES)}, name=name, outcomes=OUTCOMES)


def ten_digits(seed: int = 0, heldout_per_digit: int = 100, source: Dataset | None = None) -> TenDigitTask:
    """Split the MNIST subset: per digit `heldout_per_digit` held-out images, the rest the pool (same seed,
    same split). The causal data is the pool in a seeded order."""
    from viscause_gui.core.data.builtin import load_mnist_subset

    source = source if source is not None else load_mnist_subset()
    if source.labels is None or tuple(source.shape) != IMAGE_SHAPE:
        raise ValueError(f"{source.name}: the ten-digit experiment needs 28x28 images labelled with their digit")
    labels = np.asarray(source.labels).astype(np.int64)
    if sorted(set(labels.tolist())) != list(range(N_DIGITS)):
        raise ValueError(f"{source.name}: the ten-digit experiment needs every digit 0..9 among the labels")
    rng = np.random.default_rng([seed, N_DIGITS, 1])
    pool_idx, held_idx = split_per_label(labels, heldout_per_digit, rng)     # every digit 0..9 is present
    pool_idx, held_idx = rng.permutation(pool_idx), np.sort(held_idx)
    meta = {"source": source.name, "seed": seed,
            "task": "ten outcomes: T = the digit a person reads; obs_class = causal class = the label"}
    pool = _ten(source.images[pool_idx], labels[pool_idx], "mnist_ten", meta)
    return TenDigitTask(data=pool, pool=pool,
                        heldout=_ten(source.images[held_idx], labels[held_idx], "mnist_ten_heldout", meta),
                        seed=seed, meta={**meta, "n_data": len(pool_idx), "n_heldout": len(held_idx)})


class TenDigitOracle:
    """Answers P(T | man(I)) over the ten digits, a row of NaN for '?'.

    One annotator: its class probabilities, NaN where the largest is below `unsure_below`. A panel:
    each annotator votes for its most probable digit ('?' below `unsure_below`); the answer is the
    share of votes per digit among those who voted, NaN when half or more said '?' or the leading
    digits tie. With a `check`, NaN for every image that does not look like a digit."""

    name = "model"

    def __init__(self, annotators: Sequence[nn.Module], unsure_below: float = UNSURE_BELOW,
                 check: ManifoldCheck | None = None):
        self.annotators = list(annotators)
        if not self.annotators:
            raise ValueError("the oracle needs at least one annotator")
        self.unsure_below = float(unsure_below)
        self.check = check

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """(annotators, N, 10) class probabilities."""
        return panel_probabilities(self.annotators, images)

    def answer(self, images: np.ndarray) -> np.ndarray:
        proba = self.probabilities(images)
        if len(self.annotators) == 1:
            out = proba[0].astype(np.float64)
            out[proba[0].max(1) < self.unsure_below] = np.nan
        else:
            out = _vote_shares(proba, self.unsure_below)
        if self.check is not None:
            out[~self.check.on_manifold(images)] = np.nan
        return out


def _vote_shares(proba: np.ndarray, unsure_below: float) -> np.ndarray:
    """(annotators, N, K) probabilities -> (N, K) shares of the votes, NaN rows where the panel is unsure."""
    annotators, n, k = proba.shape
    sure = proba.max(2) >= unsure_below
    counts = np.zeros((n, k))
    for a in range(annotators):
        counts[np.flatnonzero(sure[a]), proba[a].argmax(1)[sure[a]]] += 1
    answered = counts.sum(1)
    top = counts.max(1)
    tie = (counts == top[:, None]).sum(1) > 1
    with np.errstate(invalid="ignore", divide="ignore"):
        out = counts / answered[:, None]
    out[(2 * answered <= annotators) | tie] = np.nan
    return out


def train_ten_oracle(task: TenDigitTask, annotators: int, seed: int, epochs: int) -> TenDigitOracle:
    """The one-vs-all run's model oracle (mnist.oracle_training: the same nets, the same check), over ten digits."""
    panel = run_to_end(oracle_training(task.pool.images, task.pool.need("labels"), 0, seed, annotators, epochs))
    return TenDigitOracle(panel.annotators, panel.unsure_below, check=panel.check)


def read_digit(answers: np.ndarray) -> np.ndarray:
    """(N, 10) answers -> the digit read (its largest share), -1 for '?'."""
    answers = np.asarray(answers, np.float64)
    known = np.isfinite(answers).all(1)
    out = np.full(len(answers), -1, np.int64)
    out[known] = answers[known].argmax(1)
    return out


def ten_oracle_report(oracle: TenDigitOracle, heldout: Dataset) -> dict[str, float]:
    """The oracle on real held-out digits: accuracy of the digit read where it answered, and its '?' rate."""
    return reading_report(read_digit(oracle.answer(heldout.images)), heldout.need("labels"))


def class_digits(levels: np.ndarray) -> np.ndarray:
    """The digit of each causal class (its level's most probable outcome); ValueError unless one class per digit."""
    digits = np.asarray(levels).argmax(1)
    if sorted(digits.tolist()) != list(range(N_DIGITS)):
        raise ValueError(f"Algorithm 1 did not find one causal class per digit: the classes read as {digits.tolist()}")
    return digits


def ten_batch_summary(experiment: Experiment, batch: QueryBatch, digits: np.ndarray) -> dict[str, Any]:
    """One answered Algorithm 2 batch: MErr, the '?' rate, MErr among the answered, L2 of the accepted changes."""
    assert batch.answers is not None and batch.targets is not None and batch.distances is not None
    got = experiment.class_of_answer(batch.answers)
    ok = got == batch.targets
    return {"iteration": int(batch.iteration), "queries": len(batch), "merr": float(1 - ok.mean()),
            "unsure_rate": float((got < 0).mean()),
            "merr_answered": float(1 - ok[got >= 0].mean()) if (got >= 0).any() else None,
            "accepted": int(ok.sum()), "accepted_l2_median": _median(batch.distances[ok]),
            "l2_median": _median(batch.distances),
            "target_digits": np.bincount(digits[batch.targets], minlength=N_DIGITS).tolist()}


# ---------------------------------------------------------------- the figure

def figure_rows(heldout: Dataset, seed: int = 0) -> np.ndarray:
    """One held-out image of each digit, 0..9, drawn from the seed: the figure's rows."""
    rng = np.random.default_rng([seed, N_DIGITS, 6])
    labels = heldout.need("labels")
    return np.stack([heldout.images[rng.choice(np.flatnonzero(labels == d))] for d in range(N_DIGITS)])


def ten_by_ten(experiment: Experiment, rows: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """(10, 10, H, W): row i's image made into digit j by the experiment's manipulator; the diagonal is row i."""
    n = len(rows)
    class_of_digit = np.argsort(digits)
    starts = np.repeat(rows, n, axis=0)
    targets = np.tile(class_of_digit, n)
    grid = experiment.manipulate(starts, targets).images.reshape(n, n, *rows.shape[1:]).copy()
    grid[np.arange(n), np.arange(n)] = rows
    return grid


def ten_by_ten_figure(grid: np.ndarray, read: np.ndarray | None = None, title: str = "") -> Any:
    """The 10 x 10 figure (a matplotlib Figure on the Agg canvas): row i = digit i made into column j's
    digit, the diagonal (framed grey) the original. read: (10, 10) the digit someone read in each cell
    (-1: '?'), shown under it, with a green frame where it is j."""
    n = len(grid)
    fig, axes = digit_grid(n, n, (0.95 * n + 0.8, 1.05 * n + 0.7))
    for i in range(n):
        for j in range(n):
            ax = axes[i, j]
            draw_digit(ax, grid[i, j])
            if i == 0:
                ax.set_title(f"to {j}", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"a {i}", fontsize=8)
            if i == j:
                ax.spines[:].set_color("0.5")
                ax.spines[:].set_linewidth(2)
            elif read is not None:
                ax.set_xlabel(f"reads {'?' if read[i, j] < 0 else int(read[i, j])}", fontsize=6, labelpad=1)
                if read[i, j] == j:
                    ax.spines[:].set_color("tab:green")
                    ax.spines[:].set_linewidth(2)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_ten_by_ten(grid: np.ndarray, path: str | Path, read: np.ndarray | None = None, title: str = "") -> Path:
    """ten_by_ten_figure as a PNG."""
    path = Path(path)
    ten_by_ten_figure(grid, read, title).savefig(path, dpi=90)
    return path


# ---------------------------------------------------------------- the run

def run_ten(request: RunRequest, out: Path, progress: Progress) -> None:
    """`viscause run mnist --outcomes ten`: the run folder (see docs/formats.md) and ten_by_ten.png."""
    started = time.perf_counter()
    options = request.options
    annotators = options["annotators"]
    task = ten_digits(request.seed)
    progress(f"MNIST, T = the digit a person reads (ten outcomes): {len(task.data)} images, "
             f"{request.iterations} iterations x {request.queries} queries")
    progress(f"training the model oracle: {annotators} reference net(s) on {len(task.pool)} pool images")
    oracle = train_ten_oracle(task, annotators, request.seed, options["oracle_epochs"])
    heldout_report = ten_oracle_report(oracle, task.heldout)
    progress(f"oracle on {len(task.heldout)} held-out digits: accuracy {heldout_report['accuracy_answered']:.3f} "
             f"on answered, '?' {heldout_report['unsure_rate']:.3f}")
    experiment = Experiment(task.data, run_config(request))
    if experiment.uses_manifold:
        progress(f"training the generative model of the digits (the manifold manipulator's) on {len(task.pool)} "
                 "pool images")
        experiment.generative = run_to_end(train_generative_model(task.pool.images, experiment.config))
    summaries: list[dict[str, Any]] = []
    run_to_folder(experiment, oracle, out, progress, started,
                  lambda batch: summaries.append(ten_batch_summary(experiment, batch,
                                                                   class_digits(experiment.learned_levels))))
    digits = class_digits(experiment.learned_levels)
    rows = figure_rows(task.heldout, request.seed)
    grid = ten_by_ten(experiment, rows, digits)
    read = read_digit(oracle.answer(grid.reshape(-1, *IMAGE_SHAPE))).reshape(N_DIGITS, N_DIGITS)
    algorithm1 = sum(len(b) for b in experiment.batches if b.kind == "algorithm1")
    extra = {"experiment": "mnist", "outcomes_mode": "ten", "oracle": request.oracle, "annotators": annotators,
             "oracle_panel": [panel_spec(k, IMAGE_SHAPE, N_DIGITS) for k in range(annotators)],
             "unsure_below": oracle.unsure_below, "oracle_epochs": options["oracle_epochs"],
             "oracle_manifold_limit": None if oracle.check is None else oracle.check.limit,
             "n_data": len(task.data), "n_heldout": len(task.heldout), "oracle_heldout": heldout_report,
             "causal_class_digits": digits.tolist(), "iteration_summaries": summaries,
             "answers_used": {"algorithm1": algorithm1, "algorithm2": sum(s["queries"] for s in summaries)},
             "figure_oracle_reads": read.tolist(), "seconds_total": round(time.perf_counter() - started, 3)}
    save_history(out, experiment, extra)
    save_model(out, experiment)
    plot_history([{"label": "ten digits", "iterations": [r.to_json() for r in experiment.history]}],
                 out / "history.png", title="MNIST, T = the digit read (ten outcomes), model oracle",
                 distance_label="MDist (L2)")
    plot_ten_by_ten(grid, out / FIGURE_NAME, read,
                    title="held-out digit i (row) made into j (column) by the final manipulator; "
                          "under each: the model oracle's reading")
    on_target = np.mean([read[i, j] == j for i in range(N_DIGITS) for j in range(N_DIGITS) if i != j])
    progress(f"10 x 10 figure: the oracle reads the target digit in {100 * on_target:.0f} % of the 90 cells")
