"""Observational and causal partitions, the spurious correlate, and the CCT on discrete models.

Qt-free. Three parts:

- `partition_from_values` / `spurious_classes`: small helpers on class labels.
- `fit_observational_classes`: estimate the observational partition Πo from images and one
  observed sample of T per image (THEORY.md, "Observational partition").
- `DiscreteModel` / `cct`: the exact partitions of a discrete generative model and how they
  relate (the Causal Coarsening Theorem).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

RELATIONS = ("equal", "causal_coarsens_observational", "observational_coarsens_causal", "incompatible")


# --------------------------------------------------------------------------- label helpers

def partition_from_values(values: Any, tol: float = 1e-3) -> np.ndarray:
    """Class id per value: sort, start a new class wherever the gap to the previous value is > tol.

    Ids are 0, 1, ... ordered by value. (A chain of small gaps stays one class.)
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(values)):
        raise ValueError("partition_from_values: values must be finite")
    labels = np.zeros(len(values), np.int64)
    if len(values) == 0:
        return labels
    order = np.argsort(values, kind="stable")
    new_class = np.diff(values[order]) > tol
    labels[order] = np.concatenate([[0], np.cumsum(new_class)])
    return labels


def spurious_classes(obs_class: Any, causal_class: Any) -> np.ndarray:
    """S per image: the observational classes inside each causal class numbered 0..Mk-1 (by obs id)."""
    obs, causal = np.asarray(obs_class).ravel(), np.asarray(causal_class).ravel()
    if obs.shape != causal.shape:
        raise ValueError(f"spurious_classes: {obs.shape} observational vs {causal.shape} causal labels")
    out = np.zeros(len(obs), np.int64)
    for c in np.unique(causal):
        members = causal == c
        out[members] = np.unique(obs[members], return_inverse=True)[1]
    return out


# --------------------------------------------------------------------------- observational fit

ProgressFn = Callable[[str, float], "bool | None"]


class FitCancelled(RuntimeError):
    """The progress callback asked fit_observational_classes to stop."""


@dataclass
class ObservationalFit:
    """Estimated observational partition.

    p_obs: estimated P(T=1 | I) per image = the frequency of T=1 in the image's class (the
    partition's maximum-likelihood estimate; constant within a class, as Πo requires).
    obs_class: class per image, 0..n_classes-1 ordered by P(T=1). class_p: P(T=1) per class.
    scores: K -> held-out log-likelihood of T (nats, summed) of the K-class partitions the final
    choice of K compared (the greedy merge path of the last relabelling round).
    criterion: how K was chosen, in words. p_net: the first-stage nets' P(T=1 | I) per image.
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


def fit_observational_classes(images: Any, t: Any, seed: int = 0, max_classes: int = 8,
                              progress: ProgressFn | None = None,
                              recipe: ObserveRecipe | None = None) -> ObservationalFit:
    """Estimate observational classes from images and one observed binary T sample per image.

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
    x, t = _check_inputs(images, t, max_classes)
    if len(t) < recipe.min_images or t.min() == t.max():
        return _single_class(t, "one class: too few images or T is constant")
    report = _Reporter(progress)
    held = _holdout_mask(len(t), recipe.holdout, seed)
    p_net = _regress(x, t, ~held, seed, recipe, report.scaled(0.0, 0.3))
    labelings = _mixture_labelings(p_net, t, max_classes, seed)
    gmm_terms = {k: _heldout_terms(v, t, held) for k, v in labelings.items()}
    k0 = _choose_k(gmm_terms, recipe)
    merged, scores = _merge_classes(labelings[k0], t, held, recipe)
    labels = labelings[int(merged.max()) + 1]
    labels, scores = _relabel_rounds(x, labels, t, held, seed, recipe, report.scaled(0.35, 1.0), scores)
    report("done", 1.0)
    return _finish(labels, t, p_net, _criterion(labels, k0, held, recipe), scores,
                   {"k0": k0, "gmm_scores": _totals(gmm_terms)})


def _relabel_rounds(x: np.ndarray, labels: np.ndarray, t: np.ndarray, held: np.ndarray, seed: int,
                    recipe: ObserveRecipe, report: _Reporter,
                    scores: dict[int, float]) -> tuple[np.ndarray, dict[int, float]]:
    rounds = recipe.refine_rounds
    for r in range(rounds):
        if labels.max() == 0:
            break
        decay = recipe.refine_weight_decay[min(r, len(recipe.refine_weight_decay) - 1)]
        new = _refine(x, labels, seed + 1 + r, decay, recipe, report.scaled(r / rounds, (r + 1) / rounds))
        if new.max() > 0:  # a net stuck at a constant output (one class) is ignored
            labels, scores = _merge_classes(new, t, held, recipe)
    return labels, scores


