"""The constructions of benchmarks/unseen_suite.py: seeded, written as a new user's files, their
oracles reading the cause alone and their confound measures reading the confound."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import unseen_suite as suite

SMALL = {"shapes64": lambda seed: suite.shapes(seed, n=150, n_test=150),
         "texture": lambda seed: suite.texture(seed, n=400, n_test=400),
         "mark": lambda seed: suite.mark(seed, n=400, n_test=400),
         "thickness": lambda seed: suite.thickness(seed, n_test=400), "colored_mnist": suite.colored_mnist}
CHECKED = 400          # images per set the (nearest-neighbour) oracles are checked on


@pytest.fixture(scope="module", params=sorted(SMALL))
def written(request, tmp_path_factory, monkeypatch_module):
    name = request.param
    folder = tmp_path_factory.mktemp(name)
    monkeypatch_module.setitem(suite.SETS, name, SMALL[name])
    return name, folder, suite.write_set(name, folder, seed=0)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_every_set_of_the_suite_is_tested():
    assert set(SMALL) == set(suite.SETS) and len(suite.SETS) >= 5


def test_the_run_sees_only_images_and_t(written):
    _, folder, _made = written
    data = np.load(folder / "data.npz")
    assert sorted(data.files) == ["images", "t"]
    images = data["images"]
    assert images.dtype == np.float32 and images.min() >= 0 and images.max() <= 1
    assert images.ndim in (3, 4) and set(np.unique(data["t"])) <= {0, 1}
    assert sorted(np.load(folder / "test.npz").files) == ["images"]


def test_the_four_kinds_have_their_share_of_t(written):
    _, folder, made = written
    truth = np.load(folder / "truth.npz")
    levels = [truth["p_t"][truth["kind"] == k][0] for k in range(4)]
    assert levels == sorted(levels) and len(set(np.round(levels, 6))) == 4
    for k, level in enumerate(levels):
        t = made.t[truth["kind"] == k]
        assert abs(t.mean() - level) < 4 * np.sqrt(level * (1 - level) / len(t)) + 0.02


def test_the_cause_and_the_confound_correlate_in_the_data_and_not_in_the_test_set(written):
    name, _folder, made = written
    assert np.corrcoef(made.cause, made.confound)[0, 1] > 0.3
    in_test = np.corrcoef(made.test_cause, made.test_confound)[0, 1]
    if name == "colored_mnist":          # Arjovsky et al.'s test environment reverses the correlation
        assert in_test < -0.3
    else:
        assert abs(in_test) < 0.15


def test_the_oracle_reads_the_cause(written):
    _, folder, made = written
    answer = suite.load_oracle(folder)
    for images, cause in ((made.images[:CHECKED], made.cause[:CHECKED]),
                          (made.test_images[:CHECKED], made.test_cause[:CHECKED])):
        answers = answer(images)
        assert set(np.unique(answers)) <= set(np.round(made.levels, 6))
        assert ((answers > np.mean(made.levels)) == cause).mean() > 0.9


def test_the_oracle_ignores_the_confound(written):
    """Images that differ only in S (same cause): the oracle answers alike wherever the cause is clear."""
    _name, folder, made = written
    answers = suite.load_oracle(folder)(made.test_images[:CHECKED])
    cause, confound = made.test_cause[:CHECKED], made.test_confound[:CHECKED]
    for c in (0, 1):
        by_confound = [answers[(cause == c) & (confound == s)] for s in (0, 1)]
        assert abs(np.mean(by_confound[0]) - np.mean(by_confound[1])) < 0.08


def test_the_confound_measure_reads_the_confound(written):
    name, _, made = written
    assert (suite.confound_of(name, made.images) == made.confound).mean() > 0.98
    assert (suite.confound_of(name, made.test_images) == made.test_confound).mean() > 0.98


def test_the_same_seed_gives_the_same_set(written):
    name, _, made = written
    again = SMALL[name](0)
    assert np.array_equal(made.images, again.images) and np.array_equal(made.t, again.t)
    assert not np.array_equal(made.t, SMALL[name](1).t)


def test_the_nearest_real_image_of_the_target_class_is_never_the_original_itself():
    import bench_unseen
    images = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]], np.float32)
    cause = np.array([0, 0, 1])
    nearest = bench_unseen.nearest_of_class(images[:2], np.array([False, True]), images, cause)
    assert nearest.tolist() == [5.0, pytest.approx(np.sqrt(18))]
