"""Qt-free logic behind the GUI panels: summaries, maps, snapshots and the experiment driver.

Everything here works on core objects and numpy arrays only (no Qt import), so the panels in
`viscause_gui.gui` stay thin and this logic is testable without a display:

- `ManipulatorModel`: a private copy of the causal nets that the α slider may use freely
  while the experiment's own nets train in another thread.
- `snapshot_experiment`: a frozen copy of an Experiment (own nets, shared data set).
- `drive`: runs `Experiment.steps()` towards a goal, answering query batches with an
  automatic oracle or stopping at the first batch a person must answer.
- `partition_summary`, `cross_table`, `data_map`: what the classes panel shows.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Sequence

import numpy as np
from torch import nn

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.experiment import Experiment, IterationRecord, QueryBatch, TrainEvent
from viscause_gui.core.method.manipulator import ManipulationResult, manipulate
from viscause_gui.core.nets.models import TrainConfig, TrainProgress, hidden_features, new_net, predict_proba, train_steps
from viscause_gui.core.method.oracles import ModelOracle, Oracle

MANUAL = "manual"            # QueryBatch.kind of images a user sent to the oracle queue
MAX_MAP_POINTS = 5000


# ---------------------------------------------------------------- manipulator

@dataclass
class ManipulatorModel:
    """What the manipulator needs from an experiment, with nets of its own."""

    nets: list[nn.Module]
    causal_levels: np.ndarray
    binary: bool
    distance_scale: float | None = None
    confidence: float | None = None
    iteration: int = 0

    @classmethod
    def from_experiment(cls, exp: Experiment) -> "ManipulatorModel":
        """Copy the nets (call only while no other thread trains them)."""
        if not exp.nets or exp.causal_levels is None:
            raise ValueError("the experiment has no trained causal net yet")
        nets = [copy.deepcopy(net) for net in exp.nets]
        for net in nets:
            net.eval()
            net.requires_grad_(False)   # the search needs gradients w.r.t. the image only
        return cls(nets, np.array(exp.causal_levels, np.float64), exp.binary,
                   exp.config.distance_scale, exp.config.confidence, exp.iteration)

    @property
    def n_classes(self) -> int:
        return len(self.causal_levels)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Mean ensemble class probabilities (N, K)."""
        images = np.asarray(images, np.float32).reshape(-1, *np.shape(images)[-2:])
        return np.mean([predict_proba(net, images) for net in self.nets], axis=0)

    def manipulate(self, images: np.ndarray, targets: np.ndarray, alpha: float,
                   cancelled: Callable[[], bool] | None = None) -> ManipulationResult:
        """Core manipulator with the experiment's settings; cancelled() stops the search early."""
        progress = None if cancelled is None else (lambda step, total: bool(cancelled()))
        return manipulate(self.nets, images, targets, alpha, binary=self.binary,
                          distance_scale=self.distance_scale, confidence=self.confidence,
                          progress=progress)


def default_targets(probs: np.ndarray) -> np.ndarray:
    """Per image, the most probable causal class other than the predicted one."""
    probs = np.atleast_2d(np.asarray(probs, np.float64)).copy()
    probs[np.arange(len(probs)), probs.argmax(1)] = -np.inf
    return probs.argmax(1)


def manual_batch(result: ManipulationResult, originals: np.ndarray, targets: np.ndarray,
                 source_index: Sequence[int], iteration: int) -> QueryBatch:
    """A QueryBatch (kind MANUAL) of manipulations a user sends to the oracle queue."""
    return QueryBatch(MANUAL, int(iteration), np.array(result.images, np.float32),
                      np.asarray(source_index, np.int64), originals=np.array(originals, np.float32),
                      targets=np.asarray(targets, np.int64), distances=np.array(result.distance),
                      p_target=np.array(result.p_target))


def add_manual_answers(exp: Experiment, batch: QueryBatch) -> int:
    """Add a user batch's answered images to the experiment's causal data (like Algorithm 2).

    Call only while no worker runs the experiment. Returns the number of images added.
    """
    if batch.answers is None or exp.causal_levels is None:
        return 0
    got = exp.class_of_answer(batch.answers)
    known = got >= 0
    exp.query_images = np.concatenate([exp.query_images, np.asarray(batch.images, np.float32)[known]])
    exp.query_labels = np.concatenate([exp.query_labels, got[known]])
    return int(known.sum())


# ---------------------------------------------------------------- experiment snapshots and driver

