"""The MNIST experiment of the paper, headless: T = "a person says this image shows digit d".

Pieces (all Qt-free):
- `one_vs_all(d)`: the causal data for digit d — the digit's images and as many others,
  drawn deterministically from a seed — plus a held-out split (every digit) for testing the
  oracle and the baseline. The data set's `obs_class` is (label == d) and its `p_obs` is
  P(T=1 | I) read off the labels (1 for a d, 0 otherwise).
  For MNIST the observational and the causal partition are taken to coincide, as in the
  paper: whether an image shows a d is both what predicts T and what causes it (there is no
  hidden confounder that also draws something into the image). Algorithm 1 therefore asks
  the oracle about a few representatives of each of the two classes, gets two clearly
  different levels (about 0 and about 1) and merges nothing: causal class 1 = "shows d".
- `experiment_config`: the Experiment's settings for digits (an ensemble of three MLPs trained
  with adversarial copies of every batch, nets.training.RobustTraining: a small L2 change does
  not change the digit).
- `train_reference` / `DigitOracle`: the model oracle standing in for people. A reference
  classifier of a *different* architecture from the causal net (a small CNN over all ten
  digits; the causal net is a one-vs-all MLP), trained separately on the pool images, says
  P("this shows d"), or '?' (NaN) when its largest class probability is below a threshold.
  Several such annotators (different seeds; three in `viscause run mnist`) form a panel,
  like the paper's five people:
  the answer is the fraction of "yes" among those who answered, NaN when half or more say
  '?' or the votes tie.
- `nearest_real_baseline`: for each start image, the nearest real image of the target class
  (L2 over a pool of real images), its distance and whether the oracle accepts it.
- `batch_summary` / `baseline_summary`: per-iteration numbers for history.json and the benchmark.
- `plot_manipulation_rows`: the paper's figure, rows of digits each pushed through the
  manipulators of successive iterations (PNG through matplotlib's Agg canvas, no pyplot
  state, no Qt).

- `run_one_vs_all`: `viscause run mnist --digit d` into a run folder.

Registered as the experiment "mnist" by mnist_experiment.py, with the built-in digit data sets, the
digit recipe for any grey labelled data set (the GUI's digit mode) and the ten-outcome run (mnist_ten.py,
which builds on this module).
"""
from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from viscause_gui import __version__
from viscause_gui.core.data.builtin import load_mnist_subset
from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.experiments.registry import Progress, Recipe, RunRequest
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig, QueryBatch, train_generative_model
from viscause_gui.core.method.oracles import (CHECK_EPOCHS, CHECK_QUANTILE, CHECK_SLACK, ManifoldCheck,
                                              train_manifold_check)
from viscause_gui.core.nets.augment import jittered
from viscause_gui.core.nets.generative import ConvAutoencoder, generative_spec
from viscause_gui.core.nets.models import new_net, predict_proba
from viscause_gui.core.nets.training import RobustTraining, TrainConfig, TrainFn, TrainProgress, run_to_end, train_steps
from viscause_gui.core.store.figures import plot_history
from viscause_gui.core.store.model_cache import ModelCache, entry_key
from viscause_gui.core.store.rundir import run_to_folder, save_history, save_model

IMAGE_SHAPE = (28, 28)
N_DIGITS = 10

# The causal net (one-vs-all MLP, as the paper's maxout MLPs; the oracle is a CNN).
CAUSAL_NET = {"arch": "mlp", "hidden": [300]}
# The reference classifiers behind the model oracle: a panel of different architectures (the
# k-th annotator has the k-th, cyclically), each trained on jittered copies of the digits too.
REFERENCE_NET = {"arch": "cnn", "in_shape": list(IMAGE_SHAPE), "channels": [16, 32], "pool": True,
                 "hidden": [64], "n_classes": N_DIGITS}
PANEL = (REFERENCE_NET,
         {**REFERENCE_NET, "channels": [32, 32], "hidden": [128]},
         {"arch": "mlp", "in_shape": list(IMAGE_SHAPE), "hidden": [256, 128], "n_classes": N_DIGITS})
