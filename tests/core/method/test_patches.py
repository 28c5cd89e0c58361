"""The patch manipulator: regions of real images of the target class pasted in, the rest left as it was."""
import numpy as np
import pytest

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
from viscause_gui.core.method.manipulator_model import PATCHES, PIXELS
from viscause_gui.core.method.patches import DonorBank, manipulate_by_patches
from viscause_gui.core.nets.models import configure_torch_threads, new_net
from viscause_gui.core.nets.training import TrainConfig, train_classifier
from viscause_gui.core.store.rundir import RunModel, save_model

SIZE = 16


def marked(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """16x16 grey images: a bright 4x4 square somewhere (the cause, C = 1) on a noisy background whose level
    is set by a hidden confounder (dark or light), C and the level confounded (.25 / .75)."""
    rng = np.random.default_rng(seed)
    light = rng.random(n) < 0.5
    cause = rng.random(n) < np.where(light, 0.75, 0.25)
    images = (rng.random((n, SIZE, SIZE)) * 0.1 + np.where(light, 0.45, 0.15)[:, None, None]).astype(np.float32)
    for i in np.flatnonzero(cause):
        r, c = rng.integers(0, SIZE - 4, 2)
        images[i, r:r + 4, c:c + 4] = 1.0
    return images, cause.astype(np.int64), light.astype(np.int64)


def has_mark(images: np.ndarray) -> np.ndarray:
    bright = images > 0.9
    windows = np.lib.stride_tricks.sliding_window_view(bright, (4, 4), axis=(1, 2))
    return windows.all(axis=(-1, -2)).any(axis=(1, 2)).astype(np.int64)


def background(images: np.ndarray) -> np.ndarray:
    return (np.median(images.reshape(len(images), -1), axis=1) > 0.3).astype(np.int64)


class MarkOracle:
    name = "mark"

    def answer(self, images: np.ndarray) -> np.ndarray:
        return has_mark(np.asarray(images)).astype(np.float64)


@pytest.fixture(scope="module")
def net_and_data():
    configure_torch_threads(1)
    images, cause, light = marked(1500, seed=0)
    net = new_net({"arch": "cnn", "in_shape": [SIZE, SIZE], "channels": [8, 16], "hidden": [32], "pool": True,
                   "n_classes": 2}, seed=0)
    train_classifier(net, images, cause, config=TrainConfig(epochs=12, lr=3e-3, batch_size=64, seed=0))
    net.eval()
    return net, images, cause, light


@pytest.mark.slow
def test_the_cause_changes_the_confounded_background_stays_and_every_changed_pixel_is_a_donors(net_and_data):
    net, images, cause, light = net_and_data
    bank = DonorBank.build([net], images, cause)
    start = np.arange(40)
    targets = 1 - cause[start]
    result = manipulate_by_patches([net], bank, images[start], targets, alpha=0.5)
    assert np.mean(has_mark(result.images) == targets) >= 0.85
    assert np.mean(background(result.images) == light[start]) >= 0.95
    changed = np.abs(result.images - images[start]) > 0
    assert np.all(np.isin(result.images[changed], bank.images))            # pasted, not painted
    whole_swap = np.sqrt(((bank.images[bank.nearest(images[start], targets, 1)[:, 0]] - images[start]) ** 2)
                         .reshape(len(start), -1).sum(1))
    assert np.median(result.distance) < np.median(whole_swap)               # less than the nearest real image


@pytest.mark.slow
def test_an_image_already_deep_in_its_target_is_left_as_it_is(net_and_data):
    net, images, cause, _ = net_and_data
    bank = DonorBank.build([net], images, cause)
    result = manipulate_by_patches([net], bank, images[:10], cause[:10], alpha=0.9)
    assert np.array_equal(result.images, images[:10])


@pytest.mark.slow
def test_the_loop_with_the_patch_search_its_manipulator_model_and_run_folder(tmp_path):
    images, cause, _ = marked(600, seed=1)
    config = ExperimentConfig(iterations=1, queries=10, seed=0, manipulator="patches", epochs=6, retrain_epochs=2,
                              augment_shifts=0, batch_size=64,
                              net={"arch": "cnn", "channels": [8, 16], "hidden": [32], "pool": True})
    exp = Experiment(Dataset(images=images, obs_class=cause, name="marked"), config)
    records = exp.run(MarkOracle())
    assert len(records) == 1 and exp.donors is not None
    model = exp.manipulator_model()
    assert model.searches == (PIXELS, PATCHES) and model.default_search == PATCHES
    out = model.manipulate(images[:5], 1 - exp.causal_labels[:5], 0.5)
    assert out.images.shape == (5, SIZE, SIZE)
    save_model(tmp_path, exp)                          # `viscause predict --manipulate` pastes as the run did
    again = RunModel(tmp_path).manipulator()
    assert again.default_search == PATCHES
    assert np.array_equal(again.manipulate(images[:5], 1 - exp.causal_labels[:5], 0.5).images, out.images)
    (tmp_path / "donors.npz").write_bytes(b"not an npz")
    with pytest.raises(ValueError, match=r"donors\.npz: damaged"):
        RunModel(tmp_path)


@pytest.mark.slow
def test_without_a_fitted_mask_the_most_different_cells_are_pasted(net_and_data):
    """Nets so sure of themselves that their gradient is flat leave the fitted mask empty (steps=0 is that
    mask): the cells where the donor differs most are still pasted, as few as reach the target."""
    net, images, cause, light = net_and_data
    bank = DonorBank.build([net], images, cause)
    start = np.flatnonzero(cause == 0)[:30]
    result = manipulate_by_patches([net], bank, images[start], np.ones(len(start), np.int64), alpha=0.5, steps=0)
    assert np.mean(has_mark(result.images) == 1) >= 0.9
    assert np.mean(background(result.images) == light[start]) >= 0.95
    changed = np.abs(result.images - images[start]) > 0
    assert np.all(np.isin(result.images[changed], bank.images))
    assert np.median(changed.reshape(len(start), -1).mean(1)) < 0.5       # a region of the image, not all of it
