"""Observational classes: estimated from samples of T (`viscause observe`) or read off the data.

`fit_observational_classes` estimates the observational partition from images and one observed
sample of T per image: nets fit P(T=1 | I), a mixture clusters their outputs, and the number of
classes is chosen by the held-out likelihood of T (see docs/method.md). `estimate_observational_classes`
gives any data set its classes: from samples of T, from P(T=1|I), or from a label that counts as T = 1.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.partitions import partition_answers
from viscause_gui.core.nets.models import hidden_features, new_net, predict_proba
from viscause_gui.core.nets.training import TrainConfig, train_classifier

ProgressFn = Callable[[str, float], "bool | None"]


class FitCancelled(RuntimeError):
    """The progress callback asked fit_observational_classes to stop."""


@dataclass
class ObservationalFit:
    """Estimated observational partition.

    p_obs: estimated P(T=1 | I) per image = the frequency of T=1 in the image's class (the
    partition's maximum-likelihood estimate; constant within a class, as Πo requires); with K > 2
    outcomes P(T | I), (N, K), the frequency of each outcome in the class.
    obs_class: class per image, 0..n_classes-1 ordered by P(T=1) (K > 2: by the mean outcome index).
    class_p: P(T=1) per class ((n_classes, K) with K > 2 outcomes).
    scores: K -> held-out log-likelihood of T (nats, summed) of the K-class partitions the final
    choice of K compared (the greedy merge path of the last relabelling round).
    criterion: how K was chosen, in words. p_net: the first-stage nets' P(T=1 | I) per image ((N, K):
    P(T | I), with K > 2 outcomes).
    details: {"k0": K of the first mixture choice, "gmm_scores": K -> held-out score of each mixture}.
    """

    p_obs: np.ndarray
    obs_class: np.ndarray
    n_classes: int
    criterion: str
    scores: dict[int, float]
    class_p: np.ndarray
    p_net: np.ndarray | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ObserveRecipe:
    """Knobs of fit_observational_classes (defaults measured on GRATING, see bench_observe.py)."""

    holdout: float = 0.2          # share of T samples kept out of all training, used only for K
    margin: float = 2.0           # nats: the smallest K within max(margin, z standard errors) of the
    z: float = 0.5                # best held-out log-likelihood wins (a half-standard-error rule)
    channels: tuple[int, ...] = (8, 16, 16)   # pooled CNN: conv3x3 + maxpool per entry
    hidden: tuple[int, ...] = (32,)
    regress_epochs: int = 40
    regress_lr: float = 3e-3
    regress_batch: int = 256
    regress_members: int = 0       # nets averaged in the first stage; 0: regress_budget // n_fit, 1..3
    regress_budget: int = 8000     # (small data sets get more nets, the time they can afford)
    weight_decay: float = 1e-4
    patience: int = 4
    refine_rounds: int = 4
    refine_epochs: int = 6
    refine_steps: int = 240        # small data sets get more epochs, so each round takes this many steps
    refine_patience: int = 3
    refine_weight_decay: tuple[float, ...] = (1e-2,)  # per round, the last one repeats
    refine_lr: float = 5e-3
    refine_batch: int = 256
    min_images: int = 50          # fewer images: one class, no nets
    partition: str = "likelihood"  # LIKELIHOOD: K by the held-out T (above); FEATURES: fine classes, see below
    feature_classes: int = 8      # FEATURES: k-means clusters of the first-stage nets' hidden features
    min_class_share: float = 0.01  # FEATURES: a smaller cluster joins its nearest neighbour


    def __post_init__(self) -> None:
        if self.partition not in PARTITIONS:
            raise ValueError(f"partition must be one of {', '.join(PARTITIONS)}, got {self.partition!r}")


LIKELIHOOD, FEATURES = "likelihood", "features"
FEATURE_CLASSES_PER_OUTCOME = 4   # FEATURES over K > 2 outcomes: at least 4 K clusters (12 for K = 3)
PARTITIONS = (LIKELIHOOD, FEATURES)


def fit_observational_classes(images: Any, t: Any, seed: int = 0, max_classes: int = 8,
                              progress: ProgressFn | None = None,
                              recipe: ObserveRecipe | None = None, outcomes: int = 2) -> ObservationalFit:
    """Estimate observational classes from images and one observed sample of T per image.

    outcomes: K, T's outcomes; t holds outcome indices 0..K-1 (0/1 for the binary T of the paper). With
    K > 2 every step below works on P(T | I), a point of the K-simplex: the nets have K outputs, the
    mixtures cluster the K-vectors (their first K-1 coordinates), the likelihood of a held-out sample is
    categorical and any two classes may merge (not only classes adjacent in P(T=1)).

    A share of the T samples (`recipe.holdout`, 20%) is kept out of all training; it only scores K.
    1. A pooled CNN regresses P(T=1 | I) (2-class softmax, cross-entropy on t) on the other samples
       (small data sets average a few such nets).
    2. Its 1-D outputs are clustered by 1-D Gaussian mixtures with K = 1..max_classes components.
    3. Relabelling rounds: a fresh, strongly weight-decayed CNN classifier learns the current class
       labels and relabels every image. Class labels are far less noisy than single T samples, so
       the classifier keeps the simple visual rule (a bar present or not) and drops what the first
       net memorised (noise-pixel counts, the T luck of single bar positions).
    K is chosen by one rule, applied to the mixtures (K0), then to greedy merges of classes adjacent
    in P(T=1) (cheapest first by the training T likelihood) of the K0 mixture (whose number of
    classes picks the mixture the rounds start from) and again after every round: the smallest K
    whose held-out log-likelihood of T is within max(margin, z standard errors) of the best.
    Class ids are ordered by P(T=1). progress(stage, fraction) may return True to cancel
    (FitCancelled is raised). Deterministic for a given seed and torch thread count; the caller
    chooses the threads (`configure_torch_threads(1)` is fastest on two cores).
    """
    recipe = recipe or ObserveRecipe()
    x, t = _check_inputs(images, t, max_classes, outcomes)
    k_out = int(outcomes)
    if len(t) < recipe.min_images or t.min() == t.max():
        return _single_class(t, "one class: too few images or T is constant", k_out)
    report = _Reporter(progress)
    held = _holdout_mask(len(t), recipe.holdout, seed)
    if recipe.partition == FEATURES:
        return _feature_partition(x, t, held, seed, recipe, report, k_out)
    p_net, _ = _regress(x, t, ~held, seed, recipe, report.scaled(0.0, 0.3), with_features=False, outcomes=k_out)
    labelings = _mixture_labelings(p_net, t, max_classes, seed)
    gmm_terms = {k: _heldout_terms(v, t, held, k_out) for k, v in labelings.items()}
    k0 = _choose_k(gmm_terms, recipe)
    merged, scores = _merge_classes(labelings[k0], t, held, recipe, k_out)
    labels = labelings[int(merged.max()) + 1]
    labels, scores = _relabel_rounds(x, labels, t, held, seed, recipe, report.scaled(0.35, 1.0), scores, k_out)
    report("done", 1.0)
    return _finish(labels, t, p_net, _criterion(labels, k0, held, recipe, k_out), scores,
                   {"k0": k0, "gmm_scores": _totals(gmm_terms)}, k_out)


PREDICT_BATCH = 8192        # at most this many images per forward pass of a fitted net
ACTIVATION_BUDGET = 256 * 1024**2   # and at most this many bytes of activations (64x64 colour: ~300 images)
PER_IMAGE_BYTES = 1024      # per image besides its pixels: targets, weights, index orders, the mixtures' arrays
WORKING_BYTES = 128 * 1024**2   # torch's and scikit-learn's own working memory once they run


def fit_memory_bytes(n: int, shape: tuple[int, ...], recipe: ObserveRecipe | None = None) -> int:
    """About the peak memory (bytes) of fit_observational_classes on n images of `shape`, the
    images included: the float32 images and the first stage's copy of its training share,
    about 1 KiB per image of training and mixture arrays, the activations of one prediction
    batch of its net and the libraries' working memory. Measured peak RSS growth on 10x10 to 40x40 images stays below it
    (tests/core/method/test_observe.py); `viscause observe` refuses what it cannot hold."""
    recipe = recipe or ObserveRecipe()
    pixels = math.prod(int(s) for s in shape)
    per_image = 2 * 4 * pixels + PER_IMAGE_BYTES + _feature_bytes(shape, recipe)
    return int(n) * per_image + min(int(n), _predict_batch(shape, recipe)) * _activation_bytes(shape, recipe) \
        + WORKING_BYTES


def _predict_batch(shape: tuple[int, ...], recipe: ObserveRecipe) -> int:
    """Images per forward pass of a fitted net: its activations stay under ACTIVATION_BUDGET."""
    return int(np.clip(ACTIVATION_BUDGET // max(_activation_bytes(shape, recipe), 1), 64, PREDICT_BATCH))


def _feature_bytes(shape: tuple[int, ...], recipe: ObserveRecipe) -> int:
    """Bytes per image of the FEATURES partition: up to 3 nets' hidden features, k-means' copy of them
    and its distances to the clusters."""
    if recipe.partition != FEATURES:
        return 0
    units = 3 * int(observe_net_spec(tuple(shape), 2, recipe)["hidden"][-1])
    return 2 * 4 * units + 8 * recipe.feature_classes


def _activation_bytes(shape: tuple[int, ...], recipe: ObserveRecipe) -> int:
    """Bytes of one image's activations in the observational net (conv, ReLU and pooled outputs)."""
    spec = observe_net_spec(tuple(shape), 2, recipe)
    h, w = (int(s) for s in shape[:2])
    total = 0
    for c in spec.get("channels", []):
        total += 2 * c * h * w * 4
        h, w = h // 2, w // 2
        total += c * h * w * 4
    return total + 2 * 4 * sum(spec["hidden"])


