"""The model oracle over K > 2 outcomes: it learns T's outcomes and answers a distribution over them."""
from __future__ import annotations

import numpy as np

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.oracles import model_oracle_targets, train_model_oracle
from viscause_gui.core.nets.training import run_to_end


def _three_bars(n: int = 300) -> Dataset:
    """8x8 images with one bright row band per outcome (top, middle, bottom): T is where the band is."""
    rng = np.random.default_rng(0)
    t = rng.integers(0, 3, n)
    images = rng.uniform(0, 0.1, (n, 8, 8)).astype(np.float32)
    for i, k in enumerate(t):
        images[i, 3 * k:3 * k + 2] = 1.0
    return Dataset(images, t=t, meta={"outcomes": ["top", "middle", "bottom"]})


def test_the_model_oracle_answers_a_distribution_over_three_outcomes():
    data = _three_bars()
    oracle = run_to_end(train_model_oracle(data, epochs=30))
    answers = oracle.answer(data.images[:50])
    assert answers.shape == (50, 3)
    np.testing.assert_allclose(answers.sum(axis=1), 1.0, atol=1e-5)
    assert (answers.argmax(axis=1) == data.t[:50]).mean() > 0.9


def test_p_obs_over_three_outcomes_is_learned_as_soft_labels():
    p = np.tile([[0.2, 0.5, 0.3]], (4, 1))
    data = Dataset(np.zeros((4, 2, 2), np.float32), p_obs=p)
    np.testing.assert_allclose(model_oracle_targets(data), p.astype(np.float32))


def test_a_binary_model_oracle_answers_one_number_per_image_as_before():
    data = Dataset(np.random.default_rng(1).uniform(0, 1, (40, 4, 4)).astype(np.float32),
                   t=np.arange(40) % 2)
    oracle = run_to_end(train_model_oracle(data, epochs=2))
    assert oracle.answer(data.images).shape == (40,)
