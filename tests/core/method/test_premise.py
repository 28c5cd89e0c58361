"""Algorithm 1's premise check (core/method/premise.py) with synthetic oracles whose truth we know."""
from __future__ import annotations

import numpy as np
import pytest

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
from viscause_gui.core.method.premise import AGREES, SPLIT, PremiseRecord, PremiseSettings, review

LEVELS = np.array([0.25, 0.85])     # P(T=1 | man(I)) of the two causal kinds


def two_kinds(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images of two causal kinds (a bright block top-left or bottom-right); observational class 0
    mixes both kinds (an estimate that merged two true classes), class 1 holds kind 1 only."""
    rng = np.random.default_rng(seed)
    obs = (np.arange(n) >= n // 2).astype(np.int64)
    kind = np.where(obs == 1, 1, rng.integers(0, 2, n))
    images = (rng.random((n, 8, 8)) * 0.3).astype(np.float32)
    images[kind == 1, :4, :4] += 0.6
    images[kind == 0, 4:, 4:] += 0.6
    return images, obs, kind


def run_review(images, obs, kind, binary: bool, seed: int = 0, budget: int = 40):
    """Algorithm 1's loop around review(): 5 representatives per class, then what it asks for."""
    rng = np.random.default_rng(seed)

    def oracle(index):
        p = LEVELS[kind[index]]
        return (rng.random(len(index)) < p).astype(float) if binary else p

    index = np.concatenate([rng.choice(np.flatnonzero(obs == c), 5, replace=False) for c in np.unique(obs)])
    answers = oracle(index)
    asked = rounds = 0
    while True:
        step = review(images, obs, index, answers, PremiseSettings(budget=budget), asked, rounds, seed=seed)
        if step.more is None:
            return step
        index, answers = np.concatenate([index, step.more]), np.concatenate([answers, oracle(step.more)])
        asked, rounds = step.record.asked, step.record.rounds


def assert_split_into_kinds(step, obs, kind):
    verdicts = {v.obs_class: v for v in step.record.verdicts}
    assert verdicts[0].verdict == SPLIT and verdicts[1].verdict == AGREES
    assert step.record.split_classes == [0]
    assert np.array_equal(step.refined[obs == 1], np.ones(200, np.int64))     # untouched
    parts = np.unique(step.refined[obs == 0])
    assert len(parts) == 2
    for p in parts:                  # each part is one causal kind (the truth the check never saw)
        assert max(kind[step.refined == p].mean(), 1 - kind[step.refined == p].mean()) >= 0.95
    assert step.record.asked <= 40
    assert "split into" in step.record.describe()


def test_a_class_mixing_two_causal_kinds_is_split_and_one_that_agrees_is_untouched():
    images, obs, kind = two_kinds()
    assert_split_into_kinds(run_review(images, obs, kind, binary=False), obs, kind)


@pytest.mark.slow
def test_binary_answers_split_a_mixed_class_most_of_the_time_and_always_along_the_kinds():
    """One 0/1 sample per representative carries little: with the budget of 40 the mixed class
    (0.25 vs 0.85) is split in most runs, and every split follows the kinds."""
    images, obs, kind = two_kinds()
    splits = 0
    for seed in range(6):
        step = run_review(images, obs, kind, binary=True, seed=seed)
        if step.record.moves:
            assert_split_into_kinds(step, obs, kind)
            splits += 1
    assert splits >= 3


def test_answers_that_agree_ask_nothing_and_change_nothing():
    images, obs, kind = two_kinds()
    kind[:] = 1
    step = run_review(images, obs, kind, binary=False)
    assert step.record.asked == 0 and step.record.rounds == 0 and not step.record.moves
    assert np.array_equal(step.refined, obs)
    assert np.allclose(step.answers, [0.85, 0.85])


@pytest.mark.slow
def test_a_noisy_binary_oracle_does_not_split_a_class_that_agrees_at_more_than_the_stated_rate():
    """A class of one causal kind with P(T=1 | man) = 0.5, answered by single 0/1 samples: mixed answers
    every time, a split at most alpha = 0.01 of the time (30 runs with budget: none expected; the
    bound's 1 % would allow about 0.3)."""
    rng = np.random.default_rng(3)
    images = (rng.random((200, 8, 8)) * 0.3).astype(np.float32)
    images[::2, :4, :4] += 0.6             # two visual kinds with the SAME causal answer
    obs = np.zeros(200, np.int64)
    splits = 0
    for seed in range(30):
        r = np.random.default_rng(seed)
        index = r.choice(200, 5, replace=False)
        answers = (r.random(5) < 0.5).astype(float)
        asked = rounds = 0
        while True:
            step = review(images, obs, index, answers, PremiseSettings(budget=40), asked, rounds, seed=seed)
            if step.more is None:
                break
            index = np.concatenate([index, step.more])
            answers = np.concatenate([answers, (r.random(len(step.more)) < 0.5).astype(float)])
            asked, rounds = step.record.asked, step.record.rounds
        splits += bool(step.record.moves)
    assert splits == 0


def test_the_experiment_splits_a_merged_class_asks_within_its_budget_and_keeps_the_record():
    images, obs, kind = two_kinds()
    data = Dataset(images=images, obs_class=obs, name="two kinds")
    exp = Experiment(data, ExperimentConfig(iterations=0, representatives=5, premise_check=True, premise_budget=30))
    asked = 0
    for batch in exp.steps():
        answers = LEVELS[kind[batch.source_index]]
        asked += len(answers)
        exp.answer(answers)
    assert exp.premise is not None and exp.premise.finished and exp.premise.split_classes == [0]
    assert asked == len(exp.premise.rep_index) <= 10 + 30
    assert len(exp.batches) == 1 and len(exp.batches[0]) == asked     # one Algorithm 1 batch, as sessions expect
    assert np.allclose(sorted(exp.causal_levels), LEVELS)
    agree = (exp.causal_labels == np.searchsorted(np.sort(exp.causal_levels), LEVELS[kind])).mean()
    assert agree >= 0.95
    again = PremiseRecord.from_json(exp.premise.to_json(), len(data))
    assert np.array_equal(again.refined(obs), exp.premise.refined(obs))
    assert again.describe() == exp.premise.describe()


def test_a_session_keeps_the_record_even_while_more_representatives_wait(tmp_path):
    """Saved while the premise check waits for more answers, the session goes on with the answers it
    had; saved after, the record comes back; a session without the key (saved before it) loads as None."""
    from viscause_gui.core.store.session_reader import load_session
    from viscause_gui.core.store.session_writer import save_session

    images, obs, kind = two_kinds()
    exp = Experiment(Dataset(images=images, obs_class=obs, name="two kinds"),
                     ExperimentConfig(iterations=0, representatives=5, premise_check=True, premise_budget=30))
    steps = exp.steps()
    exp.answer(LEVELS[kind[next(steps).source_index]])
    assert exp.pending is not None and exp.premise is not None and not exp.premise.finished
    save_session(tmp_path / "waiting.vcsession", exp)
    back = load_session(tmp_path / "waiting.vcsession").experiment
    assert np.array_equal(back.premise.rep_index, exp.premise.rep_index)
    for batch in back.steps():
        back.answer(LEVELS[kind[batch.source_index]])
    assert back.premise.finished and back.premise.split_classes == [0]
    save_session(tmp_path / "done.vcsession", back)
    again = load_session(tmp_path / "done.vcsession").experiment
    assert again.premise.describe() == back.premise.describe()
    assert np.array_equal(again.causal_labels, back.causal_labels)


def test_a_session_saved_before_the_premise_check_loads_without_a_record(tmp_path):
    import json
    import zipfile

    from viscause_gui.core.store.session_reader import load_session
    from viscause_gui.core.store.session_writer import save_session

    images, obs, _ = two_kinds()
    kind = obs.copy()              # class 0 all kind 0, class 1 all kind 1: every class agrees
    exp = Experiment(Dataset(images=images, obs_class=obs, name="agreeing"),
                     ExperimentConfig(iterations=0, premise_check=True))
    for batch in exp.steps():
        exp.answer(LEVELS[kind[batch.source_index]])
    save_session(tmp_path / "new.vcsession", exp)
    with zipfile.ZipFile(tmp_path / "new.vcsession") as zin, zipfile.ZipFile(tmp_path / "old.vcsession", "w") as zout:
        for item in zin.infolist():
            raw = zin.read(item.filename)
            if item.filename == "session.json":
                doc = json.loads(raw)
                del doc["experiment"]["premise"]
                raw = json.dumps(doc).encode()
            zout.writestr(item, raw)
    old = load_session(tmp_path / "old.vcsession").experiment
    assert old.premise is None
    assert np.array_equal(old.causal_labels, exp.causal_labels)


def test_a_class_answer_is_a_level_the_oracle_gives_not_a_mixture():
    import pytest

    from viscause_gui.core.method.premise import BINARY, GRADED, class_answer
    assert class_answer(np.array([0.25, 0.25, 0.75, 0.25, 0.27]), GRADED, 0.1) == pytest.approx(0.255)
    assert class_answer(np.array([0.25, 0.75, 0.25, 0.75]), GRADED, 0.1) == pytest.approx(0.5)   # a tie: the mean
    assert class_answer(np.array([1.0, 0.0, 1.0, 1.0, 0.0]), BINARY, 0.1) == pytest.approx(0.6)  # the share of yes
    # a part of a split class with one answer of each level takes the level its parent class answers most
    parent = np.array([0.25] * 22 + [0.75] * 3)
    assert class_answer(np.array([0.25, 0.75]), GRADED, 0.1, prior=parent) == pytest.approx(0.25)
    assert class_answer(np.array([0.75, 0.25]), GRADED, 0.1, prior=1 - parent) == pytest.approx(0.75)
    assert class_answer(np.array([0.75]), GRADED, 0.1, prior=parent) == pytest.approx(0.75)
