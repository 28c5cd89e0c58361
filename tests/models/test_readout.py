"""The canvas readout's observational model (core/method/readout.py) against GRATING's exact P(T=1 | I)."""
from dataclasses import replace

import numpy as np
import pytest

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.gui.models.readout import observe_and_train
from viscause_gui.core.nets.training import run_to_end

TOLERANCE = 0.05
MODEL = GratingModel()


def bars(rows: list[int | None], cols: list[int | None], noise_seed: int | None = None) -> np.ndarray:
    """One 10x10 image per (row, col): an h-bar at the row, a v-bar at the column (None: none), and
    the data's noise pixels away from both lines when noise_seed is given."""
    rng = np.random.default_rng(noise_seed)
    out = np.zeros((len(rows), 10, 10), np.float32)
    for image, row, col in zip(out, rows, cols):
        if noise_seed is not None:
            image[:] = rng.random((10, 10)) < MODEL.noise
            image[row if row is not None else [], :] = 0
            image[:, col if col is not None else []] = 0
        if row is not None:
            image[row, :] = 1
        if col is not None:
            image[:, col] = 1
    return out


@pytest.fixture(scope="module")
def readout():
    return run_to_end(observe_and_train(MODEL.sample(1000, seed=3)))


def assert_reads_truth(readout, images: np.ndarray) -> None:
    predicted = readout.predict(images)
    error = np.abs(predicted.p_t - MODEL.p_obs(images))
    assert error.max() <= TOLERANCE, f"worst |readout - truth| {error.max():.3f} at image {error.argmax()}"
    assert np.array_equal(predicted.obs_class, MODEL.obs_class(images))


@pytest.mark.slow
def test_a_lone_v_bar_in_every_column_reads_its_truth(readout):
    cols = list(range(10)) * 3
    assert_reads_truth(readout, bars([None] * 30, cols, noise_seed=0))


@pytest.mark.slow
def test_an_h_bar_in_every_row_reads_its_truth(readout):
    rows = list(range(10)) * 3
    assert_reads_truth(readout, bars(rows, [None] * 30, noise_seed=1))


@pytest.mark.slow
def test_both_bars_and_none_read_their_truth(readout):
    rows = [r for r in range(10) for _ in range(3)]
    cols = [(3 * r + k) % 10 for r in range(10) for k in range(3)]
    assert_reads_truth(readout, bars(rows, cols, noise_seed=2))
    assert_reads_truth(readout, bars([None] * 10, [None] * 10, noise_seed=3))


def near_misses() -> np.ndarray:
    """A broken h-bar beside a v-bar, a broken h-bar alone, a short v-bar beside an h-bar, a short h-bar."""
    images = bars([4, 6, 2, 8], [2, None, 5, None])
    images[0, 4, 7] = images[1, 6, 0] = 0.0          # one pixel of each h-bar cleared
    images[2, 6:, 5] = images[3, 8, :4] = 0.0         # a v-bar of 6 pixels, an h-bar of 6
    return images


@pytest.mark.slow
def test_near_misses_read_their_truth(readout):
    images = near_misses()
    assert list(MODEL.p_obs(images)) == pytest.approx([0.4, 0.1, 0.7, 0.1])
    assert_reads_truth(readout, images)


@pytest.mark.slow
def test_without_a_declared_invariance_clean_bars_still_read_their_truth():
    data = MODEL.sample(1000, seed=3)
    data = replace(data, meta={**data.meta, "invariances": []})
    model = run_to_end(observe_and_train(data))
    assert model.patterns is None         # too few images of each pair of bars to trust the patterns
    assert_reads_truth(model, bars([None] * 10 + list(range(10)), list(range(10)) + [None] * 10))


def test_same_seed_same_readout():
    data = MODEL.sample(300, seed=4)
    images = bars([1, None, 5], [None, 7, 2], noise_seed=0)
    first = run_to_end(observe_and_train(data, epochs=3)).predict(images).p_t
    second = run_to_end(observe_and_train(data, epochs=3)).predict(images).p_t
    assert np.array_equal(first, second)


def test_p_t_varying_from_image_to_image_is_learned_as_p_t_itself():
    rng = np.random.default_rng(0)
    p_obs = rng.permutation(np.linspace(0.05, 0.95, 300))         # a different P(T=1) for every image: no classes
    images = np.clip(p_obs[:, None, None] + rng.normal(0, 0.05, (300, 6, 6)), 0, 1).astype(np.float32)
    model = run_to_end(observe_and_train(Dataset(images=images, p_obs=p_obs), epochs=40))
    assert not model.reads_classes
    assert np.corrcoef(model.predict(images).p_t, p_obs)[0, 1] > 0.9


def test_cancelling_stops_the_training():
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 3

    assert run_to_end(observe_and_train(MODEL.sample(300, seed=5), cancelled=cancelled)) is None