def _relabel_rounds(x: np.ndarray, labels: np.ndarray, t: np.ndarray, held: np.ndarray, seed: int,
                    recipe: ObserveRecipe, report: _Reporter,
                    scores: dict[int, float], outcomes: int = 2) -> tuple[np.ndarray, dict[int, float]]:
    rounds = recipe.refine_rounds
    for r in range(rounds):
        if labels.max() == 0:
            break
        decay = recipe.refine_weight_decay[min(r, len(recipe.refine_weight_decay) - 1)]
        new = _refine(x, labels, seed + 1 + r, decay, recipe, report.scaled(r / rounds, (r + 1) / rounds))
        if new.max() > 0:  # a net stuck at a constant output (one class) is ignored
            labels, scores = _merge_classes(new, t, held, recipe, outcomes)
    return labels, scores


def _criterion(labels: np.ndarray, k0: int, held: np.ndarray, recipe: ObserveRecipe, outcomes: int = 2) -> str:
    rule = (f"the smallest K whose log-likelihood of the {int(held.sum())} held-out T samples is within "
            f"max({recipe.margin:g} nats, {recipe.z:g} standard errors) of the best")
    if outcomes > 2:
        return (f"K={int(labels.max()) + 1}: {rule}; first over Gaussian mixtures of the net's P(T|I) on the "
                f"{outcomes}-outcome simplex (K0={k0}), then, after each of {recipe.refine_rounds} CNN relabelling "
                "rounds, over greedy merges of any two classes")
    return (f"K={int(labels.max()) + 1}: {rule}; first over 1-D Gaussian mixtures of the net's P(T=1|I) "
            f"(K0={k0}), then, after each of {recipe.refine_rounds} CNN relabelling rounds, over greedy "
            f"merges of classes adjacent in P(T=1)")


