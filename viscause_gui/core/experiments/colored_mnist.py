"""Colored MNIST (Arjovsky et al. 2019, "Invariant Risk Minimization"), built from the 5,000-digit
MNIST subset the way that paper builds it from all of MNIST:

- each digit halved to 14x14 (every second row and column) and put in one of two colour
  channels (shown red and green);
- the label T = (digit >= 5), flipped with probability 0.25: in this project's terms the label
  noise is the hidden confounder; T depends causally on the digit's shape;
- the colour = T flipped with probability e: e = 0.1 and 0.2 in the two training
  environments, 0.9 in the test environment. The colour is the spurious correlate: it predicts
  T better than the shape does while training (85 % vs 75 %), and the opposite at test.

The observational partition has four classes, (shape, colour), whose P(T=1 | I) the generator
knows exactly; the causal partition two (the shape). The labeller is a shape-only oracle (the
digits of the nearest grey reference images), answering P(T=1 | man(I)) = 0.75 for a 5-9 shape and 0.25 for a 0-4
shape, which is exactly P(T=1 | do(shape)).

`run_colored_mnist` measures, beside the published table, the accuracy on T in the training
environments and the test environment of: a net trained on the colour images and T (the
observational net, ERM), the causal net after Algorithms 1 and 2 with a budget of oracle
answers, and a net trained on grey images and T (the published "ERM on grey images" row).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from viscause_gui.core.data.builtin import load_mnist_subset
from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.experiments.registry import (BuiltinData, BuiltinExperiment, Progress, Recipe, RunOption,
                                                    RunRequest, register)
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
from viscause_gui.core.nets.augment import jittered
from viscause_gui.core.nets.models import new_net, predict_proba
from viscause_gui.core.nets.training import TrainConfig, run_to_end, train_steps
from viscause_gui.core.store.atomic import atomic_write
from viscause_gui.core.store.rundir import run_to_folder, save_history, save_model

LABEL_NOISE = 0.25
TRAIN_COLOUR_FLIPS = (0.1, 0.2)      # P(colour != T) in the two training environments
TEST_COLOUR_FLIP = 0.9
TEST_SHARE = 0.2                     # of the 5,000 digits: 1,000 test, 2 x 2,000 training
SHAPE_ANSWERS = (0.25, 0.75)         # the shape-only oracle: P(T=1 | do(shape 0-4)), P(T=1 | do(shape 5-9))
PUBLISHED = [("ERM (published)", 87.4, 17.1), ("IRM (published)", 70.8, 66.9),
             ("ERM on grey images, an oracle (published)", 73.5, 73.0), ("optimum (hypothetical)", 75.0, 75.0)]
CNN = {"arch": "cnn", "channels": [32, 64, 64], "hidden": [128], "pool": True}
NET_EPOCHS = 30
LR = 2e-3
WEIGHT_DECAY = 1e-4
ENSEMBLE = 3                         # causal nets (their mean decides; the manipulator must convince each)
GENERATIVE_EPOCHS = 15
JITTER_COPIES = 3                    # jittered copies of each training image (every net here is trained alike)
TEST_DRAWS = 10                      # draws of T and colour per test digit: the test environment's
                                     # accuracy measured over its label noise, not one draw of it


@dataclass
class ColoredMnist:
    train: Dataset          # both training environments, with t, obs_class, causal_class, labels (the digit)
    test: Dataset           # the test environment (TEST_DRAWS draws per held-out digit), with t, causal_class, labels
    train_env: np.ndarray   # per training image, 0 or 1: which environment


def _halved(images: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(images[:, ::2, ::2])


def _coloured(grey: np.ndarray, colour: np.ndarray) -> np.ndarray:
    out = np.zeros((*grey.shape, 2), np.float32)
    out[np.arange(len(grey)), ..., colour] = grey
    return out


def _flip(values: np.ndarray, p: float | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.where(rng.random(len(values)) < p, 1 - values, values)


def observational_levels() -> np.ndarray:
    """P(T=1 | shape, colour) in the training data (both environments, equal sizes), indexed
    [shape, colour]: what an observer of the training environments can learn at best."""
    levels = np.zeros((2, 2))
    for shape in (0, 1):
        p_t = 1 - LABEL_NOISE if shape else LABEL_NOISE
        for colour in (0, 1):
            joint = [(p_t * (1 - e if colour else e), (1 - p_t) * (e if colour else 1 - e)) for e in TRAIN_COLOUR_FLIPS]
            t1, t0 = sum(j[0] for j in joint), sum(j[1] for j in joint)
            levels[shape, colour] = t1 / (t1 + t0)
    return levels


def make_colored_mnist(seed: int = 0) -> ColoredMnist:
    """The three environments from the MNIST subset (same seed, same data)."""
    digits = load_mnist_subset()
    rng = np.random.default_rng([seed, 2019])
    order = rng.permutation(len(digits))
    n_test = round(TEST_SHARE * len(digits))
    test_idx, train_idx = order[:n_test], order[n_test:]
    env = (np.arange(len(train_idx)) >= len(train_idx) // 2).astype(np.int64)
    train = _environment(digits, train_idx, np.asarray(TRAIN_COLOUR_FLIPS)[env], rng, "colored_mnist")
    test_idx = np.tile(test_idx, TEST_DRAWS)
    test = _environment(digits, test_idx, np.full(len(test_idx), TEST_COLOUR_FLIP), rng, "colored_mnist_test")
    levels = observational_levels()
    shape, colour = train.need("causal_class"), _colour_of(train.images)
    rank = np.argsort(np.argsort(levels.ravel()))          # obs classes numbered by P(T=1 | I)
    train.obs_class = rank[2 * shape + colour]
    train.p_obs = levels[shape, colour]
    train.meta["environment"] = env.tolist()
    return ColoredMnist(train, test, env)


def _colour_of(images: np.ndarray) -> np.ndarray:
    return (images[..., 1].sum(axis=(1, 2)) > images[..., 0].sum(axis=(1, 2))).astype(np.int64)


def _environment(digits: Dataset, index: np.ndarray, colour_flip: np.ndarray, rng: np.random.Generator,
                 name: str) -> Dataset:
    labels = digits.need("labels")[index].astype(np.int64)
    shape = (labels >= 5).astype(np.int64)
    t = _flip(shape, LABEL_NOISE, rng)
    colour = _flip(t, colour_flip, rng)
    meta = {"source": "MNIST subset (sample_data/mnist_subset.npz), coloured as Arjovsky et al. 2019",
            "task": "T = (digit >= 5) flipped w.p. 0.25; channel = T flipped w.p. 0.1 / 0.2 (train), 0.9 (test)",
            "channels": ["red", "green"], "experiment": "colored_mnist"}
    return Dataset(images=_coloured(_halved(digits.images[index]), colour), t=t, causal_class=shape,
                   labels=labels, meta=meta, name=name)


def load_colored_mnist() -> Dataset:
    """The built-in data set: both training environments."""
    return make_colored_mnist(0).train


# ---------------------------------------------------------------- nets on T and the shape oracle

def train_classifier(images: np.ndarray, labels: np.ndarray, n_classes: int, seed: int,
                     epochs: int = NET_EPOCHS) -> nn.Module:
    """A small CNN trained on (images, labels) and jittered copies (plain empirical risk minimisation)."""
    spec = {**CNN, "in_shape": list(images.shape[1:]), "n_classes": n_classes}
    net = new_net(spec, seed)
    images = np.concatenate([images, jittered(images, JITTER_COPIES, seed, max_shift=1, noise=0.0)])
    labels = np.tile(labels.astype(np.int64), JITTER_COPIES + 1)
    config = TrainConfig(epochs=epochs, lr=LR, weight_decay=WEIGHT_DECAY, seed=seed, batch_size=128)
    run_to_end(train_steps(net, images, labels, config=config))
    return net


def grey(images: np.ndarray) -> np.ndarray:
    """The colour taken away: the sum of the channels (one digit is in one channel)."""
    return images.sum(axis=-1).clip(0.0, 1.0)


class ShapeOracle:
    """The labeller: sees only the shape (the grey image) and answers P(T=1 | do(shape)): 0.75
    for a 5-9, 0.25 for a 0-4. The digit is the majority of the `k` nearest grey reference
    digits (L2): no training, the same answer for the same image, colour never looked at."""

    name = "shape"

    def __init__(self, reference: np.ndarray, digits: np.ndarray, k: int = 5):
        self.reference = torch.as_tensor(grey(np.asarray(reference, np.float32)).reshape(len(reference), -1))
        self.high = torch.as_tensor(np.asarray(digits) >= 5)
        self.k = k

    def high_shape(self, images: np.ndarray) -> np.ndarray:
        """Per image, whether its shape is a 5-9."""
        x = torch.as_tensor(grey(np.asarray(images, np.float32)).reshape(len(images), -1))
        votes = [self.high[torch.cdist(x[s:s + 512], self.reference).topk(self.k, largest=False).indices]
                 for s in range(0, len(x), 512)]
        return (torch.cat(votes).float().mean(1) > 0.5).numpy() if votes else np.zeros(0, bool)

    def answer(self, images: np.ndarray) -> np.ndarray:
        return np.where(self.high_shape(images), SHAPE_ANSWERS[1], SHAPE_ANSWERS[0]).astype(np.float64)


class ColoredMnistTruth:
    """What the app knows about Colored MNIST: the shape oracle and the levels of do(shape)."""

    title = "Truth (Colored MNIST)"

    def __init__(self, data: Dataset):
        self.shape_oracle = ShapeOracle(data.images, data.need("labels"))
        self.shape_oracle_shape = data.shape

    def oracle(self) -> ShapeOracle:
        return self.shape_oracle

    def causal_levels(self) -> np.ndarray:
        return np.array(SHAPE_ANSWERS)

    def readout(self, image: np.ndarray) -> list[tuple[str, str]] | None:
        if np.shape(image) != self.shape_oracle_shape:
            return None
        high = bool(self.shape_oracle.high_shape(np.asarray(image)[None])[0])
        colour = "green" if image[..., 1].sum() > image[..., 0].sum() else "red"
        return [("shape (C)", "a 5-9" if high else "a 0-4"), ("colour (S)", colour),
                ("P(T=1 | do(shape))", f"{SHAPE_ANSWERS[int(high)]:.2f}")]


def accuracy_on_t(net: nn.Module, images: np.ndarray, t: np.ndarray, positive: int = 1) -> float:
    return float(((predict_proba(net, images).argmax(1) == positive) == (t == 1)).mean())


def causal_accuracy(experiment: Experiment, images: np.ndarray, t: np.ndarray) -> float:
    """The causal net's accuracy on T: its most probable causal class, read as T = 1 when that
    class's level P(T=1 | man(I)) is above one half."""
    predicted = experiment.predict_causal(images).argmax(1)
    return float(((experiment.learned_levels[predicted] > 0.5) == (t == 1)).mean())