def snapshot_experiment(exp: Experiment) -> Experiment:
    """A frozen copy for readers on other threads: own nets, lists and generator; shared data set.

    Relies on Experiment rebinding (never mutating in place) its arrays, which it does.
    """
    snap = copy.copy(exp)
    snap.nets = [copy.deepcopy(net) for net in exp.nets]
    snap.config = copy.copy(exp.config)
    snap.batches = list(exp.batches)
    snap.history = list(exp.history)
    snap.rng = copy.deepcopy(exp.rng)
    snap.pending = None
    return snap


@dataclass
class Snapshot:
    """The experiment after Algorithm 1 or after a training phase (safe to read anywhere)."""
    experiment: Experiment


@dataclass
class BatchAnswered:
    kind: str
    iteration: int
    record: IterationRecord | None        # Algorithm 2: the new MErr / MDist row


@dataclass
class NeedsAnswers:
    """The driver stopped: a person must answer `size` queries (Experiment.pending)."""
    kind: str
    iteration: int
    size: int


@dataclass
class ModelOracleProgress:
    progress: TrainProgress


@dataclass
class ObservedClasses:
    """The driver estimated observational classes (the data set had none)."""
    data: Dataset


Goal = int | None   # the number of history rows to reach; None = Algorithm 1 and a trained net


def describe_query(batch: QueryBatch, i: int) -> str:
    """Where image i of a queued batch comes from, for a person answering it."""
    if batch.kind == "algorithm1":
        return f"Algorithm 1 · representative {i + 1}/{len(batch)}"
    if batch.kind == "algorithm2":
        return f"Algorithm 2 · iteration {batch.iteration} · image {i + 1}/{len(batch)}"
    return f"sent by you · {i + 1}/{len(batch)}"


def drive(exp: Experiment, oracle: Oracle | None, goal: Goal) -> Iterator[Any]:
    """Run exp.steps() until the goal; yields TrainEvent, Snapshot, BatchAnswered, NeedsAnswers.

    Returns "goal" (reached), "done" (the experiment has no iterations left) or "human" (a
    batch waits in exp.pending for answers). Stopping between yields leaves exp resumable.
    """
    rewind_interrupted_training(exp)
    if goal is not None and len(exp.history) >= goal and exp.pending is None:
        return "goal"
    if goal is not None:
        exp.config.iterations = max(goal, 1)
    elif exp.causal_labels is None:
        exp.config.iterations = max(exp.config.iterations, 1)
    for event in exp.steps():
        if isinstance(event, TrainEvent):
            yield event
            continue
        if event.kind != "algorithm1":
            yield Snapshot(snapshot_experiment(exp))      # nets just trained
            if goal is None:
                return "goal"
        if oracle is None:
            yield NeedsAnswers(event.kind, event.iteration, len(event))
            return "human"
        kind, iteration = event.kind, event.iteration
        exp.answer(oracle.answer(event.images))
        yield from _after_answer(exp, kind, iteration)
        if goal is not None and len(exp.history) >= goal:
            return "goal"
    return "done"


def rewind_interrupted_training(exp: Experiment) -> bool:
    """Undo the start of an iteration whose training was stopped, so steps() redoes it.

    Experiment.steps() counts an iteration when its training starts; a generator closed during
    training would otherwise make the next one skip that iteration number. Stopped during the
    first training, the half-trained nets are dropped (it starts again with the full epochs).
    """
    if exp.causal_labels is None or exp.pending is not None or exp.iteration <= len(exp.history):
        return False
    exp.iteration -= 1
    if not exp.history:
        exp.nets = []
    return True


def _after_answer(exp: Experiment, kind: str, iteration: int) -> Iterator[Any]:
    record = copy.copy(exp.history[-1]) if kind == "algorithm2" else None
    yield BatchAnswered(kind, iteration, record)
    if kind == "algorithm1":
        yield Snapshot(snapshot_experiment(exp))


# ---------------------------------------------------------------- observational data and model oracle

class ObservationalDataError(ValueError):
    """The data set has nothing Algorithm 1 can start from."""


NEEDS_OBSERVATIONS = ("Algorithm 1 needs observational data: the behaviour T observed on the images "
                      "(observational classes 'obs_class', P(T=1|I) 'p_obs' or samples of T 't'). "
                      "This data set has none; load an .npz with 't' or run `viscause observe`{extra}.")


def observational_problem(data: Dataset | None, positive_label: int | None = None) -> str | None:
    """Why an experiment cannot start on this data set (None: it can)."""
    if data is None:
        return "Load a data set first (File menu)."
    if data.obs_class is not None or data.t is not None or data.p_obs is not None:
        return None
    if data.labels is not None and positive_label is not None:
        return None
    extra = ", or choose the label that counts as T = 1" if data.labels is not None else ""
    return NEEDS_OBSERVATIONS.format(extra=extra)