def _check_inputs(images: Any, t: Any, max_classes: int, outcomes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim not in (3, 4) or len(x) == 0:
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, C), got {x.shape}")
    t = np.asarray(t).ravel()
    if t.shape != (len(x),):
        raise ValueError(f"t has {t.size} samples for {len(x)} images; need one per image")
    if not 2 <= int(outcomes) <= 20:
        raise ValueError(f"T has 2 to 20 outcomes, got {outcomes}")
    if outcomes == 2 and not np.all((t == 0) | (t == 1)):
        raise ValueError("t must hold samples of a binary T (0 or 1)")
    if outcomes > 2 and not np.all((t >= 0) & (t <= outcomes - 1) & (t == np.round(t))):
        raise ValueError(f"t must hold samples of T: outcome indices 0 to {outcomes - 1}")
    if not np.all(np.isfinite(x)):
        raise ValueError("images contain NaN or infinite values")
    if max_classes < 1:
        raise ValueError("max_classes must be at least 1")
    return np.ascontiguousarray(x), t.astype(np.int64)


class _Reporter:
    """Calls progress(stage, fraction) and raises FitCancelled when it returns True."""

    def __init__(self, fn: ProgressFn | None, lo: float = 0.0, hi: float = 1.0):
        self.fn, self.lo, self.hi = fn, lo, hi

    def __call__(self, stage: str, fraction: float) -> None:
        if self.fn is not None and self.fn(stage, self.lo + (self.hi - self.lo) * fraction):
            raise FitCancelled(f"cancelled while {stage}")

    def scaled(self, lo: float, hi: float) -> _Reporter:
        return _Reporter(self.fn, lo, hi)

    def epochs(self, stage: str) -> Callable[[Any], bool]:
        def on_epoch(p: Any) -> bool:
            self(f"{stage}: epoch {p.epoch}", p.epoch / p.epochs)
            return False
        return on_epoch