def experiment_config(representatives: int, queries: int, seed: int, queries_by: str = "random") -> ExperimentConfig:
    """Algorithm 1 asks `representatives` per observational class; one Algorithm 2 iteration of
    `queries` (0: none) on the manifold, chosen as `queries_by` says."""
    return ExperimentConfig(iterations=max(1, int(queries > 0)), queries=max(queries, 1), seed=seed, net=dict(CNN),
                            queries_by=queries_by,
                            representatives=representatives, epochs=NET_EPOCHS, retrain_epochs=5, lr=LR,
                            weight_decay=WEIGHT_DECAY, ensemble=ENSEMBLE,
                            augment_shifts=0, augment_jitter=JITTER_COPIES, manipulator="manifold",
                            generative_epochs=GENERATIVE_EPOCHS, query_weight=4.0)


def run_colored_mnist(seed: int, representatives: int, queries: int, out: Path | None,
                      progress: Progress, queries_by: str = "random") -> dict[str, Any]:
    """The published table's rows measured here (accuracy on T, percent) plus what it took."""
    started = time.perf_counter()
    data = make_colored_mnist(seed)
    train, test = data.train, data.test
    progress(f"Colored MNIST: {len(train)} training images (2 environments), {len(test)} test images")
    rows = {}
    observational = train_classifier(train.images, train.need("t"), 2, seed + 11)
    rows["observational net (colour images, T)"] = _accuracies(lambda x: observational, train, test)
    grey_net = train_classifier(grey(train.images), train.need("t"), 2, seed + 13)
    rows["grey images, T (the same subset)"] = _accuracies(lambda x: grey_net, train, test, grey)
    oracle = ShapeOracle(train.images, train.need("labels"))
    experiment = Experiment(train, experiment_config(representatives, queries, seed, queries_by))
    if out is not None:
        run_to_folder(experiment, oracle, out, progress, started)
    else:
        experiment.run(oracle)
    answers = sum(len(b) for b in experiment.batches)
    rows[f"causal net, {answers} oracle answers"] = {
        "train": 100 * causal_accuracy(experiment, train.images, train.need("t")),
        "test": 100 * causal_accuracy(experiment, test.images, test.need("t"))}
    result = {"seed": seed, "rows": rows, "oracle_answers": answers,
              "causal_levels": experiment.learned_levels.tolist(),
              "published": [{"method": m, "train": a, "test": b} for m, a, b in PUBLISHED],
              "seconds": round(time.perf_counter() - started, 1)}
    if out is not None:
        save_history(out, experiment, {"experiment": "colored_mnist", "oracle": "shape", "table": result})
        save_model(out, experiment)
        atomic_write(out / "table.json", lambda f: f.write(json.dumps(result, indent=1).encode()))
    return result