def with_observational_classes(data: Dataset, positive_label: int | None = None, seed: int = 0,
                               cancelled: Callable[[], bool] | None = None) -> Dataset:
    """The data set with obs_class, estimating it when missing (slow: run in a worker).

    cancelled() returning True stops the estimate (core.partitions.FitCancelled is raised).
    """
    problem = observational_problem(data, positive_label)
    if problem is not None:
        raise ObservationalDataError(problem)
    if data.obs_class is not None:
        return data
    if data.t is None and data.p_obs is None:
        t = (data.labels == positive_label).astype(np.int64)
        return replace(data, t=t, p_obs=t.astype(np.float64), obs_class=t.copy(), meta=dict(data.meta))
    from viscause_gui.core.method.partitions import fit_observational_classes, partition_from_values

    if data.t is not None:
        progress = None if cancelled is None else (lambda stage, fraction: bool(cancelled()))
        fit = fit_observational_classes(data.images, np.asarray(data.t, np.int64), seed=seed, progress=progress)
        p_obs = data.p_obs if data.p_obs is not None else np.asarray(fit.p_obs, np.float64)
        return replace(data, p_obs=p_obs, obs_class=np.asarray(fit.obs_class, np.int64), meta=dict(data.meta))
    return replace(data, obs_class=partition_from_values(data.p_obs, 1e-3), meta=dict(data.meta))


def model_oracle_targets(data: Dataset, positive_label: int | None = None) -> np.ndarray:
    """What a model oracle learns: P(T=1|I) as soft labels (N, 2) or T as classes (N,)."""
    if data.p_obs is not None:
        return np.stack([1 - data.p_obs, data.p_obs], axis=1).astype(np.float32)
    if data.t is not None:
        return np.asarray(data.t, np.int64)
    if data.labels is not None and positive_label is not None:
        return (data.labels == positive_label).astype(np.int64)
    if data.obs_class is not None:
        raise ObservationalDataError("the model oracle needs P(T=1|I) or samples of T to learn from")
    raise ObservationalDataError(NEEDS_OBSERVATIONS.format(extra=""))


def train_model_oracle(data: Dataset, positive_label: int | None = None, seed: int = 0,
                       epochs: int = 5, max_images: int = 10_000,
                       train_fn: Callable[..., Iterator[TrainProgress]] = train_steps) -> Iterator[TrainProgress]:
    """Generator: train a classifier standing in for people; returns a ModelOracle.

    train_fn: models.train_steps or a routine with its signature (e.g. one run in a child process).
    """
    targets = model_oracle_targets(data, positive_label)
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(len(data), min(len(data), max_images), replace=False))
    net = new_net({"arch": "mlp", "hidden": [100], "in_shape": list(data.shape), "n_classes": 2}, seed + 7919)
    yield from train_fn(net, data.images[index], targets[index], None, TrainConfig(epochs=epochs, seed=seed))
    return ModelOracle(net)


# ---------------------------------------------------------------- classes and partitions

@dataclass
class PartitionSummary:
    """One row per class: its count and P(T=1) level (NaN when unknown)."""

    classes: np.ndarray
    counts: np.ndarray
    p_t: np.ndarray                 # obs: P(T=1|I); causal: P(T=1|man I)
    p_man: np.ndarray | None = None  # obs only: the oracle's answer for the class (Algorithm 1)
    causal: np.ndarray | None = None  # obs only: the causal class it belongs to (-1 unknown)


def _class_means(labels: np.ndarray, classes: np.ndarray, values: np.ndarray | None) -> np.ndarray:
    if values is None:
        return np.full(len(classes), np.nan)
    values = np.asarray(values, np.float64)
    return np.array([values[labels == c].mean() for c in classes])


def observational_summary(obs: np.ndarray, p_obs: np.ndarray | None = None, t: np.ndarray | None = None,
                          obs_answers: np.ndarray | None = None,
                          obs_to_causal: np.ndarray | None = None) -> PartitionSummary:
    """Observational classes with P(T=1|I) (from p_obs, else the mean of T) and Algorithm 1's answers."""
    obs = np.asarray(obs, np.int64)
    classes, counts = np.unique(obs, return_counts=True)
    p_t = _class_means(obs, classes, p_obs if p_obs is not None else t)
    p_man = None if obs_answers is None or len(obs_answers) != len(classes) else np.asarray(obs_answers, float)
    causal = None
    if obs_to_causal is not None:
        causal = np.array([obs_to_causal[c] if c < len(obs_to_causal) else -1 for c in classes], np.int64)
    return PartitionSummary(classes, counts, p_t, p_man, causal)