def _holdout_mask(n: int, share: float, seed: int) -> np.ndarray:
    held = np.zeros(n, bool)
    held[np.random.default_rng(seed).permutation(n)[:round(share * n)]] = True
    return held


def observe_net_spec(shape: tuple[int, ...], n_classes: int, recipe: ObserveRecipe) -> dict[str, Any]:
    """The nets that fit P(T=1|I) and relabel: a pooled CNN (conv + 2x2 max-pool per layer, as many
    layers as the image size allows)."""
    layers = min(len(recipe.channels), int(math.log2(max(min(shape[:2]), 1))))
    if layers == 0:
        return {"arch": "mlp", "in_shape": list(shape), "hidden": list(recipe.hidden), "n_classes": n_classes}
    return {"arch": "cnn", "in_shape": list(shape), "channels": list(recipe.channels[:layers]),
            "hidden": list(recipe.hidden), "pool": True, "n_classes": n_classes}


def _feature_partition(x: np.ndarray, t: np.ndarray, held: np.ndarray, seed: int, recipe: ObserveRecipe,
                       report: _Reporter, outcomes: int = 2) -> ObservationalFit:
    """Fine observational classes: k-means clusters of the first-stage nets' hidden features.

    A net that fits P(T=1 | I) must tell apart every visual feature that changes T, and its hidden
    layer keeps them apart even where their P(T=1) are close (two kinds at .4 and .6 overlap on the
    net's one output, not in its features). The clusters refine the observational partition rather than
    estimate it: a class split in two costs Algorithm 1 a few more answers, while two classes merged
    into one give its images one answer where they have two (the Causal Coarsening Theorem's premise)."""
    p_net, features = _regress(x, t, ~held, seed, recipe, report.scaled(0.0, 0.9), outcomes=outcomes)
    report("clustering the nets' features", 0.95)
    assert features is not None, "_regress gives them unless told not to"
    if outcomes > 2:        # K outcomes: more kinds of image can differ in P(T | I), so more clusters (4 per outcome)
        recipe = replace(recipe, feature_classes=max(recipe.feature_classes, FEATURE_CLASSES_PER_OUTCOME * outcomes))
    labels = _feature_clusters(features, recipe, seed)
    terms = _heldout_terms(_order_by_rate(labels, t), t, held, outcomes)
    k = int(labels.max()) + 1
    fitted = "P(T=1|I)" if outcomes == 2 else "P(T|I)"
    criterion = (f"K={k}: k-means ({recipe.feature_classes} clusters, those under {recipe.min_class_share:.0%} of "
                 f"the images joined to their nearest) of the hidden features of the nets that fit {fitted}; "
                 "fine on purpose: Algorithm 1's answers merge classes that are one causal class")
    report("done", 1.0)
    return _finish(labels, t, p_net, criterion, {k: float(terms.sum())}, {"partition": FEATURES}, outcomes)


