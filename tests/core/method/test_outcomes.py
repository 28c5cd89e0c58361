"""T with K outcomes in the data and the method: the data set knows K and the outcome names, observational
classes over the simplex, Algorithm 1 merging classes whose answers are close in total variation, its
premise check over distributions and single observed outcomes, Algorithm 2's classes of answers."""
from __future__ import annotations

import json

import numpy as np
import pytest

from viscause_gui.core.data.dataset import Dataset, DatasetError, labels_as_outcomes
from viscause_gui.core.data.outcomes import OutcomeError, distance, one_hot, outcome_answers
from viscause_gui.core.data.readers import load_npz
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig, ExperimentError, QueryBatch
from viscause_gui.core.method.observe import ObserveRecipe, estimate_observational_classes, fit_observational_classes
from viscause_gui.core.method.partitions import partition_from_values, partition_from_vectors
from viscause_gui.core.method.premise import BINARY, GRADED, SPLIT, PremiseRecord, PremiseSettings, answer_kind, review

NAMES = ("left", "up", "right")


def signs(n: int, seed: int = 0, confounded: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """8x8 grey images: a sign (the cause C: a full row, a full column or the diagonal) and a corner mark
    set by a hidden H (the confound), P(C = H) = .6 when confounded. (images, cause, hidden)"""
    rng = np.random.default_rng(seed)
    hidden = rng.integers(0, 3, n)
    cause = np.where(rng.random(n) < 0.6, hidden, (hidden + rng.integers(1, 3, n)) % 3) if confounded else \
        rng.integers(0, 3, n)
    images = np.zeros((n, 8, 8), np.float32)
    where = rng.integers(2, 6, n)
    for i in range(n):
        if cause[i] == 0:
            images[i, where[i], 1:7] = 1
        elif cause[i] == 1:
            images[i, 1:7, where[i]] = 1
        else:
            images[i, np.arange(1, 7), np.arange(1, 7)] = 1
        images[i, 0, 2 * hidden[i]] = 1                      # the confound's mark in the top row
    return images, cause, hidden


def levels_of(cause: np.ndarray) -> np.ndarray:
    """P(T | do(C)) of the signs: .6 on the sign's own outcome, the rest spread by the hidden H's prior."""
    return 0.6 * np.eye(3)[cause] + 0.4 / 3


class SignOracle:
    name = "signs"

    def answer(self, images: np.ndarray) -> np.ndarray:
        row = np.any(images[:, 1:, :].sum(axis=2) >= 6, axis=1)
        column = np.any(images[:, 1:, :].sum(axis=1) >= 6, axis=1)
        cause = np.where(row, 0, np.where(column, 1, 2))
        return levels_of(cause)


def sign_data(n: int = 240, seed: int = 0) -> Dataset:
    images, cause, hidden = signs(n, seed)
    return Dataset(images=images, obs_class=3 * cause + hidden, causal_class=cause, meta={"outcomes": list(NAMES)},
                   name="signs")


# ---------------------------------------------------------------- answers and their distance

def test_total_variation_is_todays_distance_for_two_outcomes():
    rng = np.random.default_rng(3)
    for _ in range(30):
        p = rng.random(rng.integers(1, 25))
        vectors = np.stack([1 - p, p], axis=1)
        assert np.array_equal(partition_from_vectors(vectors, 0.1), partition_from_values(p, 0.1))
        assert np.allclose(distance(vectors[:, None], vectors[None]), np.abs(p[:, None] - p[None]))


def test_distributions_merge_in_chains_and_are_ordered_by_their_mean_outcome():
    values = np.array([[0.1, 0.1, 0.8], [0.8, 0.1, 0.1], [0.75, 0.15, 0.1], [0.1, 0.8, 0.1], [0.7, 0.2, 0.1]])
    assert partition_from_vectors(values, 0.06).tolist() == [2, 0, 0, 1, 0]   # .8 -> .75 -> .7: one chain
    assert partition_from_vectors(values, 0.04).tolist() == [4, 0, 1, 3, 2]


def test_answers_over_outcomes_are_distributions_or_outcome_indices():
    assert outcome_answers([2, np.nan, 0], 3, 3)[[0, 2]].tolist() == [[0, 0, 1], [1, 0, 0]]
    assert np.isnan(outcome_answers([2, np.nan, 0], 3, 3)[1]).all()
    assert np.allclose(outcome_answers([[0.2, 0.3, 0.50001]], 1, 3).sum(), 1.0)
    for bad in ([[0.2, 0.2, 0.2]], [[0.5, np.nan, 0.5]], [1.5], [3], [[1.2, -0.1, -0.1]]):
        with pytest.raises(OutcomeError):
            outcome_answers(bad, 1, 3)
    assert one_hot([1], 4).tolist() == [[0, 1, 0, 0]]


# ---------------------------------------------------------------- the data set

def test_a_data_set_knows_its_outcomes():
    images = np.zeros((4, 3, 3), np.float32)
    assert Dataset(images=images).outcomes == ("0", "1")
    assert Dataset(images=images, t=np.array([0, 1, 1, 0])).n_outcomes == 2
    assert Dataset(images=images, t=np.array([0, 2, 1, 0])).outcomes == ("0", "1", "2")
    named = Dataset(images=images, t=np.array([0, 2, 1, 0]), meta={"outcomes": ["a", "b", "c", "d"]})
    assert named.outcomes == ("a", "b", "c", "d")
    p = Dataset(images=images, p_obs=np.full((4, 5), 0.2))
    assert p.n_outcomes == 5 and p.p_obs.shape == (4, 5)
    assert Dataset(images=images, p_obs=np.full(4, 0.3)).outcomes == ("0", "1")     # (N,): P(T=1) as before
    problems = [dict(p_obs=np.full((4, 3), 0.3)),                                   # rows sum to .9
                dict(p_obs=np.full(4, 0.3), meta={"outcomes": list(NAMES)}),       # (N,) with three outcomes
                dict(t=np.array([0, 3, 1, 0]), meta={"outcomes": list(NAMES)}),    # an outcome nobody named
                dict(t=np.arange(4) * 7),                                          # 22 outcomes
                dict(meta={"outcomes": ["a", "a"]}), dict(meta={"outcomes": "abc"}),
                dict(p_obs=np.full((4, 3), 1 / 3), meta={"outcomes": ["a", "b"]})]
    for fields in problems:
        with pytest.raises(DatasetError):
            Dataset(images=images, **fields)


def test_labels_become_t_with_one_outcome_per_label():
    images = np.zeros((5, 3, 3), np.float32)
    folder = Dataset(images=images, labels=np.array([0, 2, 1, 2, 0]), meta={"label_names": ["cat", "dog", "emu"]})
    made = labels_as_outcomes(folder)
    assert made.outcomes == ("cat", "dog", "emu") and made.t.tolist() == [0, 2, 1, 2, 0]
    assert made.meta["outcomes"] == ["cat", "dog", "emu"]
    digits = labels_as_outcomes(Dataset(images=images, labels=np.array([7, 3, 3, 9, 7])))
    assert digits.outcomes == ("3", "7", "9") and digits.t.tolist() == [1, 0, 0, 2, 1]
    with pytest.raises(DatasetError, match="own 't'"):
        labels_as_outcomes(Dataset(images=images, labels=np.zeros(5, int), t=np.zeros(5, int)))
    with pytest.raises(DatasetError, match="2 to 20 different labels"):
        labels_as_outcomes(Dataset(images=images, labels=np.zeros(5, int)))


def test_an_npz_with_p_of_t_over_outcomes_and_their_names(tmp_path):
    p = np.tile([[0.2, 0.5, 0.3]], (4, 1))
    np.savez(tmp_path / "d.npz", images=np.zeros((4, 3, 3), np.float32), p_obs=p,
             meta=np.array(json.dumps({"outcomes": list(NAMES)})))
    data = load_npz(tmp_path / "d.npz")
    assert data.outcomes == NAMES and np.allclose(data.p_obs, p)
    found = estimate_observational_classes(data)
    assert found is not None and found.obs_class.tolist() == [0, 0, 0, 0]
    data.save_npz(str(tmp_path / "again.npz"))
    assert load_npz(tmp_path / "again.npz").outcomes == NAMES


# ---------------------------------------------------------------- observational classes over the simplex

@pytest.mark.slow
def test_observational_classes_from_samples_of_a_three_outcome_t():
    images, cause, hidden = signs(400, seed=1)
    rng = np.random.default_rng(2)
    p = 0.6 * np.eye(3)[cause] + 0.3 * np.eye(3)[hidden] + 0.1 / 3
    t = (rng.random(400)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    quick = ObserveRecipe(regress_epochs=6, regress_members=1, refine_rounds=1, refine_epochs=3, refine_steps=40)
    fit = fit_observational_classes(images, t, seed=0, outcomes=3, recipe=quick)
    assert fit.class_p.shape == (fit.n_classes, 3) and fit.p_obs.shape == (400, 3)
    assert np.allclose(fit.class_p.sum(axis=1), 1) and fit.n_classes >= 3
    mean_outcome = fit.class_p @ np.arange(3)
    assert np.all(np.diff(mean_outcome) >= 0)                  # ids ordered by the mean outcome
    purity = sum(np.bincount(cause[fit.obs_class == c]).max() for c in range(fit.n_classes)) / 400
    assert purity > 0.9, purity
    with pytest.raises(ValueError, match="outcome indices 0 to 2"):
        fit_observational_classes(images, np.full(400, 3), outcomes=3)


# ---------------------------------------------------------------- Algorithms 1 and 2

def test_algorithm1_merges_observational_classes_whose_answers_agree_over_three_outcomes():
    data = sign_data()
    exp = Experiment(data, ExperimentConfig(iterations=1, queries=12, seed=1, epochs=5, retrain_epochs=2,
                                            net={"arch": "mlp", "hidden": [32]}, augment_shifts=0))
    steps = exp.steps()
    batch = next(steps)
    assert isinstance(batch, QueryBatch) and batch.kind == "algorithm1"
    exp.answer(SignOracle().answer(batch.images))
    assert exp.n_outcomes == 3 and exp.outcomes == NAMES
    assert exp.causal_levels.shape == (3, 3)
    np.testing.assert_allclose(exp.causal_levels, levels_of(np.arange(3)))
    assert exp.obs_to_causal.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]        # C = obs // 3: the colour merged
    assert np.array_equal(exp.causal_labels, data.causal_class)
    # answers are distributions, or single observed outcomes (one-hot), or '?'
    assert exp.class_of_answer(np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [np.nan] * 3])).tolist() == [0, 2, -1]
    assert exp.class_of_answer(one_hot([1], 3)).tolist() == [1]
    batch = next(e for e in steps if isinstance(e, QueryBatch))
    assert batch.kind == "algorithm2" and set(batch.targets.tolist()) <= {0, 1, 2}
    assert all(t != c for t, c in zip(batch.targets, data.causal_class[batch.source_index]))
    outcomes = np.where(np.arange(len(batch)) % 4 == 0, np.nan, batch.targets)   # the targets, observed; some '?'
    exp.answer(outcomes)
    record = exp.history[-1]
    assert record.merr == pytest.approx(np.isnan(outcomes).mean())        # a '?' counts as a failure
    assert batch.answers.shape == (len(batch), 3)
    assert exp.p_causal(data.images[:4]).shape == (4, 3)
    assert np.allclose(exp.p_causal(data.images[:4]).sum(axis=1), 1)