REFERENCE_EPOCHS = 8
JITTER_COPIES = 1          # jittered copies of every training digit (nets.augment)
ANNOTATORS = 3             # reference nets in the oracle's panel (`viscause run mnist` default)
UNSURE_BELOW = 0.5          # the oracle says '?' when its largest class probability is below this
UNANIMOUS = False           # majority vote, as the paper's annotators: a unanimous panel said '?' to
                            # 8% of iteration 5's manipulations where an independent judge erred on 3.4%
ORACLE_RECIPE_VERSION = 1   # raise it when oracle_training trains differently: cached oracles are trained again


# ---------------------------------------------------------------- data

@dataclass
class MnistTask:
    """The one-vs-all task for one digit.

    data: the causal data for the Experiment (the digit's pool images and as many others);
    pool: every non-held-out image (the reference oracle trains on it, the baseline searches it);
    heldout: `heldout_per_digit` images of every digit, seen by neither net.
    """

    digit: int
    data: Dataset
    pool: Dataset
    heldout: Dataset
    seed: int
    meta: dict[str, Any] = field(default_factory=dict)


def _labelled(images: np.ndarray, labels: np.ndarray, digit: int, name: str, meta: dict) -> Dataset:
    is_d = (labels == digit).astype(np.int64)
    return Dataset(images=images, labels=labels.astype(np.int64), obs_class=is_d,
                   p_obs=is_d.astype(np.float64), meta=dict(meta), name=name)