def _feature_clusters(features: np.ndarray, recipe: ObserveRecipe, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans  # imported when used: scikit-learn takes ~1 s to import

    k = int(min(recipe.feature_classes, len(np.unique(features, axis=0))))
    if k < 2:
        return np.zeros(len(features), np.int64)
    model = KMeans(k, n_init=4, random_state=seed).fit(features)
    labels, centres = model.labels_.astype(np.int64), model.cluster_centers_
    smallest = max(1, int(np.ceil(recipe.min_class_share * len(features))))
    while len(centres) > 1:
        counts = np.bincount(labels, minlength=len(centres))
        small = int(np.argmin(counts))
        if counts[small] >= smallest:
            break
        keep = np.arange(len(centres)) != small
        centres = centres[keep]
        labels = ((features[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1).astype(np.int64)
    return _compact(labels)


def _regress(x: np.ndarray, t: np.ndarray, fit: np.ndarray, seed: int, recipe: ObserveRecipe,
             report: _Reporter, with_features: bool = True, outcomes: int = 2) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean P(T=1 | I) (K > 2 outcomes: P(T | I), (N, K)) of a few nets trained on the non-held-out T
    samples, and their hidden features side by side (N, members x hidden units)."""

    members = recipe.regress_members or int(np.clip(recipe.regress_budget // max(int(fit.sum()), 1), 1, 3))
    outputs, features = [], []
    for m in range(members):
        member_seed = seed + 1000 * m
        net = new_net(observe_net_spec(x.shape[1:], outcomes, recipe), member_seed)
        config = TrainConfig(epochs=recipe.regress_epochs, lr=recipe.regress_lr, weight_decay=recipe.weight_decay,
                             patience=recipe.patience, seed=member_seed,
                             batch_size=_batch_size(int(fit.sum()), recipe.regress_batch))
        stage = report.scaled(m / members, (m + 1) / members)
        train_classifier(net, x[fit], t[fit], config=config,
                         progress=stage.epochs("fitting P(T=1|I)" if outcomes == 2 else "fitting P(T|I)"))
        batch = _predict_batch(x.shape[1:], recipe)
        proba = predict_proba(net, x, batch_size=batch)
        outputs.append(proba[:, 1] if outcomes == 2 else proba)
        if with_features:
            features.append(hidden_features(net, x, batch_size=batch))
    return np.mean(outputs, axis=0), (np.concatenate(features, axis=1) if with_features else None)


def _refine(x: np.ndarray, labels: np.ndarray, seed: int, weight_decay: float, recipe: ObserveRecipe,
            report: _Reporter) -> np.ndarray:
    """One relabelling round: a fresh weight-decayed CNN classifier learns the labels and relabels all."""

    net = new_net(observe_net_spec(x.shape[1:], int(labels.max()) + 1, recipe), seed)
    batch = _batch_size(len(x), recipe.refine_batch)
    epochs = max(recipe.refine_epochs, math.ceil(recipe.refine_steps / math.ceil(len(x) / batch)))
    config = TrainConfig(epochs=epochs, patience=recipe.refine_patience, seed=seed,
                         weight_decay=weight_decay, lr=recipe.refine_lr, batch_size=batch)
    train_classifier(net, x, labels, config=config, progress=report.epochs("relabelling"))
    return _compact(predict_proba(net, x, batch_size=_predict_batch(x.shape[1:], recipe)).argmax(axis=1))


def _batch_size(n: int, largest: int) -> int:
    """Smaller batches for small data sets: at least ~30 optimiser steps per epoch, 32 at the least."""
    return int(max(32, min(largest, n // 30)))


def _compact(labels: np.ndarray) -> np.ndarray:
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


def _mixture_labelings(p: np.ndarray, t: np.ndarray, max_classes: int, seed: int) -> dict[int, np.ndarray]:
    """Classes of 1-D Gaussian mixtures of the outputs, K = 1..max_classes components (outputs (N, K) over
    K > 2 outcomes: mixtures of their first K-1 coordinates, the last being one minus their sum)."""
    from sklearn.mixture import GaussianMixture  # imported when used: scikit-learn takes ~1 s to import

    values = p.reshape(-1, 1) if p.ndim == 1 else p[:, :-1]
    n_distinct = len(np.unique(np.round(values, 6), axis=0))
    labelings = {}
    for k in range(1, min(max_classes, n_distinct) + 1):
        gmm = GaussianMixture(k, n_init=2, random_state=seed, reg_covar=1e-6).fit(values)
        labelings[k] = _order_by_rate(gmm.predict(values), t)
    return labelings


def _heldout_terms(labels: np.ndarray, t: np.ndarray, held: np.ndarray, outcomes: int = 2) -> np.ndarray:
    """Log-likelihood of each held-out T under per-class rates estimated from the other T samples
    (K > 2 outcomes: per-class outcome frequencies, each count plus one half)."""
    k = int(labels.max()) + 1
    fit = ~held
    if outcomes > 2:
        counts = np.zeros((k, outcomes))
        np.add.at(counts, (labels[fit], t[fit]), 1.0)
        q = (counts + 0.5) / (counts.sum(axis=1, keepdims=True) + 0.5 * outcomes)
        return np.log(q[labels[held], t[held]])
    ones = np.bincount(labels[fit], weights=t[fit], minlength=k)
    count = np.bincount(labels[fit], minlength=k)
    q = (ones + 0.5) / (count + 1.0)
    th, lh = t[held], labels[held]
    return th * np.log(q[lh]) + (1 - th) * np.log1p(-q[lh])


def _totals(terms: dict[int, np.ndarray]) -> dict[int, float]:
    return {k: float(v.sum()) for k, v in terms.items()}


def _choose_k(terms: dict[int, np.ndarray], recipe: ObserveRecipe) -> int:
    """Smallest K whose held-out log-likelihood is within max(margin, z standard errors) of the best."""
    totals = _totals(terms)
    best = max(totals, key=totals.__getitem__)
    for k in sorted(terms):
        gap = terms[best] - terms[k]
        if gap.sum() <= max(recipe.margin, recipe.z * math.sqrt(len(gap)) * float(gap.std())):
            return k
    return best


def _merge_classes(labels: np.ndarray, t: np.ndarray, held: np.ndarray,
                   recipe: ObserveRecipe, outcomes: int = 2) -> tuple[np.ndarray, dict[int, float]]:
    """Greedy merges of classes adjacent in P(T=1) (K > 2 outcomes: of any two classes); keep the
    smallest K the held-out T supports."""
    labels = _order_by_rate(labels, t)
    path = {int(labels.max()) + 1: labels}
    terms = {int(labels.max()) + 1: _heldout_terms(labels, t, held, outcomes)}
    while labels.max() > 0:
        labels = _cheapest_merge(labels, t, held) if outcomes == 2 else _cheapest_pair_merge(labels, t, held, outcomes)
        k = int(labels.max()) + 1
        path[k], terms[k] = labels, _heldout_terms(labels, t, held, outcomes)
    return path[_choose_k(terms, recipe)], _totals(terms)


def _order_by_rate(labels: np.ndarray, t: np.ndarray) -> np.ndarray:
    labels = _compact(labels)
    rate = np.bincount(labels, weights=t) / np.bincount(labels)
    rank = np.empty(len(rate), np.int64)
    rank[np.argsort(rate, kind="stable")] = np.arange(len(rate))
    return rank[labels]


def _cheapest_merge(labels: np.ndarray, t: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Merge the adjacent pair whose merge loses the least training-T log-likelihood."""
    fit = ~held
    k = int(labels.max()) + 1
    ones = np.bincount(labels[fit], weights=t[fit], minlength=k)
    count = np.bincount(labels[fit], minlength=k).astype(float)
    losses = [_bernoulli_ll(ones[j] + ones[j + 1], count[j] + count[j + 1])
              - _bernoulli_ll(ones[j], count[j]) - _bernoulli_ll(ones[j + 1], count[j + 1]) for j in range(k - 1)]
    j = int(np.argmax(losses))
    return _order_by_rate(np.where(labels == j + 1, j, labels), t)


def _cheapest_pair_merge(labels: np.ndarray, t: np.ndarray, held: np.ndarray, outcomes: int) -> np.ndarray:
    """K > 2 outcomes: merge the two classes (any two) whose merge loses the least training-T log-likelihood."""
    fit = ~held
    k = int(labels.max()) + 1
    counts = np.zeros((k, outcomes))
    np.add.at(counts, (labels[fit], t[fit]), 1.0)
    own = [_categorical_ll(c) for c in counts]
    best, pair = -math.inf, (0, 1)
    for i in range(k - 1):
        for j in range(i + 1, k):
            change = _categorical_ll(counts[i] + counts[j]) - own[i] - own[j]
            if change > best:
                best, pair = change, (i, j)
    return _order_by_rate(np.where(labels == pair[1], pair[0], labels), t)


def _categorical_ll(counts: np.ndarray) -> float:
    """Maximised categorical log-likelihood of outcome counts."""
    n = float(counts.sum())
    seen = counts[counts > 0]
    return float((seen * np.log(seen / n)).sum()) if n > 0 else 0.0


def _bernoulli_ll(ones: float, n: float) -> float:
    """Maximised Bernoulli log-likelihood of `ones` successes in n trials."""
    if n == 0 or ones == 0 or ones == n:
        return 0.0
    q = ones / n
    return float(ones * math.log(q) + (n - ones) * math.log1p(-q))


def _single_class(t: np.ndarray, criterion: str, outcomes: int = 2) -> ObservationalFit:
    labels = np.zeros(len(t), np.int64)
    return _finish(labels, t, None, criterion, {1: 0.0}, {}, outcomes)


def _finish(labels: np.ndarray, t: np.ndarray, p_net: np.ndarray | None, criterion: str,
            scores: dict[int, float], details: dict[str, Any], outcomes: int = 2) -> ObservationalFit:
    labels = _order_by_rate(labels, t)
    if outcomes > 2:
        counts = np.zeros((int(labels.max()) + 1, outcomes))
        np.add.at(counts, (labels, t), 1.0)
        class_p = counts / counts.sum(axis=1, keepdims=True)
    else:
        class_p = np.bincount(labels, weights=t) / np.bincount(labels)
    return ObservationalFit(p_obs=class_p[labels], obs_class=labels, n_classes=len(class_p),
                            criterion=criterion, scores=scores, class_p=class_p, p_net=p_net,
                            details=details)


# ---------------------------------------------------------------- a data set's observational classes

class ObservationalDataError(ValueError):
    """The data set has nothing Algorithm 1 can start from."""


NEEDS_OBSERVATIONS = ("Algorithm 1 needs observational data: the behaviour T observed on the images "
                      "(observational classes 'obs_class', P(T=1|I) 'p_obs' or samples of T 't'). "
                      "This data set has none; load an .npz with 't' or run `viscause observe`{extra}.")


@dataclass
class ObservedClasses:
    """Observational classes found for a data set that had none, with what they came from."""

    obs_class: np.ndarray
    p_obs: np.ndarray | None
    t: np.ndarray | None = None

    def apply_to(self, data: Dataset) -> None:
        """Fill in the data set's missing obs_class, p_obs and t (in place)."""
        for key in ("obs_class", "p_obs", "t"):
            if getattr(data, key) is None and getattr(self, key) is not None:
                setattr(data, key, getattr(self, key))

    def added_to(self, data: Dataset) -> Dataset:
        """A copy of the data set with them filled in."""
        out = replace(data, meta=dict(data.meta))
        self.apply_to(out)
        return out


def observational_problem(data: Dataset | None, positive_label: int | None = None) -> str | None:
    """Why an experiment cannot start on this data set (None: it can)."""
    if data is None:
        return "Load a data set first (File menu)."
    if data.obs_class is not None or data.t is not None or data.p_obs is not None:
        return None
    if data.labels is not None and positive_label is not None:
        labels = np.unique(data.labels)
        if positive_label not in set(labels.tolist()):
            shown = ", ".join(str(v) for v in labels[:20]) + (" ..." if len(labels) > 20 else "")
            return (f"No image of {data.name} has the label {positive_label} (its labels: {shown}); "
                    "choose one of them as T = 1.")
        return None
    extra = ", or choose the label that counts as T = 1" if data.labels is not None else ""
    return NEEDS_OBSERVATIONS.format(extra=extra)


def estimate_observational_classes(data: Dataset, positive_label: int | None = None, seed: int = 0,
                                   cancelled: Callable[[], bool] | None = None,
                                   recipe: ObserveRecipe | None = None) -> ObservedClasses | None:
    """The classes of a data set without obs_class (None when it has them or has no T at all).

    From samples of T (slow: nets, fitted as `recipe` says; run in a worker; cancelled() returning True
    raises FitCancelled), from P(T=1|I) (equal values; K > 2 outcomes: P(T|I) rows within 1e-3 in total
    variation), or from the label that counts as T = 1.
    """
    if data.obs_class is not None:
        return None
    if data.t is not None:
        progress = None if cancelled is None else (lambda stage, fraction: bool(cancelled()))
        fit = fit_observational_classes(data.images, np.asarray(data.t, np.int64), seed=seed, progress=progress,
                                        recipe=recipe, outcomes=data.n_outcomes)
        p_obs = data.p_obs if data.p_obs is not None else np.asarray(fit.p_obs, np.float64)
        return ObservedClasses(np.asarray(fit.obs_class, np.int64), p_obs)
    if data.p_obs is not None:
        return ObservedClasses(partition_answers(data.p_obs, 1e-3), data.p_obs)
    if data.labels is not None and positive_label is not None:
        t = (data.labels == positive_label).astype(np.int64)
        return ObservedClasses(t.copy(), t.astype(np.float64), t)
    return None

