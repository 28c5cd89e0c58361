"""The digits' model oracle is trained once per data set and recipe: the second time it comes from
the user's cache folder (no training at all) and answers as the trained one did; other data trains
again; a damaged cache file is one log line and a new training, never a crash."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.experiments import mnist
from viscause_gui.core.nets.training import run_to_end
from viscause_gui.core.store.model_cache import ModelCache


@pytest.fixture
def digits() -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset(images=rng.random((120, 8, 8)).astype(np.float32), labels=np.arange(120) % 10, name="tiny")


class CountingTraining:
    """train_fn that counts the nets it is given and trains them one step at most (fast)."""

    def __init__(self):
        self.nets = 0

    def __call__(self, net, images, labels, validation, config):
        self.nets += 1
        return
        yield


def _oracle(data, training, seed=0, label=7):
    return run_to_end(mnist.train_digit_oracle(data, label, seed, train_fn=training))


def test_the_second_time_nothing_is_trained_and_the_answers_are_the_same(digits):
    first, second = CountingTraining(), CountingTraining()
    trained = _oracle(digits, first)
    cached = _oracle(digits, second)
    assert first.nets == mnist.ANNOTATORS + 1 and second.nets == 0        # the panel's nets and the check
    np.testing.assert_array_equal(cached.probabilities(digits.images), trained.probabilities(digits.images))
    assert cached.check.limit == trained.check.limit
    np.testing.assert_array_equal(cached.answer(digits.images), trained.answer(digits.images))


def test_the_cache_holds_every_label_the_label_is_chosen_after(digits):
    _oracle(digits, CountingTraining(), label=7)
    again = CountingTraining()
    three = _oracle(digits, again, label=3)
    assert again.nets == 0 and three.digit == 3


def test_changed_data_or_another_seed_trains_again(digits):
    _oracle(digits, CountingTraining())
    changed = Dataset(images=digits.images.copy(), labels=digits.labels.copy(), name="tiny")
    changed.images[5, 2, 2] = 1 - changed.images[5, 2, 2]
    for data, seed in ((changed, 0), (digits, 1)):
        training = CountingTraining()
        _oracle(data, training, seed=seed)
        assert training.nets == mnist.ANNOTATORS + 1


def test_a_damaged_cache_file_is_one_log_line_and_a_new_training(digits, caplog):
    _oracle(digits, CountingTraining())
    entries = list(ModelCache().folder.glob("*.npz"))
    assert len(entries) == 1
    entries[0].write_bytes(entries[0].read_bytes()[:1000])
    training = CountingTraining()
    with caplog.at_level(logging.INFO):
        oracle = _oracle(digits, training)
    assert training.nets == mnist.ANNOTATORS + 1 and oracle.answer(digits.images[:3]).shape == (3,)
    assert len(caplog.records) == 1 and entries[0].name in caplog.records[0].getMessage()
    again = CountingTraining()
    _oracle(digits, again)                              # written anew
    assert again.nets == 0
