"""Colour through the core: an experiment on (N, H, W, C) images learns, manipulates in every
channel, and its session and run folder keep the colour; binary colour images keep exact flips."""
from __future__ import annotations

import numpy as np
import pytest

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
from viscause_gui.core.store.rundir import RunModel, save_model
from viscause_gui.core.store.session_reader import load_session
from viscause_gui.core.store.session_writer import save_session

SMALL = dict(iterations=2, queries=20, epochs=6, retrain_epochs=2, generative_epochs=3)


def bars(n: int, channels: int, seed: int = 0, binary: bool = False) -> tuple[Dataset, np.ndarray]:
    """A horizontal bar (the cause of T) in a colour that only correlates with it: T = bar;
    channel 0 lit with the bar in 80 % of the images, channel 1 otherwise."""
    rng = np.random.default_rng(seed)
    bar = rng.random(n) < 0.5
    colour = np.where(rng.random(n) < 0.8, bar, ~bar).astype(int)
    images = np.zeros((n, 8, 8, channels), np.float32)
    for i in range(n):
        shape = np.zeros((8, 8), np.float32)
        if bar[i]:
            shape[3 + rng.integers(0, 2), 1:7] = 1.0
        else:
            shape[1:7, 3 + rng.integers(0, 2)] = 1.0
        images[i, ..., colour[i]] = shape if binary else shape * rng.uniform(0.6, 1.0)
    obs_class = 2 * bar + colour
    return Dataset(images=images, obs_class=obs_class, name="bars"), bar


class BarOracle:
    name = "bar"

    def answer(self, images: np.ndarray) -> np.ndarray:
        ink = images.max(axis=3)
        return ((ink > 0.3).sum(axis=2).max(axis=1) >= 5).astype(np.float64)   # a row with a bar


@pytest.mark.parametrize("channels,manipulator", [(3, "pixels"), (2, "manifold")])
def test_a_colour_experiment_learns_and_manipulates_in_every_channel(tmp_path, channels, manipulator):
    data, bar = bars(240, channels)
    exp = Experiment(data, ExperimentConfig(**SMALL, manipulator=manipulator, seed=1))
    history = exp.run(BarOracle())
    assert len(history) == 2 and exp.causal_levels.tolist() == [0.0, 1.0]
    assert (exp.predict_causal(data.images).argmax(1) == bar).mean() > 0.9
    batch = exp.batches[-1]
    assert batch.images.shape == (20, 8, 8, channels) and batch.images.min() >= 0 and batch.images.max() <= 1
    changed = np.abs(batch.images - batch.originals).sum(axis=(1, 2))         # (N, C): change per channel
    assert changed.sum() > 0

    save_session(tmp_path / "s.viscause", exp)
    back = load_session(tmp_path / "s.viscause")
    assert back.dataset.images.shape == data.images.shape and back.dataset.channels == channels
    np.testing.assert_array_equal(back.experiment.batches[-1].images, batch.images)

    (tmp_path / "run").mkdir()
    save_model(tmp_path / "run", exp)
    run = RunModel(tmp_path / "run")
    p, cls = run.predict(data.images[:10])
    assert p.shape == (10,) and run.shape == (8, 8, channels)
    result = run.manipulator().manipulate(data.images[0], np.array([1 - cls[0]]), 0.5)
    assert result.images.shape == (1, 8, 8, channels)
    with pytest.raises(ValueError, match=f"8x8 with {channels} channels"):
        run.predict(data.images[:2, ..., 0])


def test_binary_colour_images_flip_single_values():
    data, _ = bars(200, 3, binary=True)
    assert data.is_binary
    exp = Experiment(data, ExperimentConfig(**SMALL, seed=2))
    exp.run(BarOracle())
    batch = exp.batches[-1]
    flips = np.abs(batch.images - batch.originals)
    assert set(np.unique(flips).tolist()) <= {0.0, 1.0}       # exact flips, channel by channel
    assert batch.images.shape == (20, 8, 8, 3)
