"""The manifold manipulator: reaches the target class with images that look like the data."""
import itertools

import numpy as np
import pytest
import torch

from tests.core.nets.test_generative import QUICK, bars
from viscause_gui.core.method.manifold import PrototypeBank, manifold_path, manipulate_on_manifold
from viscause_gui.core.method.manipulator import manipulate
from viscause_gui.core.method.manipulator_model import MANIFOLD, PIXELS, ManipulatorModel
from viscause_gui.core.method.oracles import train_manifold_check
from viscause_gui.core.nets.generative import autoencoder_spec
from viscause_gui.core.nets.models import new_net
from viscause_gui.core.nets.training import TrainConfig, run_to_end, train_steps

pytestmark = pytest.mark.slow      # every test uses the nets and the generative model trained in `world`


@pytest.fixture(scope="module")
def world():
    torch.set_num_threads(1)
    images, labels = bars(600, seed=0)
    net = new_net({"arch": "mlp", "in_shape": [12, 12], "hidden": [32], "n_classes": 2}, seed=0)
    list(train_steps(net, images, labels, None, TrainConfig(epochs=15, batch_size=32, seed=0)))
    model = new_net(autoencoder_spec((12, 12), code=8, widths=(8, 16)), seed=1)
    list(train_steps(model, images, None, None, QUICK))
    bank = PrototypeBank.build(model, [net], images, labels)
    starts, start_labels = bars(60, seed=9)
    return images, labels, net.eval(), model.eval(), bank, starts, 1 - start_labels


def _nearest_real_distance(results: np.ndarray, images: np.ndarray, labels: np.ndarray, targets: np.ndarray):
    flat = images.reshape(len(images), -1)
    return np.array([np.linalg.norm(flat[labels == t] - r.reshape(1, -1), axis=1).min()
                     for r, t in zip(results, targets)])


def test_reaches_the_target_with_images_like_the_data(world):
    images, labels, net, model, bank, starts, targets = world
    ours = manipulate_on_manifold(net, model, bank, starts, targets, alpha=0.5)
    pixels = manipulate(net, starts, targets, alpha=0.5, binary=False)
    assert (ours.predicted_class == targets).mean() >= 0.9
    assert ours.images.shape == starts.shape and ours.codes.shape == (60, 8)
    # a bar turned the other way is near some real bar of that orientation; a pixel smudge is not
    near_ours = _nearest_real_distance(ours.images, images, labels, targets)
    near_pixels = _nearest_real_distance(pixels.images, images, labels, targets)
    assert np.median(near_ours) < 0.6 * np.median(near_pixels)
    np.testing.assert_allclose(ours.distance, np.linalg.norm((ours.images - starts).reshape(60, -1), axis=1),
                               rtol=1e-4)


def test_an_independent_check_accepts_the_results_and_rejects_pixel_smudges(world):
    images, _labels, net, model, bank, starts, targets = world
    check = run_to_end(train_manifold_check(images, seed=7, epochs=30, code=8))
    ours = manipulate_on_manifold(net, model, bank, starts, targets, alpha=0.5)
    pixels = manipulate(net, starts, targets, alpha=0.5, binary=False)
    assert check.on_manifold(starts).mean() >= 0.9
    ours_pass, pixels_pass = check.on_manifold(ours.images).mean(), check.on_manifold(pixels.images).mean()
    real_pass = check.on_manifold(starts).mean()
    print(f"pass the check: real {real_pass:.2f}, ours {ours_pass:.2f}, pixels {pixels_pass:.2f}")
    assert ours_pass >= 0.6 and pixels_pass <= 0.2


def test_alpha_trades_depth_against_distance(world):
    _, _, net, model, bank, starts, targets = world
    deep = manipulate_on_manifold(net, model, bank, starts, targets, alpha=0.2)
    near = manipulate_on_manifold(net, model, bank, starts, targets, alpha=0.9)
    assert np.median(near.distance) < np.median(deep.distance)
    assert deep.p_target.mean() > near.p_target.mean()