def split_per_label(labels: np.ndarray, heldout_per_label: int, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(pool, held-out) indices: of each label (in increasing order) a random `heldout_per_label`, at most
    half of its images, held out; the rest pooled. Each part label by label, in the order drawn."""
    pool_parts, held_parts = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        k = min(heldout_per_label, len(members) // 2)
        held_parts.append(members[:k])
        pool_parts.append(members[k:])
    return np.concatenate(pool_parts), np.concatenate(held_parts)


def one_vs_all(digit: int, seed: int = 0, heldout_per_digit: int = 100,
               source: Dataset | None = None) -> MnistTask:
    """Split the MNIST subset for digit `digit` (same seed, same split).

    Per digit, `heldout_per_digit` images are held out. The causal data holds every pool
    image of the digit and as many pool images of the other digits (as evenly spread over
    them as the counts allow), in a seeded random order.
    """
    if source is None:
        source = load_mnist_subset()
    if source.labels is None:
        raise ValueError(f"{source.name}: the MNIST experiment needs digit labels")
    digit = int(digit)
    labels = np.asarray(source.labels).astype(np.int64)
    if digit not in set(labels.tolist()):
        raise ValueError(f"digit {digit} does not occur in {source.name} (labels: {sorted(set(labels.tolist()))})")
    if tuple(source.shape) != IMAGE_SHAPE:
        raise ValueError(f"{source.name}: MNIST images are 28x28, got {source.shape[0]}x{source.shape[1]}")
    rng = np.random.default_rng([seed, digit])
    pool_idx, held_idx = split_per_label(labels, heldout_per_digit, rng)
    pool_idx, held_idx = np.sort(pool_idx), np.sort(held_idx)
    pool_labels = labels[pool_idx]
    positives = pool_idx[pool_labels == digit]
    others = pool_idx[pool_labels != digit]
    # as evenly spread over the other digits as possible: round-robin over shuffled digit lists
    by_digit = [rng.permutation(others[labels[others] == c]) for c in np.unique(labels[others])]
    order = np.argsort(np.concatenate([np.arange(len(b)) for b in by_digit]), kind="stable")
    spread = np.concatenate(by_digit)[order]
    negatives = spread[:len(positives)]
    data_idx = rng.permutation(np.concatenate([positives, negatives]))
    meta = {"source": source.name, "digit": digit, "seed": seed,
            "task": f"one-vs-all: T = 'shows a {digit}'; obs_class = causal class = (label == {digit})"}
    return MnistTask(
        digit=digit,
        data=_labelled(source.images[data_idx], labels[data_idx], digit, f"mnist_{digit}_vs_all", meta),
        pool=_labelled(source.images[pool_idx], labels[pool_idx], digit, "mnist_pool", meta),
        heldout=_labelled(source.images[held_idx], labels[held_idx], digit, "mnist_heldout", meta),
        seed=seed, meta={**meta, "n_data": len(data_idx), "n_pool": len(pool_idx),
                         "n_heldout": len(held_idx)},
    )


def experiment_config(iterations: int = 5, queries: int = 500, seed: int = 0, alpha: float = 0.5,
                      **overrides: Any) -> ExperimentConfig:
    """The Experiment settings for MNIST.

    Causal net: an ensemble of three one-vs-all MLPs 784-300-2 (the manipulator must convince
    all three); no cyclic shifts (they wrap digits round); manipulations aim for a logit margin
    of `confidence` = 4 at alpha = 1/2 (see manipulator: deeper for smaller alpha); the nets
    train with RobustTraining (adversarial_radius 2.5, which the Experiment reads).
    """
    values: dict[str, Any] = dict(iterations=iterations, queries=queries, seed=seed, alpha=alpha,
                                  net=dict(CAUSAL_NET), augment_shifts=0, representatives=5,
                                  epochs=30, retrain_epochs=5, query_weight=4.0, confidence=4.0,
                                  ensemble=3, adversarial_radius=2.5, manipulator="manifold",
                                  queries_by="random")   # as measured (benchmarks/README.md, MNIST)
    values.update(overrides)
    return ExperimentConfig(**values)


# ---------------------------------------------------------------- the causal net's training recipe


# ---------------------------------------------------------------- the model oracle

def reference_training(images: np.ndarray, labels: np.ndarray, net_seed: int, config: TrainConfig,
                       spec: dict[str, Any] | None = None, train_fn: TrainFn = train_steps,
                       jitter_copies: int = JITTER_COPIES) -> Generator[TrainProgress, None, nn.Module]:
    """Generator: train a digit classifier (REFERENCE_NET, a small CNN, updated by `spec`) apart
    from the causal net, on the images and `jitter_copies` jittered copies of them (shifts,
    thicker and thinner strokes, noise: what a person ignores); returns it.
    train_fn: train_steps, or it run in the training process."""
    net = new_net({**REFERENCE_NET, **(spec or {})}, net_seed)
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels, np.int64)
    if jitter_copies:
        images = np.concatenate([images, jittered(images, jitter_copies, net_seed)])
        labels = np.tile(labels, jitter_copies + 1)
    yield from train_fn(net, images, labels, None, config)
    return net.eval()


def train_reference(images: np.ndarray, labels: np.ndarray, seed: int = 0, epochs: int = REFERENCE_EPOCHS,
                    spec: dict[str, Any] | None = None, jitter_copies: int = JITTER_COPIES) -> nn.Module:
    """A ten-digit classifier (a small CNN by default), trained apart from the causal net."""
    config = TrainConfig(epochs=epochs, patience=3, lr=2e-3, seed=seed)
    return run_to_end(reference_training(images, labels, seed, config, spec, jitter_copies=jitter_copies))


class DigitOracle:
    """Answers P(T=1 | man(I)) = P("this shows digit d"), NaN ('?') when unsure.

    One annotator (one reference net): its probability of d, NaN when its largest class
    probability is below `unsure_below`. A panel (several nets): each votes yes / no / '?';
    the answer is the fraction of yes among those who voted, NaN when half or more said '?'
    or the votes tie. With `unanimous`, NaN also when those who voted disagree at all.
    With a `check` (method.oracles.ManifoldCheck), NaN for every image that does not look
    like a digit (noise, smudges), whatever the nets say: a person would not call a smudge a 7.
    """

    name = "model"

    def __init__(self, annotators: nn.Module | Sequence[nn.Module], digit: int,
                 unsure_below: float = UNSURE_BELOW, check: ManifoldCheck | None = None,
                 unanimous: bool = False):
        self.annotators = [annotators] if isinstance(annotators, nn.Module) else list(annotators)
        if not self.annotators:
            raise ValueError("the oracle needs at least one annotator")
        self.digit = int(digit)
        self.unsure_below = float(unsure_below)
        self.check = check
        self.unanimous = bool(unanimous)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """(annotators, N, 10) class probabilities."""
        return panel_probabilities(self.annotators, images)

    def votes(self, images: np.ndarray) -> np.ndarray:
        """(annotators, N): 1.0 = "shows d", 0.0 = "does not", NaN = '?'."""
        proba = self.probabilities(images)
        out = (proba.argmax(2) == self.digit).astype(np.float64)
        out[proba.max(2) < self.unsure_below] = np.nan
        return out

    def answer(self, images: np.ndarray) -> np.ndarray:
        p = self._panel_answer(images)
        if self.check is not None:
            p[~self.check.on_manifold(images)] = np.nan
        return p

    def _panel_answer(self, images: np.ndarray) -> np.ndarray:
        if len(self.annotators) == 1:
            proba = self.probabilities(images)[0]
            p = proba[:, self.digit].astype(np.float64)
            p[proba.max(1) < self.unsure_below] = np.nan
            return p
        votes = self.votes(images)
        answered = np.isfinite(votes).sum(0)
        yes = np.nansum(votes, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = yes / answered
        p[(2 * answered <= len(self.annotators)) | (2 * yes == answered)] = np.nan
        if self.unanimous:
            p[(yes > 0) & (yes < answered)] = np.nan
        return p


def panel_spec(k: int, in_shape: Sequence[int], n_classes: int) -> dict[str, Any]:
    """The k-th annotator's architecture (PANEL, cyclically) for images of `in_shape`."""
    return {**PANEL[k % len(PANEL)], "in_shape": list(in_shape), "n_classes": int(n_classes)}


def oracle_training(images: np.ndarray, labels: np.ndarray, digit: int, seed: int, annotators: int = ANNOTATORS,
                    epochs: int = REFERENCE_EPOCHS, unsure_below: float = UNSURE_BELOW,
                    train_fn: TrainFn = train_steps) -> Generator[TrainProgress, None, DigitOracle]:
    """Generator: the model oracle standing in for people: `annotators` reference nets of
    different architectures (PANEL), each on jittered copies too, answering by majority vote, and a
    check that says '?' to images that do not look like the data. Progress of each
    net's and the check's training in turn. train_fn: train_steps (which trains the check's
    autoencoder too), in-process or in the training process."""
    small = len(images) < 3000          # more, smaller steps so a small data set still trains it
    n_classes = int(np.max(labels)) + 1
    nets = []
    for k in range(annotators):
        config = TrainConfig(epochs=epochs, batch_size=32 if small else 128, patience=3, lr=2e-3,
                             seed=seed * 100 + k)
        net = yield from reference_training(images, labels, seed * 100 + k, config,
                                            panel_spec(k, np.shape(images)[1:], n_classes), train_fn)
        nets.append(net)
    check = yield from train_manifold_check(images, seed, train_fn=train_fn)
    return DigitOracle(nets, digit, unsure_below, check=check, unanimous=UNANIMOUS)


def train_digit_oracle(data: Dataset, positive_label: int | None, seed: int, train_fn: TrainFn = train_steps,
                       cache: ModelCache | None = None) -> Generator[TrainProgress, None, DigitOracle]:
    """The model oracle for digits in the GUI: the panel of `oracle_training` over every label of
    `data`. Trained once per data set and recipe: its nets are kept in the user's cache folder
    (store.model_cache) and read from there the next time, whichever label is T then."""
    if positive_label is None:
        raise ValueError("the digit oracle needs the label of T = 1")
    cache = cache if cache is not None else ModelCache()
    seed = seed + 7919
    key = entry_key([data.images, data.need("labels")], digit_oracle_recipe(data, seed))
    oracle = cached_digit_oracle(cache, key, positive_label)
    if oracle is None:
        oracle = yield from oracle_training(data.images, data.need("labels"), positive_label, seed, ANNOTATORS,
                                            REFERENCE_EPOCHS, train_fn=train_fn)
        cache_digit_oracle(cache, key, oracle, data)
    return oracle


def digit_oracle_recipe(data: Dataset, seed: int) -> dict[str, Any]:
    """What decides the trained oracle besides the data (the cache's key)."""
    return {"what": "digit oracle", "version": ORACLE_RECIPE_VERSION, "package": __version__, "seed": seed,
            "annotators": [annotator_spec(k, data) for k in range(ANNOTATORS)], "epochs": REFERENCE_EPOCHS,
            "jitter_copies": JITTER_COPIES, "check": [CHECK_EPOCHS, CHECK_QUANTILE, CHECK_SLACK]}


def annotator_spec(k: int, data: Dataset) -> dict[str, Any]:
    """The k-th annotator's net as oracle_training builds it for `data` (reference_training's merge)."""
    return {**REFERENCE_NET, **panel_spec(k, data.images.shape[1:], int(np.max(data.need("labels"))) + 1)}


def cached_digit_oracle(cache: ModelCache, key: str, digit: int) -> DigitOracle | None:
    names = [f"annotator{k}" for k in range(ANNOTATORS)]
    entry = cache.load(key, nets=[*names, "check"], numbers=["check_limit"])
    if entry is None:
        return None
    model = entry.nets["check"]
    if not isinstance(model, ConvAutoencoder):
        return None
    check = ManifoldCheck(model, entry.numbers["check_limit"])
    return DigitOracle([entry.nets[n] for n in names], digit, UNSURE_BELOW, check=check, unanimous=UNANIMOUS)


def cache_digit_oracle(cache: ModelCache, key: str, oracle: DigitOracle, data: Dataset) -> None:
    if oracle.check is None:                     # oracle_training always makes one; nothing to keep without it
        return
    nets = {f"annotator{k}": (annotator_spec(k, data), net) for k, net in enumerate(oracle.annotators)}
    nets["check"] = (generative_spec(oracle.check.model), oracle.check.model)
    cache.save(key, nets, {"check_limit": oracle.check.limit})


def train_oracle(task: MnistTask, annotators: int = ANNOTATORS, seed: int = 0, epochs: int = REFERENCE_EPOCHS,
                 unsure_below: float = UNSURE_BELOW) -> DigitOracle:
    """The model oracle for `task`, trained on the pool (see oracle_training)."""
    return run_to_end(oracle_training(task.pool.images, task.pool.need("labels"), task.digit, seed, annotators, epochs,
                                      unsure_below))


def answer_class(answers: np.ndarray) -> np.ndarray:
    """1 = "shows d", 0 = "does not", -1 = '?' (NaN)."""
    answers = np.asarray(answers, np.float64)
    out = (answers > 0.5).astype(np.int64)
    out[~np.isfinite(answers)] = -1
    return out


def oracle_report(oracle: DigitOracle, heldout: Dataset) -> dict[str, float]:
    """How the oracle does on real held-out digits: accuracy on the answered ones, '?' rate."""
    return reading_report(answer_class(oracle.answer(heldout.images)), heldout.need("obs_class"))


def reading_report(got: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """What an oracle read (-1: '?') against the truth: accuracy where it answered, its '?' rate, and the
    accuracy counting '?' as wrong."""
    answered = got >= 0
    return {"accuracy_answered": float((got[answered] == truth[answered]).mean()) if answered.any() else float("nan"),
            "unsure_rate": float(1 - answered.mean()),
            "accuracy_counting_unsure_wrong": float((got == truth).mean())}


def _median(values: np.ndarray) -> float | None:
    values = np.asarray(values, np.float64)
    return float(np.median(values)) if len(values) else None


def batch_summary(experiment: Any, batch: Any) -> dict[str, Any]:
    """One answered Algorithm 2 batch: MErr overall / towards d / away, the '?' rate, L2 of the
    accepted changes (the oracle put the image in the target class) and of all changes."""
    got = experiment.class_of_answer(batch.answers)
    ok = got == batch.targets
    to_d = experiment.causal_levels[batch.targets] > 0.5
    return {"iteration": int(batch.iteration), "queries": len(batch),
            "merr": float(1 - ok.mean()),
            "merr_to_digit": float(1 - ok[to_d].mean()) if to_d.any() else None,
            "merr_away": float(1 - ok[~to_d].mean()) if (~to_d).any() else None,
            "unsure_rate": float((got < 0).mean()),
            "merr_answered": float(1 - ok[got >= 0].mean()) if (got >= 0).any() else None,
            "accepted": int(ok.sum()),
            "accepted_l2_median": _median(batch.distances[ok]),
            "l2_median": _median(batch.distances)}


# ---------------------------------------------------------------- the baseline

@dataclass
class BaselineResult:
    index: np.ndarray       # (N,) index into the pool of the nearest real image of the target class
    images: np.ndarray      # (N, H, W) those images
    distance: np.ndarray    # (N,) L2 distance to the start image
    answers: np.ndarray     # (N,) the oracle's answer for them (NaN = '?')
    accepted: np.ndarray    # (N,) bool: the oracle puts them in the target class


def nearest_real_baseline(starts: np.ndarray, to_digit: np.ndarray, pool_images: np.ndarray,
                          pool_is_digit: np.ndarray, oracle: DigitOracle | None = None,
                          chunk: int = 512) -> BaselineResult:
    """For each start image, the nearest (L2) pool image whose label is the target class.

    to_digit[i]: the target is "shows d" (True) or "does not" (False). Pool images identical
    to the start image (distance 0, e.g. the start image itself) are skipped.
    """
    starts = np.asarray(starts, np.float32).reshape(len(starts), -1)
    pool = np.asarray(pool_images, np.float32).reshape(len(pool_images), -1)
    to_digit = np.asarray(to_digit, bool)
    pool_is_digit = np.asarray(pool_is_digit, bool)
    sq_pool = (pool.astype(np.float64) ** 2).sum(1)
    index = np.zeros(len(starts), np.int64)
    distance = np.zeros(len(starts), np.float64)
    for lo in range(0, len(starts), chunk):
        s = starts[lo:lo + chunk]
        d2 = (s.astype(np.float64) ** 2).sum(1)[:, None] + sq_pool[None] - 2.0 * (s @ pool.T)
        d2 = np.maximum(d2, 0.0)
        d2[to_digit[lo:lo + chunk, None] != pool_is_digit[None]] = np.inf
        d2[d2 < 1e-8] = np.inf
        index[lo:lo + chunk] = d2.argmin(1)
    images = np.asarray(pool_images, np.float32)[index]
    distance = np.linalg.norm((images.reshape(len(starts), -1) - starts).astype(np.float64), axis=1)
    if oracle is None:
        answers = np.full(len(starts), np.nan)
        accepted = np.zeros(len(starts), bool)
    else:
        answers = oracle.answer(images)
        accepted = answer_class(answers) == to_digit.astype(np.int64)
    return BaselineResult(index, images, distance, answers, accepted)


def baseline_summary(result: BaselineResult) -> dict[str, Any]:
    return {"n": len(result.distance), "l2_median": _median(result.distance),
            "l2_mean": float(np.mean(result.distance)) if len(result.distance) else None,
            "accepted_rate": float(result.accepted.mean()) if len(result.distance) else None,
            "accepted_l2_median": _median(result.distance[result.accepted])}


# ---------------------------------------------------------------- the figure

def figure_probe(task: MnistTask, per_side: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Held-out start images for the figure: `per_side` of digit d (target: not d) and as many others."""
    rng = np.random.default_rng([seed, task.digit, 7])
    heldout_class = task.heldout.need("obs_class")
    is_d = heldout_class == 1
    pos = rng.choice(np.flatnonzero(is_d), per_side, replace=False)
    neg = rng.choice(np.flatnonzero(~is_d), per_side, replace=False)
    index = np.concatenate([neg, pos])
    targets = 1 - heldout_class[index]
    return task.heldout.images[index], targets.astype(np.int64)


def digit_grid(rows: int, cols: int, figsize: tuple[float, float]) -> tuple[Any, np.ndarray]:
    """A matplotlib Figure on the Agg canvas and its (rows, cols) axes, for a grid of digits."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported when used: matplotlib is slow to import
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(rows, cols, squeeze=False)


def draw_digit(ax: Any, image: np.ndarray) -> None:
    """One digit, ink dark on white, without ticks."""
    ax.imshow(image, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_manipulation_rows(originals: np.ndarray, stages: Sequence[np.ndarray], path: str | Path,
                           stage_titles: Sequence[str] | None = None, targets: np.ndarray | None = None,
                           answers: Sequence[np.ndarray] | None = None, digit: int | None = None,
                           title: str = "") -> Path:
    """Rows of digits: the original, then the image pushed through each iteration's manipulator.

    stages[k]: (N, H, W) results of iteration k + 1; answers[k]: the oracle's answers for them
    (shown under each image: 'yes' / 'no' / '?' for "shows d"). Ink is drawn dark on white.
    """
    originals = np.asarray(originals)
    n, n_cols = len(originals), len(stages) + 1
    titles = ["original", *(stage_titles or [f"iteration {k + 1}" for k in range(len(stages))])]
    fig, axes = digit_grid(n, n_cols, (1.25 * n_cols + 0.6, 1.3 * n + 0.5))
    for r in range(n):
        for c in range(n_cols):
            ax = axes[r, c]
            img = originals[r] if c == 0 else stages[c - 1][r]
            draw_digit(ax, img)
            if r == 0:
                ax.set_title(titles[c], fontsize=8)
            if c == 0 and targets is not None and digit is not None:
                ax.set_ylabel(f"to {digit}" if targets[r] == 1 else f"to not-{digit}", fontsize=8)
            if c > 0:
                dist = float(np.linalg.norm(img - originals[r]))
                label = f"L2 {dist:.1f}"
                if answers is not None:
                    a = answers[c - 1][r]
                    says = "?" if not np.isfinite(a) else ("yes" if a > 0.5 else "no")
                    label += f"  {says}"
                    if targets is not None and np.isfinite(a) and (a > 0.5) == bool(targets[r]):
                        ax.spines[:].set_color("tab:green")
                        ax.spines[:].set_linewidth(2)
                ax.set_xlabel(label, fontsize=7, labelpad=1)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path


# ---------------------------------------------------------------- the experiment's contributions

def digit_recipe(data: Dataset, positive_label: int | None) -> Recipe | None:
    """Grey images with labels, T = 1 for one label: the digit recipe and a CNN model oracle."""
    if positive_label is None or data.labels is None or data.is_binary:
        return None
    return Recipe("digits", f"digit mode: T = 'shows a {positive_label}'; an ensemble of one-vs-all MLPs "
                  "trained robustly, a CNN model oracle over every label",
                  experiment_config().to_json(), train_digit_oracle)


def run_config(request: RunRequest) -> ExperimentConfig:
    """The digit recipe's settings with what `viscause run mnist` was given (epochs, search, query choice)."""
    options = request.options
    overrides: dict[str, Any] = {"epochs": options["epochs"]} if options["epochs"] else {}
    if options["generative_epochs"]:
        overrides["generative_epochs"] = options["generative_epochs"]
    if request.manipulator:
        overrides["manipulator"] = request.manipulator
    if request.queries_by:
        overrides["queries_by"] = request.queries_by
    return experiment_config(iterations=request.iterations, queries=request.queries, seed=request.seed,
                             alpha=request.alpha, **overrides)


def panel_probabilities(annotators: Sequence[nn.Module], images: np.ndarray) -> np.ndarray:
    """(annotators, N, 10): each reference net's class probabilities for a batch (or one image)."""
    images = np.asarray(images, np.float32)
    if images.ndim == 2:
        images = images[None]
    return np.stack([predict_proba(net, images) for net in annotators])


def run_one_vs_all(request: RunRequest, out: Path, progress: Progress) -> None:
    """`viscause run mnist --digit d`: T = 'shows a d', one-vs-all, into the run folder `out`."""
    started = time.perf_counter()
    options = request.options
    d, annotators = options["digit"], options["annotators"]
    task = one_vs_all(d, request.seed)
    progress(f"MNIST, T = 'shows a {d}': {len(task.data)} images ({d} and as many others), "
             f"{request.iterations} iterations x {request.queries} queries")
    progress(f"training the model oracle: {annotators} reference CNN(s) on {len(task.pool)} pool images")
    oracle = train_oracle(task, annotators=annotators, seed=request.seed, epochs=options["oracle_epochs"])
    oracle_heldout = oracle_report(oracle, task.heldout)
    progress(f"oracle on {len(task.heldout)} held-out digits: accuracy {oracle_heldout['accuracy_answered']:.3f} "
             f"on answered, '?' {oracle_heldout['unsure_rate']:.3f}")
    config = run_config(request)
    experiment = Experiment(task.data, config)
    if experiment.uses_manifold:
        progress(f"training the generative model of the digits (the manifold manipulator's) on "
                 f"{len(task.pool)} pool images")
        experiment.generative = run_to_end(train_generative_model(task.pool.images, config))
    probe, probe_targets = figure_probe(task, seed=request.seed)
    stages, stage_answers, summaries = [], [], []

    def on_iteration(batch: QueryBatch) -> None:
        result = experiment.manipulate(probe, probe_targets)
        stages.append(result.images)
        stage_answers.append(oracle.answer(result.images))
        summaries.append(batch_summary(experiment, batch))

    run_to_folder(experiment, oracle, out, progress, started, on_iteration)
    last, check, train_fn = experiment.batches[-1], oracle.check, experiment.train_fn
    assert last.originals is not None and last.targets is not None, "the last batch is Algorithm 2's"
    assert check is not None and isinstance(train_fn, RobustTraining), "as train_oracle and the config make them"
    baseline = nearest_real_baseline(last.originals, last.targets == 1, task.pool.images,
                                     task.pool.need("obs_class") == 1, oracle)
    extra = {"experiment": "mnist", "oracle": request.oracle, "digit": d, "annotators": annotators,
             "oracle_panel": [panel_spec(k, IMAGE_SHAPE, N_DIGITS) for k in range(annotators)],
             "unsure_below": oracle.unsure_below, "oracle_epochs": options["oracle_epochs"],
             "oracle_unanimous": oracle.unanimous, "oracle_manifold_limit": check.limit,
             "train_recipe": train_fn.to_json(),
             "n_data": len(task.data), "n_pool": len(task.pool), "n_heldout": len(task.heldout),
             "oracle_heldout": oracle_heldout, "iteration_summaries": summaries,
             "baseline_last_iteration": baseline_summary(baseline),
             "seconds_total": round(time.perf_counter() - started, 3)}
    save_history(out, experiment, extra)
    save_model(out, experiment)
    plot_history([{"label": f"digit {d}", "iterations": [r.to_json() for r in experiment.history]}],
                 out / "history.png", title=f"MNIST, T = 'shows a {d}', model oracle",
                 distance_label="MDist (L2)")
    plot_manipulation_rows(probe, stages, out / "manipulations.png", targets=probe_targets,
                           answers=stage_answers, digit=d,
                           title=f"held-out digits pushed to / away from {d},\nby each iteration's manipulator")
    progress(f"baseline (nearest real image of the target class): median L2 "
             f"{np.median(baseline.distance):.2f}, accepted {baseline.accepted.mean():.3f}")
