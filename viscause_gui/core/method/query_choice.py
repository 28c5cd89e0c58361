"""How Algorithm 2 chooses its queries: the paper's random choice, or an active choice.

The paper (Chalupka et al. 2015, Algorithm 2) draws the Q start images at random and a target
causal class at random among the others. Its inspiration, active learning, suggests spending
the oracle's answers where the model is wrong; that is what `queries_by = "active"` does:

1. **A pool of candidates.** `pool_factor` x Q start images (at most `MAX_POOL`, never more
   than the data set), drawn without repeats with probability proportional to how *typical*
   each is of the data (density: an image far from every other image is an outlier, and an
   answer about it teaches little about the rest), each with a random target class other than
   its own. Every candidate is manipulated with the current nets, as the paper's queries are.
2. **A committee judges each candidate manipulation.** The committee is every net of the
   ensemble, each shown the manipulated image and the copies of it the experiment asserts
   change nothing (the random cyclic shifts of `augment_shifts`, the jittered copies of
   `augment_jitter`). Its doubt is 1 - the mean probability it gives the target class. A
   manipulation the committee doubts sits where the nets' boundary is wrong: a net that takes
   a row with one missing pixel for an h-bar at row 3 does not at row 5, where the true
   class is the same. Added to it, weighted by `START_WEIGHT`, is how unsure the ensemble is
   about the start image itself (1 - its top class probability).
3. **Answers go where manipulations fail.** Each target class gets a share of the Q queries
   equal to how often its manipulations failed in the batches answered so far (Laplace-smoothed,
   an older batch weighing `FAILURE_MEMORY` times less per iteration; equal shares before the
   first answers). This finds the errors the committee cannot see because every net makes them
   alike (on GRATING all failures are "add an h-bar": the nets take a row of 7-9 pixels for a
   bar at every position). Within its share, a class's most doubtful candidates are asked
   (ties broken at random).

Everything is seeded by the experiment's generator (same seed, same queries). Time and memory
are bounded for large data sets: the pool is at most MAX_POOL images, the density estimate
compares 2 x pool images with at most `DENSITY_REFERENCE` reference images in chunks (nothing
grows with the square of the data size). Measured on 60,000 random 28x28 images, an ensemble of
three 784-300-2 MLPs and jittered copies, one CPU thread, the manipulations not counted: 2 s for
Q = 100 and 24 s for Q = 1,000 (pool 4,000), peak memory 1.2 GB with the images.

**The default** (DEFAULT_CHOICE) is `active`: on GRATING (truth oracle, seeds 0-4, binary
margin 8: experiment.Experiment.manipulator_confidence) it gave a lower true MErr than the random
choice at every budget measured (benchmarks/bench_queries.py and its table in benchmarks/README.md): with 100,
200 and 400 answers. `random` stays available (`--queries-by random`): it is the paper's procedure.

The MErr the experiment records is measured on the batch it asked, so with the active choice
it is measured on the doubtful manipulations it chose on purpose and overstates the error of a
typical manipulation; `benchmarks/bench_queries.py` measures the true error on 500 random
manipulations per iteration. Tried and dropped (no gain on GRATING, seeds 0-4): larger pools
(20 or 50 x Q: they pick the oddest failures, which teach less than typical ones), drawing
candidates with probability proportional to a power of the score instead of the top ones,
and candidates manipulated at smaller alpha (deeper) beside alpha.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from viscause_gui.core.method.manipulator import ManipulationResult
from viscause_gui.core.nets.augment import jittered
from viscause_gui.core.nets.models import ensemble_proba

RANDOM, ACTIVE = "random", "active"
QUERY_CHOICES = (RANDOM, ACTIVE)
DEFAULT_CHOICE = ACTIVE    # ExperimentConfig, `viscause run`, the Learning panel (sessions saved without the key:
                           # random, what they were run with; the MNIST recipes keep the random choice they were
                           # measured with)
DESCRIPTIONS = {
    RANDOM: "random: the paper's procedure (start images and targets drawn at random)",
    ACTIVE: "active (the default): manipulate a larger pool of candidates and ask about those the nets doubt most "
            "(they disagree across the ensemble and the copies the experiment treats as the same image), "
            "with more questions for the target classes whose manipulations failed; start images weighted by "
            "how typical they are of the data",
}

POOL_FACTOR = 5            # candidates per query
MAX_POOL = 4000            # at most this many candidate manipulations per iteration
DENSITY_REFERENCE = 1000   # reference images of the density estimate
DENSITY_NEIGHBOURS = 10    # its k nearest neighbours
COMMITTEE_VIEWS = 8        # invariant copies of each candidate shown to every net
START_WEIGHT = 0.5         # weight of the ensemble's doubt about the start image
FAILURE_MEMORY = 0.5       # weight of an earlier batch's failures per iteration of age


def random_queries(rng: np.random.Generator, causal_labels: np.ndarray, n_classes: int,
                   queries: int) -> tuple[np.ndarray, np.ndarray]:
    """The paper's choice: Q start images without repeats, each with a target drawn uniformly among
    the other classes. (index, targets); the same draws from `rng` as Algorithm 2 always made."""
    n = len(causal_labels)
    index = rng.choice(n, min(queries, n), replace=False)
    own = np.asarray(causal_labels)[index]
    shift = rng.integers(1, n_classes, len(index))
    return index, (own + shift) % n_classes


def pool_size(n: int, queries: int, factor: int = POOL_FACTOR, cap: int = MAX_POOL) -> int:
    """How many candidates the active choice manipulates: factor x Q, at most `cap` (but never fewer
    than Q) and never more than the data set."""
    return int(min(n, max(queries, min(factor * queries, cap))))


def typicality(candidates: np.ndarray, reference: np.ndarray, neighbours: int = DENSITY_NEIGHBOURS,
               chunk: int = 1024) -> np.ndarray:
    """How typical each candidate image is of the data, in (0, 1]: a k-nearest-neighbour density in
    pixel space (L2) against `reference` images drawn from the data. It is the median distance to
    the (k+1)-th nearest reference image (the first may be the image itself) over the image's own,
    capped at 1: images at least as dense as the median candidate get 1, outliers proportionally
    less. O(candidates x reference) time, memory by chunks."""
    flat = np.asarray(candidates, np.float32).reshape(len(candidates), -1)
    ref = torch.as_tensor(np.asarray(reference, np.float32).reshape(len(reference), -1))
    n = len(flat)
    if n == 0 or len(ref) < 2:
        return np.ones(n)
    k = min(neighbours, len(ref) - 1)
    out = np.empty(n)
    for start in range(0, n, chunk):
        d = torch.cdist(torch.as_tensor(flat[start:start + chunk]), ref)
        out[start:start + chunk] = torch.topk(d, k + 1, dim=1, largest=False).values[:, k].numpy()
    median = float(np.median(out))
    if median <= 0:
        return np.where(out <= 0, 1.0, 0.0)
    return np.minimum(1.0, median / np.maximum(out, 1e-12))


def pick_candidates(rng: np.random.Generator, images: np.ndarray, causal_labels: np.ndarray, n_classes: int,
                    size: int, reference: int = DENSITY_REFERENCE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`size` start images without repeats, each with a random target among the other classes; drawn
    from twice as many random images with probability proportional to their typicality (so only
    2 x size images are scored, whatever the data size). (index, targets, typicality of each)."""
    n = len(causal_labels)
    size = min(size, n)
    wide = rng.choice(n, min(n, 2 * size), replace=False)
    typical = typicality(images[wide], images[rng.choice(n, min(reference, n), replace=False)])
    w = typical / typical.sum() if np.count_nonzero(typical) >= size else None
    keep = rng.choice(len(wide), size, replace=False, p=w)
    index = wide[keep]
    shift = rng.integers(1, n_classes, len(index))
    return index, (np.asarray(causal_labels)[index] + shift) % n_classes, typical[keep]


