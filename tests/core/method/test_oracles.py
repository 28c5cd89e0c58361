"""A model oracle that is as hard to fool as a person: '?' to noise and smudges, jitter it shrugs off."""
import numpy as np
import pytest
import torch

from tests.core.nets.test_generative import bars
from viscause_gui.core.data.builtin import load_mnist_subset
from viscause_gui.core.experiments import mnist
from viscause_gui.core.method.oracles import ManifoldCheck, train_manifold_check
from viscause_gui.core.nets.augment import jittered
from viscause_gui.core.nets.training import run_to_end


@pytest.fixture(scope="module")
def bar_check() -> tuple[ManifoldCheck, np.ndarray]:
    torch.set_num_threads(1)
    images, _ = bars(600, seed=5)
    return run_to_end(train_manifold_check(images, seed=0, epochs=30, code=8)), images


def _smudged(images: np.ndarray, seed: int, amount: float = 0.35) -> np.ndarray:
    """Real images with a faint grey haze around the ink, as a pixel search leaves it."""
    rng = np.random.default_rng(seed)
    haze = rng.uniform(0.0, amount, images.shape).astype(np.float32)
    return np.clip(images + haze, 0.0, 1.0)


@pytest.mark.slow
def test_real_images_pass_noise_and_smudges_do_not(bar_check):
    check, _ = bar_check
    fresh, _ = bars(200, seed=11)
    assert check.on_manifold(fresh).mean() >= 0.95
    noise = np.random.default_rng(0).uniform(0, 1, fresh.shape).astype(np.float32)
    assert check.on_manifold(noise).mean() == 0.0
    assert check.on_manifold(_smudged(fresh, 1)).mean() <= 0.05
    assert check.on_manifold(fresh[0]).shape == (1,)                     # one image works too


class Says(torch.nn.Module):
    """A 'net' that calls every image a `digit`, very sure of itself."""

    def __init__(self, digit: int):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.full((10,), -8.0).index_fill(0, torch.tensor([digit]), 8.0))

    def forward(self, x):
        return self.logits.expand(len(x), -1)


@pytest.mark.slow
def test_the_digit_oracle_says_unsure_to_what_is_off_the_manifold_whatever_its_nets_say(bar_check):
    check, images = bar_check
    oracle = mnist.DigitOracle([Says(3)] * 3, digit=3, check=check, unanimous=True)
    noise = np.random.default_rng(2).uniform(0, 1, (5, 12, 12)).astype(np.float32)
    assert np.isnan(oracle.answer(noise)).all()
    assert np.all(oracle.answer(images[:20])[check.on_manifold(images[:20])] == 1.0)


def test_a_unanimous_panel_says_unsure_when_its_members_disagree():
    img = np.zeros((1, 28, 28), np.float32)
    assert mnist.DigitOracle([Says(3), Says(3), Says(5)], 3).answer(img)[0] == pytest.approx(2 / 3)
    assert np.isnan(mnist.DigitOracle([Says(3), Says(3), Says(5)], 3, unanimous=True).answer(img)[0])
    assert mnist.DigitOracle([Says(5)] * 3, 3, unanimous=True).answer(img)[0] == 0.0


def test_jittered_copies_stay_in_range_keep_shape_and_repeat_with_the_seed():
    images, _ = bars(20, seed=3)
    a, b = jittered(images, 2, seed=4), jittered(images, 2, seed=4)
    assert a.shape == (40, 12, 12) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[:20], images)
    colour, _ = bars(10, seed=3, channels=3)
    assert jittered(colour, 1, seed=0).shape == (10, 12, 12, 3)


@pytest.mark.slow
def test_the_panel_mixes_architectures_and_answers_on_real_digits():
    data = load_mnist_subset()
    rng = np.random.default_rng(0)
    some = rng.choice(len(data), 600, replace=False)
    oracle = run_to_end(mnist.oracle_training(data.images[some], data.labels[some], digit=3, seed=0,
                                              epochs=2))
    arches = [type(net).__name__ for net in oracle.annotators]
    assert arches == ["ConvNet", "ConvNet", "MLP"] and oracle.check is not None and not oracle.unanimous
    widths = [net.convs[0].out_channels for net in oracle.annotators[:2]]
    assert widths[0] != widths[1]
    others = np.setdiff1d(np.arange(len(data)), some)[:300]
    answers = oracle.answer(data.images[others])
    assert np.isfinite(answers).mean() >= 0.5
    noise = np.random.default_rng(1).uniform(0, 1, (20, 28, 28)).astype(np.float32)
    assert np.isnan(oracle.answer(noise)).all()
