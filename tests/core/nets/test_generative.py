"""The generative model: any shape, grey or colour, trains, reconstructs, rebuilds from its spec."""
import numpy as np
import pytest
import torch

from viscause_gui.core.nets.generative import ConvAutoencoder, autoencoder_spec, encode, reconstruction_error
from viscause_gui.core.nets.models import build_net, new_net
from viscause_gui.core.nets.training import TrainConfig, generative_config, train_steps
from viscause_gui.core.nets.weights import WeightsError, net_of_spec


QUICK = TrainConfig(epochs=30, batch_size=32, lr=3e-3, patience=30, seed=0)   # small data: more, smaller steps


def bars(n: int, size: int = 12, seed: int = 0, channels: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images of one soft bar each, horizontal (label 0) or vertical (label 1), at a random place."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, size, size), np.float32)
    labels = rng.integers(0, 2, n)
    ink, edge = rng.uniform(0.7, 1.0, n), rng.uniform(0.1, 0.5, n)     # real images vary a little
    for i, (label, pos) in enumerate(zip(labels, rng.integers(2, size - 3, n))):
        if label == 0:
            images[i, pos:pos + 2, 1:-1] = ink[i]
            images[i, [pos - 1, pos + 2], 1:-1] = edge[i]
        else:
            images[i, 1:-1, pos:pos + 2] = ink[i]
            images[i, 1:-1, [pos - 1, pos + 2]] = edge[i]
    if channels:
        tint = rng.uniform(0.4, 1.0, (n, 1, 1, channels)).astype(np.float32)
        images = images[..., None] * tint
    return images, labels


@pytest.mark.parametrize("shape", [(12, 12), (10, 13), (28, 28), (9, 11, 3), (8, 8, 2)])
def test_any_shape_in_same_shape_out(shape):
    net = ConvAutoencoder(shape, code=4, widths=(4, 8))
    x = torch.rand(5, *shape)
    assert net.encode(x).shape == (5, 4)
    with torch.no_grad():
        out = net(x)
    assert out.shape == (5, *shape)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


@pytest.mark.slow
def test_trains_through_the_common_routine_and_reconstructs():
    images, _ = bars(400)
    net = new_net(autoencoder_spec(images.shape[1:], code=8, widths=(8, 16)), seed=1)
    before = reconstruction_error(net, images).mean()
    history = list(train_steps(net, images, None, None, QUICK))
    after = reconstruction_error(net, images).mean()
    assert history[-1].val_loss < history[0].val_loss
    assert after < 0.2 * before
    assert encode(net, images).shape == (400, 8)


def test_colour_images_train_too():
    images, _ = bars(200, channels=3)
    net = new_net(autoencoder_spec(images.shape[1:], code=6, widths=(8, 8)), seed=0)
    list(train_steps(net, images, None, None, generative_config(0, epochs=3)))
    assert reconstruction_error(net, images).shape == (200,)


def test_same_seed_same_model():
    images, _ = bars(120)
    nets = []
    for _ in range(2):
        net = new_net(autoencoder_spec((12, 12), code=4, widths=(4, 8)), seed=3)
        list(train_steps(net, images, None, None, generative_config(5, epochs=2)))
        nets.append(net)
    for a, b in zip(nets[0].state_dict().values(), nets[1].state_dict().values()):
        assert torch.equal(a, b)


def test_spec_rebuilds_and_is_sized_before_building():
    spec = autoencoder_spec((28, 28), code=32)
    net = build_net(spec)
    assert isinstance(net, ConvAutoencoder) and net.code_size == 32
    assert net_of_spec(spec).code_size == 32                  # sized on the meta device
    with pytest.raises(WeightsError, match="parameters"):
        net_of_spec(autoencoder_spec((4000, 4000), code=4096))
    with pytest.raises(WeightsError):
        net_of_spec({"arch": "autoencoder", "in_shape": [0, 5]})