def test_answers_over_three_outcomes_are_checked():
    exp = Experiment(sign_data(90), ExperimentConfig(iterations=1, representatives=2))
    batch = next(exp.steps())
    for bad in (np.full((len(batch), 3), 0.5), np.full(len(batch), 0.5), np.zeros((len(batch), 2))):
        with pytest.raises(ExperimentError, match="3 outcomes"):
            exp.answer(bad)
    assert exp.pending is batch and batch.answers is None
    with pytest.raises(ExperimentError, match="only one causal class"):
        exp.answer(np.full(len(batch), 1))


# ---------------------------------------------------------------- the premise check over outcomes

@pytest.mark.slow
def test_the_premise_check_splits_a_class_whose_distributions_disagree():
    images, cause, _ = signs(200, seed=4, confounded=False)
    obs = np.where(cause == 2, 1, 0)                       # class 0 mixes the row and the column signs
    index = np.concatenate([np.flatnonzero(obs == 0)[:16], np.flatnonzero(obs == 1)[:6]])
    answers = levels_of(cause[index])
    assert answer_kind(answers) == GRADED
    step = review(images, obs, index, answers, PremiseSettings(tolerance=0.1, budget=0))
    assert step.more is None and step.record.verdicts[0].verdict == SPLIT
    refined = step.refined
    assert len(np.unique(refined)) == 3 and step.answers.shape == (3, 3)
    # each part's answer is a level the oracle gives (its largest group), never a mixture of two
    assert all(np.isclose(distance(answer, levels_of(np.arange(3))), 0).any() for answer in step.answers)
    moved = refined == 2                                   # the part split off class 0: mostly one sign
    assert np.bincount(cause[moved]).max() > 0.75 * moved.sum()
    again = PremiseRecord.from_json(json.loads(json.dumps(step.record.to_json())), len(images))
    assert again.rep_answers.shape == (len(index), 3) and again.describe() == step.record.describe()
    assert "total variation" in step.record.describe()


@pytest.mark.slow
def test_the_premise_check_over_single_observed_outcomes():
    images, cause, _ = signs(120, seed=5, confounded=False)
    obs = np.zeros(120, np.int64)
    index = np.arange(30)
    told_apart = one_hot(cause[index], 3)                  # each image's own outcome: the images tell them apart
    assert answer_kind(told_apart) == BINARY
    step = review(images, obs, index, told_apart, PremiseSettings(budget=0))
    assert step.record.verdicts[0].verdict == SPLIT and "permutation test" in step.record.verdicts[0].reason
    rng = np.random.default_rng(0)
    sampled = one_hot(rng.integers(0, 3, 30), 3)           # one P(T) sampled: nothing to tell apart
    step = review(images, obs, index, sampled, PremiseSettings(budget=0))
    assert step.record.verdicts[0].verdict != SPLIT
    assert step.answers.shape == (1, 3) and np.allclose(step.answers[0], sampled.mean(axis=0))