def causal_summary(causal: np.ndarray, levels: np.ndarray | None = None) -> PartitionSummary:
    """Causal classes with their P(T=1|man I) level (levels indexed by class id)."""
    causal = np.asarray(causal, np.int64)
    classes, counts = np.unique(causal, return_counts=True)
    if levels is None:
        p_t = np.full(len(classes), np.nan)
    else:
        levels = np.asarray(levels, np.float64)
        p_t = np.array([levels[c] if 0 <= c < len(levels) else np.nan for c in classes])
    return PartitionSummary(classes, counts, p_t)


@dataclass
class CrossTable:
    """Counts of causal class (rows) x spurious class (columns) and one example image per cell."""

    causal_classes: np.ndarray
    spurious_classes: np.ndarray
    counts: np.ndarray          # (K, M)
    examples: np.ndarray        # (K, M) data set index of an example, -1 for an empty cell
    causal: np.ndarray          # per image, to list a cell's members
    spurious: np.ndarray

    def members(self, row: int, col: int) -> np.ndarray:
        """Data set indices of the images in cell (row, col)."""
        c, s = self.causal_classes[row], self.spurious_classes[col]
        return np.flatnonzero((self.causal == c) & (self.spurious == s))


def cross_table(causal: np.ndarray, spurious: np.ndarray) -> CrossTable:
    causal = np.asarray(causal, np.int64)
    spurious = np.asarray(spurious, np.int64)
    cs, ss = np.unique(causal), np.unique(spurious)
    ci, si = np.searchsorted(cs, causal), np.searchsorted(ss, spurious)
    counts = np.zeros((len(cs), len(ss)), np.int64)
    np.add.at(counts, (ci, si), 1)
    examples = np.full((len(cs), len(ss)), -1, np.int64)
    flat = ci * len(ss) + si
    first = np.unique(flat, return_index=True)
    examples.flat[first[0]] = first[1]
    return CrossTable(cs, ss, counts, examples, causal, spurious)


# ---------------------------------------------------------------- 2-D map of the data

def subsample(n: int, max_n: int = MAX_MAP_POINTS, seed: int = 0) -> np.ndarray:
    """At most max_n sorted indices out of n, the same for the same (n, max_n, seed)."""
    if n <= max_n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_n, replace=False))


def pca_2d(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """First two principal components (N, 2), signs fixed so the result is deterministic.

    Eigen-decomposition of the covariance for few features; a seeded randomized subspace
    iteration for many (e.g. 784 pixels), which is far cheaper than a full SVD.
    """
    x = np.asarray(features, np.float64).reshape(len(features), -1)
    x = x - x.mean(axis=0)
    if len(x) < 2:
        return np.zeros((len(x), 2), np.float32)
    comps = _top_components(x, 2, seed)
    signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(1)])
    signs[signs == 0] = 1
    xy = x @ (comps * signs[:, None]).T
    if xy.shape[1] < 2:
        xy = np.hstack([xy, np.zeros((len(xy), 2 - xy.shape[1]))])
    return xy.astype(np.float32)


def _top_components(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """(k', D) leading principal axes of centred x (k' = min(k, D))."""
    d = x.shape[1]
    if d <= 256:
        _, vecs = np.linalg.eigh(x.T @ x)
        return vecs[:, ::-1][:, :min(k, d)].T
    q = np.random.default_rng(seed).standard_normal((d, k + 8))
    for _ in range(4):
        q, _ = np.linalg.qr(x.T @ (x @ q))
    _, _, vt = np.linalg.svd(x @ q, full_matrices=False)
    return vt[:k] @ q.T


@dataclass
class DataMap:
    index: np.ndarray     # data set index of each point
    xy: np.ndarray        # (P, 2)
    source: str           # what was projected


def data_map(images: np.ndarray, nets: Sequence[nn.Module] | None = None,
             max_points: int = MAX_MAP_POINTS, seed: int = 0) -> DataMap:
    """PCA of the causal net's last hidden layer (or of the pixels without a net)."""
    index = subsample(len(images), max_points, seed)
    if nets:
        feats = np.concatenate([hidden_features(net, images[index]) for net in nets], axis=1)
        return DataMap(index, pca_2d(feats), "PCA of the causal net's hidden layer")
    return DataMap(index, pca_2d(images[index]), "PCA of the pixels (no causal net yet)")