def invariant_views(images: np.ndarray, shifts: bool, jitter: bool, views: int,
                    rng: np.random.Generator, seed: int) -> list[np.ndarray]:
    """The image and copies of it the experiment asserts have the same class: `views` random cyclic
    shifts (shifts) or `views` jittered copies (jitter: a pixel's shift, strokes a little thicker or
    thinner, no noise). Each view is an array like `images`."""
    images = np.asarray(images, np.float32)
    out = [images]
    if shifts and views:
        h, w = images.shape[1:3]
        for r, c in zip(rng.integers(0, h, views), rng.integers(0, w, views)):
            out.append(np.roll(images, (int(r), int(c)), axis=(1, 2)))
    elif jitter and views:
        copies = jittered(images, views, seed=seed, max_shift=1, noise=0.0)
        out.extend(np.split(copies, views))
    return out


def committee_doubt(nets: Sequence[nn.Module], views: Sequence[np.ndarray], targets: np.ndarray) -> np.ndarray:
    """1 - the mean probability of the target class over every net and every view, in [0, 1]."""
    targets = np.asarray(targets, np.int64)
    rows = np.arange(len(targets))
    p = np.zeros(len(targets))
    for view in views:
        for net in nets:
            p += ensemble_proba([net], view)[rows, targets]
    return 1.0 - p / (len(views) * len(nets))


def start_doubt(probs: np.ndarray) -> np.ndarray:
    """1 - the top class probability of each start image."""
    return 1.0 - np.asarray(probs, np.float64).max(1)


