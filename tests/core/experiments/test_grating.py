import numpy as np
import pytest

from viscause_gui.core.experiments.grating import GratingModel, has_hbar, has_vbar, min_flips_to_class


def test_sample_matches_hidden_causes_and_is_binary():
    model = GratingModel()
    data = model.sample(3000, seed=1)
    h1, h2 = np.array(data.meta["h1"], bool), np.array(data.meta["h2"], bool)
    assert data.images.shape == (3000, 10, 10) and data.images.dtype == np.float32
    assert data.is_binary
    assert np.array_equal(has_vbar(data.images), h1)  # noise never forms a bar by itself
    assert np.array_equal(has_hbar(data.images), h2)
    noise = data.images.sum(axis=(1, 2)) - 10 * h1 - 10 * h2 + (h1 & h2)
    assert 0.02 < noise.mean() / 100 < 0.04


def test_same_seed_same_data():
    a, b = GratingModel().sample(200, 7), GratingModel().sample(200, 7)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.t, b.t)
    assert not np.array_equal(a.images, GratingModel().sample(200, 8).images)


def test_observational_and_causal_probabilities():
    model = GratingModel()
    img = np.zeros((4, 10, 10), np.float32)
    img[1, :, 3] = 1          # v-bar only
    img[2, 5, :] = 1          # h-bar only
    img[3, :, 3] = 1
    img[3, 5, :] = 1          # both
    np.testing.assert_allclose(model.p_obs(img), [0.1, 0.4, 0.7, 1.0])
    # a manipulation leaves H1 at its prior: the v-bar no longer says anything about T
    np.testing.assert_allclose(model.p_causal(img), [0.25, 0.25, 0.85, 0.85])
    assert model.causal_class(img).tolist() == [0, 0, 1, 1]
    assert model.obs_class(img).tolist() == [0, 1, 2, 3]


def test_t_frequencies_follow_p_obs():
    data = GratingModel().sample(20000, 3)
    for c, p in enumerate([0.1, 0.4, 0.7, 1.0]):
        assert abs(data.t[data.obs_class == c].mean() - p) < 0.03


def test_min_flips():
    img = np.zeros((2, 10, 10), np.float32)
    img[0, 2, :7] = 1         # 7 of 10 in a row: 3 flips add an h-bar
    img[1, 4, :] = 1          # an h-bar: one flip removes it
    assert min_flips_to_class(img, np.array([1, 0])).tolist() == [3, 1]
    assert min_flips_to_class(img, np.array([0, 1])).tolist() == [0, 0]


def test_invalid_parameters():
    with pytest.raises(ValueError):
        GratingModel(w_c=1.5)
    with pytest.raises(ValueError):
        GratingModel(noise=0.7)