def _accuracies(net_of, train: Dataset, test: Dataset, view=lambda x: x) -> dict[str, float]:
    net = net_of(None)
    return {"train": 100 * accuracy_on_t(net, view(train.images), train.need("t")),
            "test": 100 * accuracy_on_t(net, view(test.images), test.need("t"))}


def table_markdown(result: dict[str, Any]) -> str:
    lines = ["| method | train envs | test env |", "|---|---:|---:|"]
    lines += [f"| {p['method']} | {p['train']:.1f} | {p['test']:.1f} |" for p in result["published"]]
    lines += [f"| this project: {name} | {v['train']:.1f} | {v['test']:.1f} |" for name, v in result["rows"].items()]
    return "\n".join(lines)


def _is_colored_mnist(data: Dataset) -> bool:
    return data.meta.get("experiment") == "colored_mnist" and data.labels is not None and data.channels == 2


class ColoredMnistExperiment(BuiltinExperiment):
    name = "colored_mnist"
    title = "Colored MNIST: the shape causes T, the colour only correlates"
    datasets = (BuiltinData("colored_mnist", "Colored MNIST (IRM, 2019) from the MNIST subset: 4,000 14x14 "
                            "digits in red or green, two training environments", load_colored_mnist),)
    oracles = ("shape",)

    def truth(self, data: Dataset) -> ColoredMnistTruth | None:
        return ColoredMnistTruth(data) if _is_colored_mnist(data) else None

    def recipe(self, data: Dataset, positive_label: int | None) -> Recipe | None:
        if not _is_colored_mnist(data):
            return None
        return Recipe("colored_mnist", "Colored MNIST: a CNN causal net trained with jittered copies, the "
                      "manifold manipulator", experiment_config(5, 30, 0).to_json())

    run_options = (RunOption("--representatives", "colored_mnist: Algorithm 1 answers per observational class "
                             "(default 5)", int, 5, lo=1, what="a positive integer"),)

    def run(self, request: RunRequest, out: Path, progress: Progress) -> None:
        result = run_colored_mnist(request.seed, request.options["representatives"], request.queries, out, progress,
                                   request.queries_by or "random")
        progress(table_markdown(result))


register(ColoredMnistExperiment())