def test_an_image_already_deep_in_its_target_is_left_alone(world):
    _, _, net, model, bank, starts, targets = world
    own = 1 - targets
    res = manipulate_on_manifold(net, model, bank, starts, own, alpha=0.9)
    assert np.median(res.distance) == 0.0


def test_same_input_same_result_and_cancel(world):
    _, _, net, model, bank, starts, targets = world
    a = manipulate_on_manifold(net, model, bank, starts, targets, chunk=16)
    b = manipulate_on_manifold(net, model, bank, starts, targets, chunk=16)
    np.testing.assert_array_equal(a.images, b.images)
    stopped = manipulate_on_manifold(net, model, bank, starts, targets, chunk=16, progress=lambda i, n: True)
    np.testing.assert_array_equal(stopped.images[:16], a.images[:16])
    np.testing.assert_array_equal(stopped.images[16:], starts[16:])     # not searched: unchanged


def test_path_runs_from_the_image_to_the_result(world):
    _, _, net, model, bank, starts, targets = world
    res = manipulate_on_manifold(net, model, bank, starts[:1], targets[:1], alpha=0.5)
    path = manifold_path(model, starts[0], res.codes[0], steps=5)
    assert path.shape == (5, 12, 12)
    np.testing.assert_allclose(path[0], starts[0], atol=1e-6)
    np.testing.assert_allclose(path[-1], res.images[0], atol=1e-5)


def test_a_class_with_no_real_image_is_refused(world):
    _, _, net, model, bank, starts, _ = world
    with pytest.raises(ValueError, match="no real image of causal class"):
        manipulate_on_manifold(net, model, bank, starts[:2], np.array([5, 5]))


def test_colour_images(world):
    images, labels = bars(300, channels=3)
    net = new_net({"arch": "mlp", "in_shape": [12, 12, 3], "hidden": [32], "n_classes": 2}, seed=0)
    list(train_steps(net, images, labels, None, TrainConfig(epochs=10, batch_size=32, seed=0)))
    model = new_net(autoencoder_spec((12, 12, 3), code=8, widths=(8, 16)), seed=1)
    list(train_steps(model, images, None, None, QUICK))
    bank = PrototypeBank.build(model, [net], images, labels)
    res = manipulate_on_manifold(net, model, bank, images[:20], 1 - labels[:20])
    assert res.images.shape == (20, 12, 12, 3)
    assert (res.predicted_class == 1 - labels[:20]).mean() >= 0.8


def test_manipulator_model_offers_both_searches(world):
    _, _, net, model, bank, starts, targets = world
    plain = ManipulatorModel.copy_of([net], np.array([0.0, 1.0]), False, None, None, 1)
    assert plain.searches == (PIXELS,) and plain.default_search == PIXELS
    both = ManipulatorModel.copy_of([net], np.array([0.0, 1.0]), False, None, None, 1, (model, bank))
    assert both.searches == (PIXELS, MANIFOLD) and both.default_search == MANIFOLD
    on = both.manipulate(starts[:4], targets[:4], 0.5)
    off = both.manipulate(starts[:4], targets[:4], 0.5, search=PIXELS)
    assert on.codes is not None and off.codes is None
    assert both.path(starts[0], on.codes[0]).shape[1:] == (12, 12)
    with pytest.raises(ValueError, match="cannot search"):
        plain.manipulate(starts[:1], targets[:1], 0.5, search=MANIFOLD)


def test_a_smaller_alpha_never_ends_shallower(world):
    """Below the alpha whose depth no prototype reaches, the result stays at the deepest paths
    (it went to shallower ones and got less deep, found in the app)."""
    _, _, net, model, bank, starts, targets = world
    target = torch.as_tensor(targets)
    depth = []
    for alpha in (0.5, 0.3, 0.1, 0.02):
        res = manipulate_on_manifold(net, model, bank, starts, targets, alpha=alpha)
        with torch.no_grad():
            logits = net(torch.as_tensor(res.images))
        depth.append(float((logits.gather(1, target[:, None])[:, 0] - logits.gather(1, 1 - target[:, None])[:, 0])
                           .mean()))
    assert all(b >= a - 1e-4 for a, b in itertools.pairwise(depth)), depth