def _criterion(labels: np.ndarray, k0: int, held: np.ndarray, recipe: ObserveRecipe) -> str:
    rule = (f"the smallest K whose log-likelihood of the {int(held.sum())} held-out T samples is within "
            f"max({recipe.margin:g} nats, {recipe.z:g} standard errors) of the best")
    return (f"K={int(labels.max()) + 1}: {rule}; first over 1-D Gaussian mixtures of the net's P(T=1|I) "
            f"(K0={k0}), then, after each of {recipe.refine_rounds} CNN relabelling rounds, over greedy "
            f"merges of classes adjacent in P(T=1)")


def _check_inputs(images: Any, t: Any, max_classes: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or len(x) == 0:
        raise ValueError(f"images must have shape (N, H, W), got {x.shape}")
    t = np.asarray(t).ravel()
    if t.shape != (len(x),):
        raise ValueError(f"t has {t.size} samples for {len(x)} images; need one per image")
    if not np.all((t == 0) | (t == 1)):
        raise ValueError("t must hold samples of a binary T (0 or 1)")
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

    def scaled(self, lo: float, hi: float) -> "_Reporter":
        return _Reporter(self.fn, lo, hi)

    def epochs(self, stage: str) -> Callable[[Any], bool]:
        def on_epoch(p: Any) -> bool:
            self(f"{stage}: epoch {p.epoch}", p.epoch / p.epochs)
            return False
        return on_epoch


def _holdout_mask(n: int, share: float, seed: int) -> np.ndarray:
    held = np.zeros(n, bool)
    held[np.random.default_rng(seed).permutation(n)[:int(round(share * n))]] = True
    return held


def _net_spec(shape: tuple[int, ...], n_classes: int, recipe: ObserveRecipe) -> dict[str, Any]:
    """Pooled CNN (conv + 2x2 max-pool per layer, as many layers as the image size allows)."""
    layers = min(len(recipe.channels), int(math.log2(max(min(shape), 1))))
    if layers == 0:
        return {"arch": "mlp", "in_shape": list(shape), "hidden": list(recipe.hidden), "n_classes": n_classes}
    return {"arch": "cnn", "in_shape": list(shape), "channels": list(recipe.channels[:layers]),
            "hidden": list(recipe.hidden), "pool": True, "n_classes": n_classes}


def _regress(x: np.ndarray, t: np.ndarray, fit: np.ndarray, seed: int, recipe: ObserveRecipe,
             report: _Reporter) -> np.ndarray:
    """Mean P(T=1 | I) of a few nets trained on the non-held-out T samples."""
    from viscause_gui.core.nets.models import TrainConfig, new_net, predict_proba, train_classifier

    members = recipe.regress_members or int(np.clip(recipe.regress_budget // max(int(fit.sum()), 1), 1, 3))
    outputs = []
    for m in range(members):
        member_seed = seed + 1000 * m
        net = new_net(_net_spec(x.shape[1:], 2, recipe), member_seed)
        config = TrainConfig(epochs=recipe.regress_epochs, lr=recipe.regress_lr, weight_decay=recipe.weight_decay,
                             patience=recipe.patience, seed=member_seed,
                             batch_size=_batch_size(int(fit.sum()), recipe.regress_batch))
        stage = report.scaled(m / members, (m + 1) / members)
        train_classifier(net, x[fit], t[fit], config=config, progress=stage.epochs("fitting P(T=1|I)"))
        outputs.append(predict_proba(net, x)[:, 1])
    return np.mean(outputs, axis=0)


def _refine(x: np.ndarray, labels: np.ndarray, seed: int, weight_decay: float, recipe: ObserveRecipe,
            report: _Reporter) -> np.ndarray:
    """One relabelling round: a fresh weight-decayed CNN classifier learns the labels and relabels all."""
    from viscause_gui.core.nets.models import TrainConfig, new_net, predict_proba, train_classifier

    net = new_net(_net_spec(x.shape[1:], int(labels.max()) + 1, recipe), seed)
    batch = _batch_size(len(x), recipe.refine_batch)
    epochs = max(recipe.refine_epochs, math.ceil(recipe.refine_steps / math.ceil(len(x) / batch)))
    config = TrainConfig(epochs=epochs, patience=recipe.refine_patience, seed=seed,
                         weight_decay=weight_decay, lr=recipe.refine_lr, batch_size=batch)
    train_classifier(net, x, labels, config=config, progress=report.epochs("relabelling"))
    return _compact(predict_proba(net, x).argmax(axis=1))


def _batch_size(n: int, largest: int) -> int:
    """Smaller batches for small data sets: at least ~30 optimiser steps per epoch, 32 at the least."""
    return int(max(32, min(largest, n // 30)))


def _compact(labels: np.ndarray) -> np.ndarray:
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


def _mixture_labelings(p: np.ndarray, t: np.ndarray, max_classes: int, seed: int) -> dict[int, np.ndarray]:
    """Classes of 1-D Gaussian mixtures of the outputs, K = 1..max_classes components."""
    from sklearn.mixture import GaussianMixture

    values = p.reshape(-1, 1)
    n_distinct = len(np.unique(np.round(p, 6)))
    labelings = {}
    for k in range(1, min(max_classes, n_distinct) + 1):
        gmm = GaussianMixture(k, n_init=2, random_state=seed, reg_covar=1e-6).fit(values)
        labelings[k] = _order_by_rate(gmm.predict(values), t)
    return labelings


def _heldout_terms(labels: np.ndarray, t: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Log-likelihood of each held-out T under per-class rates estimated from the other T samples."""
    k = int(labels.max()) + 1
    fit = ~held
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
    best = max(totals, key=totals.get)
    for k in sorted(terms):
        gap = terms[best] - terms[k]
        if gap.sum() <= max(recipe.margin, recipe.z * math.sqrt(len(gap)) * float(gap.std())):
            return k
    return best


def _merge_classes(labels: np.ndarray, t: np.ndarray, held: np.ndarray,
                   recipe: ObserveRecipe) -> tuple[np.ndarray, dict[int, float]]:
    """Greedy merges of classes adjacent in P(T=1); keep the smallest K the held-out T supports."""
    labels = _order_by_rate(labels, t)
    path = {int(labels.max()) + 1: labels}
    terms = {int(labels.max()) + 1: _heldout_terms(labels, t, held)}
    while labels.max() > 0:
        labels = _cheapest_merge(labels, t, held)
        k = int(labels.max()) + 1
        path[k], terms[k] = labels, _heldout_terms(labels, t, held)
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


def _bernoulli_ll(ones: float, n: float) -> float:
    """Maximised Bernoulli log-likelihood of `ones` successes in n trials."""
    if n == 0 or ones == 0 or ones == n:
        return 0.0
    q = ones / n
    return float(ones * math.log(q) + (n - ones) * math.log1p(-q))


def _single_class(t: np.ndarray, criterion: str) -> ObservationalFit:
    labels = np.zeros(len(t), np.int64)
    return _finish(labels, t, None, criterion, {1: 0.0}, {})


def _finish(labels: np.ndarray, t: np.ndarray, p_net: np.ndarray | None, criterion: str,
            scores: dict[int, float], details: dict[str, Any]) -> ObservationalFit:
    labels = _order_by_rate(labels, t)
    class_p = np.bincount(labels, weights=t) / np.bincount(labels)
    return ObservationalFit(p_obs=class_p[labels], obs_class=labels, n_classes=len(class_p),
                            criterion=criterion, scores=scores, class_p=class_p, p_net=p_net,
                            details=details)


# --------------------------------------------------------------------------- CCT on discrete models

MODEL_KEYS = ("p_h", "p_i_given_h", "p_t1_given_h_i")


@dataclass
class DiscreteModel:
    """Discrete hidden H -> image I, binary T depending on (H, I).

    p_h: P(H=h), shape (nH,). p_i_given_h: P(I=i | H=h), shape (nH, nI), rows sum to 1.
    p_t1_given_h_i: P(T=1 | H=h, I=i), shape (nH, nI).
    """

    p_h: np.ndarray
    p_i_given_h: np.ndarray
    p_t1_given_h_i: np.ndarray

    def __post_init__(self) -> None:
        self.p_h = _probabilities("p_h", self.p_h, 1)
        self.p_i_given_h = _probabilities("p_i_given_h", self.p_i_given_h, 2)
        self.p_t1_given_h_i = _probabilities("p_t1_given_h_i", self.p_t1_given_h_i, 2)
        n_h, n_i = self.p_i_given_h.shape
        if len(self.p_h) != n_h:
            raise ValueError(f"p_h has {len(self.p_h)} entries but p_i_given_h has {n_h} rows (one per h)")
        if self.p_t1_given_h_i.shape != (n_h, n_i):
            raise ValueError(f"p_t1_given_h_i has shape {self.p_t1_given_h_i.shape}, expected {(n_h, n_i)}")
        if abs(self.p_h.sum() - 1) > 1e-6:
            raise ValueError(f"p_h must sum to 1, sums to {self.p_h.sum():.6g}")
        bad = np.flatnonzero(np.abs(self.p_i_given_h.sum(axis=1) - 1) > 1e-6)
        if len(bad):
            raise ValueError(f"p_i_given_h row {bad[0]} must sum to 1, sums to {self.p_i_given_h[bad[0]].sum():.6g}")

    @classmethod
    def from_json(cls, spec: Any) -> "DiscreteModel":
        """Build from {"p_h": [..], "p_i_given_h": [[..] per h], "p_t1_given_h_i": [[..] per h]}.

        Keys starting with "_" are comments. Raises ValueError with a one-line message.
        """
        if not isinstance(spec, dict):
            raise ValueError(f"a CCT model must be a JSON object, got {type(spec).__name__}")
        missing = [k for k in MODEL_KEYS if k not in spec]
        if missing:
            raise ValueError(f"CCT model lacks {', '.join(missing)} (needs {', '.join(MODEL_KEYS)})")
        unknown = [k for k in spec if k not in MODEL_KEYS and not str(k).startswith("_")]
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} in CCT model (known: {', '.join(MODEL_KEYS)}; "
                             "keys starting with '_' are comments)")
        return cls(*(spec[k] for k in MODEL_KEYS))

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k).tolist() for k in MODEL_KEYS}

    @property
    def p_i(self) -> np.ndarray:
        """P(I=i) = sum_h P(i|h) P(h)."""
        return self.p_h @ self.p_i_given_h

    def p_obs(self) -> np.ndarray:
        """P(T=1 | I=i) = sum_h P(T=1|h,i) P(h|i); NaN where P(I=i) = 0 (never observed)."""
        joint = self.p_h[:, None] * self.p_i_given_h
        p_i = joint.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(p_i > 0, (joint * self.p_t1_given_h_i).sum(axis=0) / p_i, np.nan)

    def p_causal(self) -> np.ndarray:
        """P(T=1 | man(I=i)) = sum_h P(T=1|h,i) P(h)."""
        return self.p_h @ self.p_t1_given_h_i


def _probabilities(name: str, value: Any, ndim: int) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {'a list' if ndim == 1 else 'a list of lists'} of numbers") from None
    if arr.ndim != ndim or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty {'list' if ndim == 1 else 'list of equal-length lists'}"
                         f" of numbers, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{name} must hold probabilities in [0, 1]")
    return arr


def cct(model: DiscreteModel, tol: float = 1e-3) -> dict[str, Any]:
    """Exact observational and causal partitions of a discrete model and how they relate.

    Probabilities within `tol` are equal (a chain of small gaps is one class). An image with
    P(I=i) = 0 has no P(T | I=i): its p_obs is None and it belongs to no observational class; the
    relation compares Πo with Πc restricted to the observed images (it still has a causal class).
    """
    p_obs, p_causal = model.p_obs(), model.p_causal()
    seen = np.flatnonzero(np.isfinite(p_obs))
    obs_labels = partition_from_values(p_obs[seen], tol)
    causal_labels = partition_from_values(p_causal, tol)
    return {
        "observational_partition": _cells(seen, obs_labels),
        "causal_partition": _cells(np.arange(len(p_causal)), causal_labels),
        "p_obs": [None if not np.isfinite(p) else float(p) for p in p_obs],
        "p_causal": [float(p) for p in p_causal],
        "relation": partition_relation(obs_labels, causal_labels[seen]),
    }


def _cells(index: np.ndarray, labels: np.ndarray) -> list[list[int]]:
    return [index[labels == c].tolist() for c in range(int(labels.max()) + 1)] if len(labels) else []


def partition_relation(obs_labels: Any, causal_labels: Any) -> str:
    """equal / causal_coarsens_observational / observational_coarsens_causal / incompatible."""
    obs, causal = np.asarray(obs_labels), np.asarray(causal_labels)
    obs_in_causal = _refines(obs, causal)
    causal_in_obs = _refines(causal, obs)
    if obs_in_causal and causal_in_obs:
        return "equal"
    if obs_in_causal:
        return "causal_coarsens_observational"
    if causal_in_obs:
        return "observational_coarsens_causal"
    return "incompatible"


def _refines(fine: np.ndarray, coarse: np.ndarray) -> bool:
    """True when every cell of `fine` lies inside one cell of `coarse`."""
    return all(len(np.unique(coarse[fine == c])) == 1 for c in np.unique(fine))