def target_shares(n_classes: int, past: Sequence[tuple[np.ndarray, np.ndarray]],
                  memory: float | None = None) -> np.ndarray:
    """The share of the next batch each target class gets: its manipulations' failure rate so far
    (Laplace-smoothed; an earlier batch counts `memory` times less per iteration of age). `past`
    holds (targets, failed) of the answered batches, oldest first. Without any: equal shares."""
    memory = FAILURE_MEMORY if memory is None else memory
    failed = np.zeros(n_classes)
    asked = np.zeros(n_classes)
    for age, (targets, fails) in enumerate(reversed(list(past))):
        w = memory ** age
        targets = np.asarray(targets, np.int64)
        asked += w * np.bincount(targets, minlength=n_classes)[:n_classes]
        failed += w * np.bincount(targets, weights=np.asarray(fails, np.float64), minlength=n_classes)[:n_classes]
    rate = (failed + 1.0) / (asked + 2.0)
    return rate / rate.sum()


def most_doubtful(scores: np.ndarray, queries: int, rng: np.random.Generator,
                  targets: np.ndarray | None = None, shares: np.ndarray | None = None) -> np.ndarray:
    """Positions of the `queries` highest scores (ties in random order); with `targets` and `shares`,
    target class k gets round(shares[k] x queries) of them (the highest scores among its candidates),
    and places a class cannot fill go to the highest scores left."""
    scores = np.asarray(scores, np.float64)
    queries = min(queries, len(scores))
    order = rng.permutation(len(scores))
    ranked = order[np.argsort(-scores[order], kind="stable")]
    if targets is None or shares is None:
        return ranked[:queries]
    targets = np.asarray(targets)[ranked]
    quota = np.floor(np.asarray(shares) * queries + 0.5).astype(int)
    taken = np.zeros(len(ranked), bool)
    for k, n_k in enumerate(quota):
        of_k = np.flatnonzero(targets == k)[:n_k]
        taken[of_k] = True
    short = queries - int(taken.sum())
    if short > 0:
        taken[np.flatnonzero(~taken)[:short]] = True
    elif short < 0:                      # rounding gave one too many: drop the lowest scores taken
        taken[np.flatnonzero(taken)[short:]] = False
    return ranked[taken]


def rows_of(result: ManipulationResult, rows: np.ndarray) -> ManipulationResult:
    """The manipulation result of some of its images."""
    return dataclasses.replace(result, images=result.images[rows], p_target=result.p_target[rows],
                               predicted_class=result.predicted_class[rows], distance=result.distance[rows],
                               codes=None if result.codes is None else result.codes[rows])


@dataclass
class ActiveChoice:
    """What the active choice decided (kept for the caller's records and the tests)."""

    index: np.ndarray           # data set index of each chosen start image
    targets: np.ndarray
    chosen: np.ndarray          # positions in the pool
    pool_index: np.ndarray
    pool_targets: np.ndarray
    scores: np.ndarray          # per pool candidate
    doubt: np.ndarray           # the committee's doubt per candidate manipulation
    typical: np.ndarray         # typicality of each pool start image


def choose_active(images: np.ndarray, causal_labels: np.ndarray, n_classes: int, queries: int,
                  nets: Sequence[nn.Module], manipulate: Callable[[np.ndarray, np.ndarray], ManipulationResult],
                  rng: np.random.Generator, *, shifts: bool = False, jitter: bool = False, seed: int = 0,
                  past: Sequence[tuple[np.ndarray, np.ndarray]] = (),
                  pool_factor: int | None = None, views: int | None = None
                  ) -> tuple[ActiveChoice, ManipulationResult]:
    """The active choice (module docstring). `manipulate(images, targets)` returns a ManipulationResult;
    returns the choice and the pool's manipulation result (the caller
    keeps the chosen rows, so nothing is manipulated twice)."""
    n = len(images)
    pool_factor = POOL_FACTOR if pool_factor is None else pool_factor
    views = COMMITTEE_VIEWS if views is None else views
    size = pool_size(n, queries, pool_factor)
    pool_index, pool_targets, typical = pick_candidates(rng, images, causal_labels, n_classes, size)
    result = manipulate(images[pool_index], pool_targets)
    manipulated = np.asarray(result.images, np.float32)
    committee = invariant_views(manipulated, shifts, jitter, views, rng, seed)
    doubt = committee_doubt(nets, committee, pool_targets)
    scores = doubt + START_WEIGHT * start_doubt(ensemble_proba(nets, images[pool_index]))
    chosen = most_doubtful(scores, queries, rng, pool_targets, target_shares(n_classes, past))
    return ActiveChoice(pool_index[chosen], pool_targets[chosen], chosen, pool_index, pool_targets, scores, doubt,
                        typical), result
