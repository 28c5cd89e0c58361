"""Algorithm 1's premise, checked: the representatives of an observational class get one answer.

The Causal Coarsening Theorem (docs/method.md) says every observational class lies inside one causal
class, so Algorithm 1 may give all images of a class the answer of a few representatives. That
holds for the *true* observational partition; the classes here are estimated from one noisy T
sample per image, and an estimate that merged two true classes merges answers that disagree. The
representatives' answers are evidence about it; `review` reads them, class by class:

- **Graded answers** (probabilities, any answer other than 0 or 1): a class agrees when its answers
  form one group under the tolerance that merges classes into causal classes (`partition_from_values`
  with the experiment's `causal_tol`: sorted answers never further apart than it). The oracle's own
  noise must stay below that tolerance.
- **Binary answers** (every answer 0 or 1: a person's yes/no, one sampled T): a class whose
  representatives all answered alike agrees. Mixed answers are what one P(T=1 | man(I)) between 0
  and 1 gives too, so they alone prove nothing: the test asks whether the answers can be told from
  the images. A classifier (logistic regression on the class's principal components) predicts each
  representative's answer from the others (leave-one-out), and Fisher's exact test (one-sided) asks
  whether those predictions agree with the answers more than chance would. The class is split when
  p <= alpha / looks (looks: the follow-up rounds plus one), so that a class whose answers are one
  P(T=1) sampled is split at a rate of at most `alpha` however many rounds look at it.

Where a class disagrees it is split by a classifier trained on its answered representatives (the
same features): each of its images goes to the part its representatives' answers predict, and
each part gets the answer of the representatives the classifier puts in it (`class_answer`: graded
answers, the mean of their largest group, the level the oracle gives; 0/1 answers, the share of yes). Where the
evidence is thin (a part with one answer, binary answers not yet significant), more
representatives are asked, drawn from each predicted part, while the answer budget lasts.
Where every class agrees nothing is asked or changed: it is the paper's Algorithm 1.

Over K > 2 outcomes every answer is a distribution (core.data.outcomes): graded answers are grouped by
their total variation distance under the same tolerance, a class's answer is the mean distribution of
its largest group, and "binary" answers are single observed outcomes (one-hot rows): all alike agrees;
mixed ones are tested as above with the K-outcome form of Fisher's exact test, a permutation test of
the table of candidate side against outcome (the agreements of the leave-one-out predictions, one-sided;
the chi-square statistic of the two clusters' table), with a fixed seed. For K = 2 everything is as
written above.

`PremiseRecord` says what was checked, split and why (the CLI prints it, history.json and the
session keep it; `describe()` is the text the Classes panel shows).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from viscause_gui.core.data.outcomes import answer_to_json, distance, format_answer, known, mean_answer
from viscause_gui.core.method.partitions import partition_answers, partition_from_values

BINARY, GRADED = "binary", "graded"
AGREES, SPLIT, UNDECIDED = "agrees", "split", "undecided"
MAX_ROUNDS = 2             # follow-up rounds of more representatives at most
MIN_PART_ANSWERS = 2       # a part of a split needs this many answers (a lone answer may be the oracle's noise)
MAX_COMPONENTS = 10        # principal components the classifiers see
FIT_IMAGES = 2000          # the principal components are fitted on at most this many images of a class
PERMUTATIONS = 4999        # K > 2 outcomes: the permutation test's random tables (p-values from 1/5000)


def answer_kind(answers: np.ndarray) -> str:
    """BINARY when every finite answer is 0 or 1 (over K > 2 outcomes: every answer one observed outcome,
    a one-hot row), else GRADED."""
    a = np.asarray(answers, np.float64)
    if a.ndim == 2:
        rows = a[known(a)]
        return BINARY if np.all(((rows == 0) | (rows == 1)).all(axis=1) & (rows.sum(axis=1) == 1)) else GRADED
    a = a[np.isfinite(a)]
    return BINARY if np.all((a == 0) | (a == 1)) else GRADED


@dataclass(frozen=True)
class PremiseSettings:
    """tolerance: graded answers of one class lie within it (the experiment's causal_tol); alpha: the
    false-split rate per class for binary answers; budget: answers Algorithm 1 may ask beyond its
    first representatives; per_part: representatives asked per predicted part in a follow-up."""

    tolerance: float = 0.1
    alpha: float = 0.01
    budget: int = 20
    per_part: int = 5
    rounds: int = MAX_ROUNDS


@dataclass
class ClassVerdict:
    """One observational class: what its representatives answered and what was decided."""

    obs_class: int
    n_answers: int
    mean: Any                       # float: the mean answer (a binary T); over K > 2 outcomes a list of K
    verdict: str                    # AGREES, SPLIT or UNDECIDED (disagreeing, but not split)
    reason: str
    parts: list[int] = field(default_factory=list)       # classes it became (SPLIT: the first is obs_class)
    part_means: list[Any] = field(default_factory=list)
    part_sizes: list[int] = field(default_factory=list)  # images per part
    p_value: float | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"obs_class": self.obs_class, "n_answers": self.n_answers, "mean": _rounded(self.mean),
               "verdict": self.verdict, "reason": self.reason}
        if self.parts:
            out.update(parts=self.parts, part_means=[_rounded(v) for v in self.part_means],
                       part_sizes=self.part_sizes)
        if self.p_value is not None:
            out["p_value"] = float(self.p_value)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ClassVerdict:
        return cls(obs_class=int(d["obs_class"]), n_answers=int(d["n_answers"]), mean=_mean_of_json(d["mean"]),
                   verdict=str(d["verdict"]), reason=str(d["reason"]), parts=[int(v) for v in d.get("parts", [])],
                   part_means=[_mean_of_json(v) for v in d.get("part_means", [])],
                   part_sizes=[int(v) for v in d.get("part_sizes", [])],
                   p_value=None if d.get("p_value") is None else float(d["p_value"]))

    def describe(self) -> str:
        head = f"class {self.obs_class}: {self.n_answers} answers, mean {_shown(self.mean)}"
        if self.verdict != SPLIT:
            return f"{head}: {self.verdict} ({self.reason})"
        parts = ", ".join(f"{c} ({n} images, answer {_shown(m)})"
                          for c, n, m in zip(self.parts, self.part_sizes, self.part_means))
        return f"{head}: split into {parts} ({self.reason})"


@dataclass
class PremiseRecord:
    """Algorithm 1's check of its premise: the answers it had, the extra answers it asked, each class's
    verdict and the images a split moved into a new class."""

    kind: str
    settings: PremiseSettings
    rep_index: np.ndarray                 # data-set index of every answered representative
    rep_answers: np.ndarray               # their answers (NaN: none)
    asked: int = 0                        # answers asked beyond the first representatives
    rounds: int = 0                       # follow-up rounds so far
    verdicts: list[ClassVerdict] = field(default_factory=list)
    moves: dict[int, tuple[int, np.ndarray]] = field(default_factory=dict)   # new class -> (parent, image indices)
    finished: bool = False

    @property
    def split_classes(self) -> list[int]:
        return [v.obs_class for v in self.verdicts if v.verdict == SPLIT]

    def refined(self, obs_class: np.ndarray) -> np.ndarray:
        """The observational classes with the splits applied (new classes numbered after the old ones)."""
        out = np.array(obs_class, np.int64, copy=True)
        for new, (_, index) in sorted(self.moves.items()):
            out[index] = new
        return out

    def describe(self) -> str:
        """What was checked and decided, in words (several lines)."""
        s = self.settings
        many = np.asarray(self.rep_answers).ndim == 2
        if many:
            rule = (f"one observed outcome per answer: split where a permutation test (Fisher's exact test for "
                    f"K outcomes) on leave-one-out predictions gives p <= {s.alpha:g} / looks"
                    if self.kind == BINARY else f"graded answers: one class's answers lie within {s.tolerance:g} "
                                                "of each other in total variation")
        else:
            rule = (f"binary answers: split where Fisher's exact test on leave-one-out predictions gives "
                    f"p <= {s.alpha:g} / looks" if self.kind == BINARY else
                    f"graded answers: one class's answers lie within {s.tolerance:g} of each other")
        state = "" if self.finished else " (waiting for more answers)"
        lines = [f"Premise check{state}: {len(self.rep_index)} answers, {self.asked} of them asked beyond the "
                 f"representatives (budget {s.budget}), {self.rounds} follow-up round(s); {rule}."]
        split = self.split_classes
        lines.append(f"split: {', '.join(map(str, split))}" if split else "no class split")
        lines += ["  " + v.describe() for v in self.verdicts if v.verdict != AGREES]
        agree = [v.obs_class for v in self.verdicts if v.verdict == AGREES]
        if agree:
            lines.append(f"  agree: {', '.join(map(str, agree))}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        s = self.settings
        return {"kind": self.kind, "tolerance": s.tolerance, "alpha": s.alpha, "budget": s.budget,
                "per_part": s.per_part, "rounds_allowed": s.rounds, "asked": self.asked, "rounds": self.rounds,
                "finished": self.finished, "rep_index": np.asarray(self.rep_index, np.int64).tolist(),
                "rep_answers": [answer_to_json(v) for v in self.rep_answers],
                "verdicts": [v.to_json() for v in self.verdicts],
                "moves": [{"class": int(k), "parent": int(p), "images": np.asarray(ix, np.int64).tolist()}
                          for k, (p, ix) in sorted(self.moves.items())],
                "summary": self.describe()}

    @classmethod
    def from_json(cls, d: Any, n_images: int) -> PremiseRecord:
        """Read a record back (ValueError, in one line, when it is malformed)."""
        try:
            settings = PremiseSettings(tolerance=float(d["tolerance"]), alpha=float(d["alpha"]),
                                       budget=int(d["budget"]), per_part=int(d["per_part"]),
                                       rounds=int(d["rounds_allowed"]))
            index = np.asarray(d["rep_index"], np.int64).reshape(-1)
            answers = _answers_of_json(d["rep_answers"])
            moves = {int(m["class"]): (int(m["parent"]), np.asarray(m["images"], np.int64).reshape(-1))
                     for m in d["moves"]}
            record = cls(kind=str(d["kind"]), settings=settings, rep_index=index, rep_answers=answers,
                         asked=int(d["asked"]), rounds=int(d["rounds"]), finished=bool(d["finished"]),
                         verdicts=[ClassVerdict.from_json(v) for v in d["verdicts"]], moves=moves)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"the premise record is malformed ({type(exc).__name__}: {exc})") from None
        ok_answers = answers[known(answers)]
        if record.kind not in (BINARY, GRADED) or len(index) != len(answers) or \
                np.any((index < 0) | (index >= n_images)) or np.any((ok_answers < 0) | (ok_answers > 1)) or \
                any(len(ix) and (ix.min() < 0 or ix.max() >= n_images) for _, ix in moves.values()):
            raise ValueError("the premise record does not fit the data set (indices or answers out of range)")
        return record


def _rounded(value: Any) -> Any:
    return answer_to_json(value, 6)


def _shown(value: Any) -> str:
    return format_answer(value)


def _mean_of_json(value: Any) -> Any:
    if isinstance(value, list):
        return [float(v) for v in value]
    return float("nan") if value is None else float(value)


def _answers_of_json(values: Any) -> np.ndarray:
    """Answers read back: numbers or null (a binary T), lists of K numbers or null (K > 2 outcomes)."""
    rows = [v for v in values if v is not None]
    if rows and all(isinstance(v, list) for v in rows):
        k = len(rows[0])
        if k < 3 or any(len(v) != k for v in rows):
            raise ValueError("answers over K outcomes must all have K > 2 numbers")
        return np.array([[np.nan] * k if v is None else [float(x) for x in v] for v in values], np.float64)
    return np.array([np.nan if v is None else float(v) for v in values], np.float64)


@dataclass
class Review:
    """What review() decided: more representatives to ask (`more`, data-set indices), or, when `more` is
    None, the final classes (`refined`, per image) and the mean answer of each (`answers`, per class id)."""

    record: PremiseRecord
    more: np.ndarray | None
    refined: np.ndarray | None = None
    answers: np.ndarray | None = None


def review(images: np.ndarray, obs_class: np.ndarray, rep_index: np.ndarray, rep_answers: np.ndarray,
           settings: PremiseSettings, asked: int = 0, rounds: int = 0, seed: int = 0) -> Review:
    """Check every class's answers (all answered so far: rep_index, rep_answers); ask more or finish.

    asked / rounds: extra answers and follow-up rounds already spent. Deterministic for a seed."""
    obs_class = np.asarray(obs_class, np.int64)
    rep_index = np.asarray(rep_index, np.int64)
    rep_answers = np.asarray(rep_answers, np.float64)
    kind = answer_kind(rep_answers)
    can_ask = rounds < settings.rounds and asked < settings.budget
    looks = settings.rounds + 1
    verdicts, wanted, splits = [], [], {}
    for c in np.unique(obs_class):
        members = np.flatnonzero(obs_class == c)
        mine = (obs_class[rep_index] == c) & known(rep_answers)
        index, answers = rep_index[mine], rep_answers[mine]
        check = _check_class(images, int(c), members, index, answers, kind, settings, looks, can_ask,
                             np.random.default_rng([seed, rounds, int(c)]))
        verdicts.append(check.verdict)
        wanted.extend(check.more)
        if check.assignment is not None and check.part_answers is not None:      # a SPLIT sets both
            splits[int(c)] = (members, check.assignment, check.part_answers)
    record = PremiseRecord(kind, settings, rep_index, rep_answers, asked, rounds, verdicts)
    wanted = [i for i in dict.fromkeys(wanted) if i not in set(rep_index.tolist())]
    if wanted and can_ask:
        more = np.asarray(wanted[:settings.budget - asked], np.int64)
        record.asked, record.rounds = asked + len(more), rounds + 1
        return Review(record, more)
    return _finish(record, obs_class, rep_index, rep_answers, splits)


@dataclass
class _ClassCheck:
    verdict: ClassVerdict
    more: list[int]
    assignment: np.ndarray | None = None      # SPLIT: part 0..P-1 per member
    part_answers: list[np.ndarray] | None = None


def _check_class(images: np.ndarray, c: int, members: np.ndarray, index: np.ndarray, answers: np.ndarray,
                 kind: str, settings: PremiseSettings, looks: int, can_ask: bool,
                 rng: np.random.Generator) -> _ClassCheck:
    many = answers.ndim == 2            # distributions over K > 2 outcomes
    mean: Any = (mean_answer(answers) if len(answers) else float("nan")) if not many else \
        (mean_answer(answers).tolist() if len(answers) else [float("nan")] * answers.shape[1])
    verdict = ClassVerdict(c, len(answers), mean, AGREES, "")
    if len(answers) < 2:
        verdict.reason = "fewer than two answers: nothing to compare"
        return _ClassCheck(verdict, [])
    if kind == GRADED:
        groups = partition_answers(answers, settings.tolerance)
        if groups.max() == 0:
            verdict.reason = f"answers within {settings.tolerance:g} (spread {_spread(answers):.3f})"
            return _ClassCheck(verdict, [])
        counts = np.bincount(groups)
        reason = (f"answers fall in {len(counts)} groups more than {settings.tolerance:g} apart "
                  f"(means {', '.join(_shown(mean_answer(answers[groups == g])) for g in range(len(counts)))}; "
                  f"{'/'.join(map(str, counts))} answers)")
        thin = counts.min() < MIN_PART_ANSWERS
    else:
        groups = answers.argmax(axis=1).astype(np.int64) if many else answers.astype(np.int64)
        if groups.min() == groups.max():
            verdict.reason = f"all {len(answers)} answers {int(groups[0])}"
            return _ClassCheck(verdict, [])
        features = _features(images, members)
        level = settings.alpha / (looks * 2)
        p, candidate = _binary_tests(features, members, index, groups, answers.shape[1] if many else 2)
        verdict.p_value = p
        if many:
            tally = ", ".join(f"{k}: {n}" for k, n in enumerate(np.bincount(groups, minlength=answers.shape[1])))
            reason = (f"outcomes answered ({tally}) of {len(groups)}; a permutation test of the answers against "
                      f"the image's side of a candidate split: p = {p:.3g} (split at <= {level:.3g})")
        else:
            reason = (f"{int(groups.sum())} of {len(groups)} answered 1; Fisher's exact test of the answers "
                      f"against the image's side of a candidate split: p = {p:.3g} (split at <= {level:.3g})")
        if p <= level and candidate is not None:
            if many:                     # a classifier of K outcomes may predict any of them: parts 0..P-1
                candidate = _compact(candidate)
            sides = candidate[np.searchsorted(members, index)]
            verdict.verdict, verdict.reason = SPLIT, reason
            part_ids = range(2) if not many else range(int(candidate.max()) + 1)
            return _ClassCheck(verdict, [], candidate, [answers[sides == k] for k in part_ids])
        more = _draw_more(members, candidate if candidate is not None else np.zeros(len(members), np.int64),
                          index, settings.per_part, rng) if can_ask else []
        if more:
            verdict.verdict, verdict.reason = UNDECIDED, reason + "; asking more representatives"
        else:
            verdict.reason = reason + ("; the images do not tell the answers apart: one P(T=1) sampled" if not many
                                       else "; the images do not tell the answers apart: one P(T) sampled")
        return _ClassCheck(verdict, more)
    features = _features(images, members)
    predicted = _classify(features, members, index, groups)
    part_counts = np.bincount(predicted[np.searchsorted(members, index)], minlength=groups.max() + 1)
    enough = settings.per_part if can_ask else MIN_PART_ANSWERS
    if thin or len(np.unique(predicted)) < groups.max() + 1 or part_counts.min() < enough:
        more = _draw_more(members, predicted, index, settings.per_part, rng) if can_ask else []
        verdict.verdict = UNDECIDED
        verdict.reason = reason + ("; asking more representatives" if more else
                                   "; too few answers to split and no budget left")
        return _ClassCheck(verdict, more)
    parts = _compact(predicted)
    at_reps = parts[np.searchsorted(members, index)]
    verdict.verdict, verdict.reason = SPLIT, reason
    return _ClassCheck(verdict, [], parts, [answers[at_reps == k] for k in range(parts.max() + 1)])


def _finish(record: PremiseRecord, obs_class: np.ndarray, rep_index: np.ndarray, rep_answers: np.ndarray,
            splits: dict[int, tuple[np.ndarray, np.ndarray, list[np.ndarray]]]) -> Review:
    """Apply the splits: the largest part keeps the class id, the others get new ids after the last one."""
    n_classes = int(obs_class.max()) + 1
    next_id = n_classes
    for verdict in record.verdicts:
        if verdict.obs_class not in splits:
            continue
        members, parts, part_answers = splits[verdict.obs_class]
        sizes = np.bincount(parts)
        order = np.argsort(-sizes, kind="stable")
        ids = {}
        for rank, k in enumerate(order):
            ids[int(k)] = verdict.obs_class if rank == 0 else next_id
            if rank:
                record.moves[next_id] = (verdict.obs_class, members[parts == k])
                next_id += 1
        verdict.parts = [ids[int(k)] for k in order]
        verdict.part_sizes = [int(sizes[k]) for k in order]
        everything = np.concatenate(part_answers)
        verdict.part_means = [class_answer(part_answers[k], record.kind, record.settings.tolerance, everything)
                              for k in order]
    record.finished = True
    refined = record.refined(obs_class)
    answers = np.full((next_id, *rep_answers.shape[1:]), np.nan)
    parent = {c: c for c in range(n_classes)} | {c: p for c, (p, _) in record.moves.items()}
    answered = known(rep_answers)
    for c in range(next_id):
        a = rep_answers[(refined[rep_index] == c) & answered]
        if len(a):
            family = np.isin(refined[rep_index], [d for d, p in parent.items() if p == parent[c]]) & answered
            answers[c] = class_answer(a, record.kind, record.settings.tolerance, rep_answers[family])
    return Review(record, None, refined, answers)


def class_answer(answers: np.ndarray, kind: str, tolerance: float, prior: np.ndarray | None = None) -> Any:
    """A class's answer: for graded answers the mean of its largest group of answers within `tolerance`
    (a class a split left with a few answers of its neighbour keeps the level the oracle gives, not a
    mixture no image has: averaging .25 and .75 made causal levels the oracle never answers, so
    every manipulation towards them failed); a tie goes to the group with the most answers in `prior`
    (all the answers of the class it was split from), and only without one to the mean. For 0/1
    answers their mean, the share of yes. Over K > 2 outcomes the same with distributions (the mean row;
    groups by total variation distance): a float for a binary T, a distribution (K,) otherwise."""
    answers = np.asarray(answers, np.float64)
    if answers.ndim == 2:
        return _class_distribution(answers, kind, tolerance, prior)
    if kind == BINARY or len(answers) < 2:
        return float(answers.mean())
    groups = partition_from_values(answers, tolerance)
    counts = np.bincount(groups).astype(np.float64)
    if prior is not None and np.sum(counts == counts.max()) > 1:
        means = np.array([answers[groups == g].mean() for g in range(len(counts))])
        counts += np.array([np.sum(np.abs(np.asarray(prior) - m) <= tolerance) for m in means]) / (len(prior) + 1)
    largest = np.flatnonzero(counts == counts.max())
    if len(largest) > 1:              # a tie nothing breaks: no group is the class's; its mean says so
        return float(answers.mean())
    return float(answers[groups == largest[0]].mean())


def _class_distribution(answers: np.ndarray, kind: str, tolerance: float, prior: np.ndarray | None) -> np.ndarray:
    """class_answer over K > 2 outcomes (answers (n, K))."""
    if kind == BINARY or len(answers) < 2:
        return answers.mean(axis=0)
    groups = partition_answers(answers, tolerance)
    counts = np.bincount(groups).astype(np.float64)
    if prior is not None and np.sum(counts == counts.max()) > 1:
        prior = np.asarray(prior, np.float64)
        means = [answers[groups == g].mean(axis=0) for g in range(len(counts))]
        counts += np.array([np.sum(distance(prior, m) <= tolerance) for m in means]) / (len(prior) + 1)
    largest = np.flatnonzero(counts == counts.max())
    if len(largest) > 1:
        return answers.mean(axis=0)
    return answers[groups == largest[0]].mean(axis=0)


def _spread(answers: np.ndarray) -> float:
    """The largest distance between two answers (np.ptp of binary ones)."""
    if answers.ndim == 1:
        return float(np.ptp(answers))
    return float(distance(answers[:, None, :], answers[None]).max())


# ---------------------------------------------------------------- features and classifiers

def _features(images: np.ndarray, members: np.ndarray) -> np.ndarray:
    """A class's images on their first principal components (fitted on at most FIT_IMAGES of them), in
    units of the first component's spread: the directions keep their share of the variation, so the
    classifiers and the clusters follow the large differences between images, not the noise."""
    flat = np.asarray(images[members], np.float32).reshape(len(members), -1)
    fit = flat if len(flat) <= FIT_IMAGES else flat[np.linspace(0, len(flat) - 1, FIT_IMAGES).astype(int)]
    mean = fit.mean(axis=0)
    k = int(min(MAX_COMPONENTS, len(fit) - 1, fit.shape[1]))
    if k < 1:
        return np.zeros((len(members), 1), np.float32)
    _, sv, vt = np.linalg.svd(fit - mean, full_matrices=False)
    z = (flat - mean) @ vt[:k].T
    return z / max(float(sv[0]) / math.sqrt(len(fit)), 1e-6)


def _logistic(x: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression  # imported when used (scikit-learn imports slowly)

    return LogisticRegression(C=1.0, class_weight="balanced", max_iter=500).fit(x, y)


def _classify(features: np.ndarray, members: np.ndarray, index: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Part 0..G-1 of every member: a classifier trained on the answered representatives' groups."""
    at = np.searchsorted(members, index)
    if len(np.unique(groups)) < 2:
        return np.zeros(len(members), np.int64)
    return _logistic(features[at], groups).predict(features).astype(np.int64)


def _binary_tests(features: np.ndarray, members: np.ndarray, index: np.ndarray,
                  answers: np.ndarray, outcomes: int = 2) -> tuple[float, np.ndarray | None]:
    """Two candidate splits of a class, each tested with Fisher's exact test against the 0/1 answers:
    two clusters of its images (k-means; they never saw an answer, so under the premise the test is
    exact) and a classifier of the answers (leave-one-out predictions, one-sided). Returns the smaller
    p-value and the split of every member it stands for (None: no candidate). Over K > 2 outcomes
    (`answers` the outcome indices) the tests are permutation tests (_permutation_p)."""
    from scipy.stats import fisher_exact
    from sklearn.cluster import KMeans

    at = np.searchsorted(members, index)
    tests: list[tuple[float, np.ndarray | None]] = []
    if len(members) >= 2:
        clusters = KMeans(2, n_init=4, random_state=0).fit_predict(features).astype(np.int64)
        p = float(fisher_exact(_table(clusters[at], answers))[1]) if outcomes == 2 else \
            _permutation_p(clusters[at], answers, _chi_square)
        tests.append((p, clusters))
    predicted = np.zeros(len(answers), np.int64)
    for i in range(len(answers)):
        rest = np.arange(len(answers)) != i
        if len(np.unique(answers[rest])) < 2:
            break
        predicted[i] = _logistic(features[at][rest], answers[rest]).predict(features[at][i:i + 1])[0]
    else:
        p = float(fisher_exact(_table(predicted, answers), alternative="greater")[1]) if outcomes == 2 else \
            _permutation_p(predicted, answers, _agreements)
        tests.append((p, _classify(features, members, index, answers)))
    return min(tests, key=lambda v: v[0]) if tests else (1.0, None)


def _permutation_p(side: np.ndarray, answers: np.ndarray, statistic: Any) -> float:
    """P-value of a permutation test: the answers shuffled against the sides (the table's margins kept, as
    in Fisher's exact test), PERMUTATIONS times with a fixed seed; the share of statistics at least the one
    observed, counting it (so never 0)."""
    rng = np.random.default_rng(0)
    shuffled = rng.permuted(np.tile(answers, (PERMUTATIONS, 1)), axis=1)
    observed = statistic(side[None], answers[None])[0]
    return float((1 + np.sum(statistic(side[None], shuffled) >= observed - 1e-9)) / (PERMUTATIONS + 1))


def _agreements(side: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """Per row, how many predictions (side) equal the answers: one-sided, more than chance is evidence."""
    return (side == answers).sum(axis=1).astype(np.float64)


def _chi_square(side: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """Per row, the chi-square statistic of the table side x outcome (its margins are the same in every row)."""
    sides, outcomes = int(side.max()) + 1, int(answers.max()) + 1
    size = sides * outcomes
    cells = np.broadcast_to(side, answers.shape) * outcomes + answers + size * np.arange(len(answers))[:, None]
    tables = np.bincount(cells.ravel(), minlength=size * len(answers)).reshape(-1, sides, outcomes)
    expected = tables.sum(axis=2, keepdims=True) * tables.sum(axis=1, keepdims=True) / answers.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(expected > 0, (tables - expected) ** 2 / expected, 0.0)
    return terms.sum(axis=(1, 2))


def _table(side: np.ndarray, answers: np.ndarray) -> list[list[int]]:
    return [[int(np.sum((side == s) & (answers == a))) for a in (1, 0)] for s in (1, 0)]


def _draw_more(members: np.ndarray, predicted: np.ndarray, index: np.ndarray, per_part: int,
               rng: np.random.Generator) -> list[int]:
    """per_part unasked members from each predicted part (from the whole class when one part is predicted)."""
    asked = set(index.tolist())
    parts = [members[predicted == k] for k in np.unique(predicted)] if len(np.unique(predicted)) > 1 else [members]
    out: list[int] = []
    for part in parts:
        free = np.array([i for i in part if i not in asked], np.int64)
        if len(free):
            out.extend(rng.choice(free, min(per_part, len(free)), replace=False).tolist())
    return out


def _compact(labels: np.ndarray) -> np.ndarray:
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)
