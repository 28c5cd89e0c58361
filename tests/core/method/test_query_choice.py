"""Algorithm 2's choice of queries: the paper's random choice kept as it was, the active choice
(core/method/query_choice.py) on constructed cases, the experiment and sessions."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from tests.core.method.old_sessions import without_config_key
from viscause_gui.core.experiments.grating import GratingModel, TruthOracle
from viscause_gui.core.method import query_choice as qc
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig, QueryBatch
from viscause_gui.core.method.manipulator import ManipulationResult
from viscause_gui.core.store.session import SessionData, SessionError
from viscause_gui.core.store.session_reader import load_session
from viscause_gui.core.store.session_writer import save_session

CFG = dict(iterations=2, queries=6, epochs=2, retrain_epochs=1)


class CountNet(nn.Module):
    """Class 1 logit = gain x (ink in the image's cells `cells` - threshold)."""

    def __init__(self, cells: slice, threshold: float, gain: float = 8.0):
        super().__init__()
        self.cells, self.threshold, self.gain = cells, threshold, gain
        self.dummy = nn.Parameter(torch.zeros(1))         # predict_proba reads the device from a parameter
        self.in_shape = (4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.gain * (x.reshape(len(x), -1)[:, self.cells].sum(1) - self.threshold)
        return torch.stack([-z / 2, z / 2], 1) + 0 * self.dummy


def identity_manipulation(images: np.ndarray, targets: np.ndarray) -> ManipulationResult:
    n = len(images)
    return ManipulationResult(np.array(images, np.float32), np.ones(n), np.asarray(targets), np.zeros(n), 0)


def test_random_choice_makes_the_papers_draws():
    labels = np.array([0, 1, 1, 0, 2, 2, 1, 0, 0, 1])
    rng = np.random.default_rng(5)
    before = copy.deepcopy(rng)
    index, targets = qc.random_queries(rng, labels, 3, 4)
    # Algorithm 2 as it always drew them
    want_index = before.choice(10, 4, replace=False)
    want_targets = (labels[want_index] + before.integers(1, 3, 4)) % 3
    assert np.array_equal(index, want_index) and np.array_equal(targets, want_targets)
    assert rng.bit_generator.state == before.bit_generator.state


def test_experiment_with_random_choice_asks_the_same_images_as_before():
    # the batches the code asked before the choice was an option (commit d40c9aa), same seed
    model = GratingModel()
    assert ExperimentConfig().queries_by == qc.DEFAULT_CHOICE == "active"
    exp = Experiment(model.sample(300, 0), ExperimentConfig(**CFG, queries_by="random"))
    exp.run(TruthOracle(model))
    batches = [b for b in exp.batches if b.kind == "algorithm2"]
    assert [b.source_index.tolist() for b in batches] == [[125, 88, 142, 120, 8, 23], [23, 123, 231, 83, 224, 219]]
    assert [b.targets.tolist() for b in batches] == [[1, 1, 1, 1, 1, 0], [0, 0, 1, 0, 0, 0]]


def test_committee_doubt_picks_the_candidates_the_nets_disagree_on():
    # every candidate is manipulated to class 1; net A counts ink in the first row, net B in the whole image:
    # candidates with ink only outside the first row convince B and not A
    images = np.zeros((8, 4, 4), np.float32)
    images[:4, 0, :] = 1.0            # 0-3: a full first row: both nets say 1
    images[4:, 2, :] = 1.0            # 4-7: ink elsewhere: only B says 1
    nets = [CountNet(slice(0, 4), 2.0), CountNet(slice(0, 16), 2.0)]
    doubt = qc.committee_doubt(nets, [images], np.ones(8, np.int64))
    assert np.all(doubt[4:] > 0.4) and np.all(doubt[:4] < 0.01)
    choice, pool = qc.choose_active(images, np.zeros(8, np.int64), 2, 4, nets, identity_manipulation,
                                    np.random.default_rng(0), pool_factor=2)
    assert sorted(choice.index.tolist()) == [4, 5, 6, 7]
    assert np.array_equal(choice.targets, np.ones(4)) and len(pool.images) == 8


def test_invariant_copies_reveal_a_boundary_that_holds_at_one_place_only():
    # a net that takes ink in the first row for class 1: a first-row image shifted down is no longer
    # class 1 for it, although the experiment asserts the class ignores shifts
    images = np.zeros((6, 4, 4), np.float32)
    images[:3, 0, :] = 1.0            # first row only: shifted copies disagree
    images[3:] = 1.0                  # ink everywhere: every copy agrees
    net = CountNet(slice(0, 4), 2.0)
    views = qc.invariant_views(images, shifts=True, jitter=False, views=8, rng=np.random.default_rng(1), seed=0)
    assert len(views) == 9
    doubt = qc.committee_doubt([net], views, np.ones(6, np.int64))
    assert doubt[:3].min() > doubt[3:].max() + 0.2
    plain = qc.committee_doubt([net], views[:1], np.ones(6, np.int64))
    assert np.all(plain < 0.01)       # without the copies the net is sure of them all


def test_doubt_about_the_start_image_counts_too():
    images = np.zeros((6, 4, 4), np.float32)
    images[:, 0, :2] = 1.0            # ink 2 in the first row: the net is at its boundary
    images[3:, 0, :] = 1.0            # 3-5: ink 4: sure
    net = CountNet(slice(0, 4), 2.0)
    doubt = qc.start_doubt(qc.ensemble_proba([net], images))
    assert np.all(doubt[:3] > 0.4) and np.all(doubt[3:] < 0.01)


def test_answers_go_to_the_target_classes_whose_manipulations_failed():
    assert np.allclose(qc.target_shares(2, []), [0.5, 0.5])
    past = [(np.array([0] * 10 + [1] * 10), np.array([False] * 10 + [True] * 10))]
    shares = qc.target_shares(2, past)
    assert shares[1] > 0.9
    # an old failure counts less than a recent success
    later = [*past, (np.array([0] * 10 + [1] * 10), np.zeros(20, bool))]
    assert qc.target_shares(2, later)[1] < shares[1]
    scores = np.linspace(1, 0, 20)                  # the highest scores all belong to target 0
    targets = np.array([0] * 10 + [1] * 10)
    picked = qc.most_doubtful(scores, 10, np.random.default_rng(0), targets, np.array([0.2, 0.8]))
    assert len(picked) == 10 and np.sum(targets[picked] == 1) == 8
    assert set(picked[targets[picked] == 0]) == {0, 1}    # the class's most doubtful
    # a class short of candidates leaves its places to the highest scores left
    picked = qc.most_doubtful(scores, 10, np.random.default_rng(0), np.array([0] * 18 + [1] * 2),
                              np.array([0.2, 0.8]))
    assert len(picked) == 10 and len(set(picked)) == 10


def test_typical_images_weigh_more_than_outliers():
    rng = np.random.default_rng(0)
    cluster = (rng.random((200, 4, 4)) < 0.1).astype(np.float32)
    outliers = np.ones((3, 4, 4), np.float32)
    images = np.concatenate([cluster, outliers])
    typical = qc.typicality(images, images[rng.choice(len(images), 100, replace=False)])
    assert typical[:200].mean() > 0.8 and typical[200:].max() < 0.6
    assert np.all((typical > 0) & (typical <= 1))


def test_pool_size_is_bounded():
    assert qc.pool_size(60_000, 100) == 500
    assert qc.pool_size(60_000, 5000) == 5000           # never fewer than Q
    assert qc.pool_size(60_000, 2000) == qc.MAX_POOL
    assert qc.pool_size(30, 100) == 30


def test_active_choice_on_grating_is_reproducible_and_asks_unique_images():
    model = GratingModel()
    data = model.sample(400, 3)

    def first_batches():
        exp = Experiment(data, ExperimentConfig(**CFG, queries_by="active"))
        exp.run(TruthOracle(model))
        return exp

    a, b = first_batches(), first_batches()
    batches_a = [x for x in a.batches if x.kind == "algorithm2"]
    batches_b = [x for x in b.batches if x.kind == "algorithm2"]
    assert len(batches_a) == 2
    for x, y in zip(batches_a, batches_b):
        assert np.array_equal(x.source_index, y.source_index) and np.array_equal(x.images, y.images)
        assert len(np.unique(x.source_index)) == len(x) == 6
        assert np.all(x.targets != a.causal_labels[x.source_index])
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


def test_config_refuses_an_unknown_choice():
    with pytest.raises(ValueError, match="queries_by"):
        ExperimentConfig(queries_by="clever")


def test_sessions_keep_the_choice(tmp_path):
    model = GratingModel()
    exp = Experiment(model.sample(300, 0), ExperimentConfig(**CFG, queries_by="active"))
    oracle = TruthOracle(model)
    for event in exp.steps():
        if isinstance(event, QueryBatch):
            if event.kind == "algorithm2":
                break
            exp.answer(oracle.answer(event.images))
    path = save_session(tmp_path / "a.vcsession", SessionData(experiment=exp))
    again = load_session(path).experiment
    assert again.config.queries_by == "active" and again.config == exp.config
    # the reloaded experiment goes on like the first one
    exp.answer(oracle.answer(exp.pending.images))
    again.answer(oracle.answer(again.pending.images))
    for e in (exp, again):
        for event in e.steps():
            if isinstance(event, QueryBatch):
                break
    assert np.array_equal(exp.pending.source_index, again.pending.source_index)


def test_sessions_refuse_an_unknown_choice(tmp_path):
    import json
    import zipfile

    model = GratingModel()
    exp = Experiment(model.sample(200, 0), ExperimentConfig(**CFG))
    path = save_session(tmp_path / "a.vcsession", SessionData(experiment=exp))
    with zipfile.ZipFile(path) as zf:
        content = {i.filename: zf.read(i) for i in zf.infolist()}
    doc = json.loads(content["session.json"])
    doc["experiment"]["config"]["queries_by"] = "clever"
    content["session.json"] = json.dumps(doc).encode()
    bad = tmp_path / "bad.vcsession"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, raw in content.items():
            zf.writestr(name, raw)
    with pytest.raises(SessionError, match="queries_by"):
        load_session(bad)


def test_a_session_saved_before_the_choice_existed_goes_on_at_random(tmp_path):
    model = GratingModel()
    exp = Experiment(model.sample(200, 0), ExperimentConfig(**CFG))
    assert exp.config.queries_by == "active"
    path = save_session(tmp_path / "a.vcsession", SessionData(experiment=exp))
    assert load_session(path).experiment.config.queries_by == "active"
    old = without_config_key(path, "queries_by", tmp_path / "old.vcsession")
    assert load_session(old).experiment.config.queries_by == "random"
