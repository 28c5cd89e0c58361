"""Colored MNIST, built in: the three environments as Arjovsky et al. build them, the shape-only
oracle, and `viscause run colored_mnist` writing the table beside the published one."""
from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from viscause_gui.cli import main as viscause
from viscause_gui.core.experiments import colored_mnist as cm
from viscause_gui.core.experiments.registry import load_builtin


@pytest.fixture(scope="module")
def data():
    return cm.make_colored_mnist(0)


def colour(images):
    return (images[..., 1].sum(axis=(1, 2)) > images[..., 0].sum(axis=(1, 2))).astype(int)


def test_environments_follow_the_recipe(data):
    train, test = data.train, data.test
    assert train.images.shape == (4000, 14, 14, 2) and test.images.shape == (10000, 14, 14, 2)
    assert np.all(train.images.min(axis=3) == 0)                          # one channel per digit
    assert abs((train.t == train.causal_class).mean() - 0.75) < 0.03       # label noise 0.25
    for env, flip in enumerate(cm.TRAIN_COLOUR_FLIPS):
        rows = data.train_env == env
        assert abs((colour(train.images[rows]) != train.t[rows]).mean() - flip) < 0.03
    assert abs((colour(test.images) != test.t).mean() - cm.TEST_COLOUR_FLIP) < 0.02
    np.testing.assert_array_equal(train.causal_class, train.labels >= 5)


def test_observational_classes_are_shape_and_colour_ordered_by_p(data):
    train = data.train
    levels = cm.observational_levels()
    np.testing.assert_allclose(sorted(levels.ravel()), [0.0556, 0.3462, 0.6538, 0.9444], atol=1e-3)
    assert sorted(np.unique(train.obs_class).tolist()) == [0, 1, 2, 3]
    for k in range(4):                                     # class k has the k-th smallest P(T=1 | I) ...
        members = train.obs_class == k
        assert np.allclose(train.p_obs[members], sorted(levels.ravel())[k])
        assert abs(train.t[members].mean() - train.p_obs[members][0]) < 0.05     # ... and the samples agree


def test_same_seed_same_data_and_the_builtin_is_colour():
    a, b = cm.make_colored_mnist(3), cm.make_colored_mnist(3)
    np.testing.assert_array_equal(a.train.images, b.train.images)
    np.testing.assert_array_equal(a.test.t, b.test.t)
    assert not np.array_equal(a.train.t, cm.make_colored_mnist(4).train.t)
    builtin = load_builtin("colored_mnist")
    assert builtin.is_colour and builtin.channels == 2 and builtin.meta["channels"] == ["red", "green"]



def test_shape_oracle_answers_from_the_grey_shape_only(data):
    oracle = cm.ShapeOracle(data.train.images, data.train.labels)
    own = oracle.answer(data.train.images[:200])                             # its own references
    assert (own == np.where(data.train.labels[:200] >= 5, 0.75, 0.25)).mean() > 0.95
    assert set(own.tolist()) == {0.25, 0.75}
    held = data.test.images[:1000]
    answers = oracle.answer(held)
    assert ((answers > 0.5) == (data.test.labels[:1000] >= 5)).mean() > 0.9
    np.testing.assert_array_equal(oracle.answer(held[..., ::-1]), answers)    # the colour changes nothing


def test_the_app_knows_the_truth_of_the_builtin(data):
    truth = cm.ColoredMnistExperiment().truth(data.train)
    assert truth is not None and truth.causal_levels().tolist() == [0.25, 0.75]
    five = int(np.flatnonzero(data.train.labels == 5)[0])
    lines = dict(truth.readout(data.train.images[five]))
    assert lines["shape (C)"] == "a 5-9" and lines["P(T=1 | do(shape))"] == "0.75"
    assert cm.ColoredMnistExperiment().truth(data.train.subset(np.arange(5)).__class__(
        images=data.train.images[:5, ..., 0])) is None                      # not this data set


@pytest.mark.slow
def test_run_colored_mnist_writes_the_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cm, "NET_EPOCHS", 1)          # the causal nets (experiment_config reads it at each call)
    # the two nets of the table's first rows: train_classifier's default was bound to 30 epochs at its definition
    monkeypatch.setattr(cm, "train_classifier", functools.partial(cm.train_classifier, epochs=1))
    monkeypatch.setattr(cm, "JITTER_COPIES", 0)
    monkeypatch.setattr(cm, "GENERATIVE_EPOCHS", 1)
    monkeypatch.setattr(cm, "ENSEMBLE", 1)
    code = viscause(["run", "colored_mnist", "--queries", "8", "--representatives", "2", "--out", str(tmp_path / "r")])
    assert code == 0
    table = json.loads((tmp_path / "r" / "table.json").read_text())
    assert table["oracle_answers"] == 4 * 2 + 8
    assert set(table["rows"]) == {"observational net (colour images, T)", "grey images, T (the same subset)",
                                  "causal net, 16 oracle answers"}
    assert all(0 <= v[k] <= 100 for v in table["rows"].values() for k in ("train", "test"))
    assert "| IRM (published) | 70.8 | 66.9 |" in capsys.readouterr().err
    assert (tmp_path / "r" / "model.json").is_file() and (tmp_path / "r" / "iteration_01.npz").is_file()
