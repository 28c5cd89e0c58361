"""MNIST with ten outcomes in one run (issue 24): the split, the oracle's answers over ten digits, the
10 x 10 figure, and `viscause run mnist --outcomes ten` end to end on a tiny setting."""
import functools
import json

import numpy as np
import pytest
import torch
from torch import nn

from tests.cli_runner import viscause
from viscause_gui.core.experiments import mnist, mnist_ten
from viscause_gui.core.store.rundir import RunModel


class FixedLogits(nn.Module):
    """A stand-in annotator: the same 10 logits for every image."""

    def __init__(self, digit, strength=8.0):
        super().__init__()
        logits = np.zeros(10, np.float32)
        logits[digit] = strength
        self.logits = torch.as_tensor(logits)
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.logits.expand(len(x), -1) + 0 * self.dummy


class OffManifold:
    """A stand-in check: the second image does not look like a digit."""

    def on_manifold(self, images):
        return np.arange(len(images)) != 1


IMAGES = np.zeros((3, 28, 28), np.float32)


@pytest.fixture(scope="module")
def task():
    return mnist_ten.ten_digits(seed=0)


def test_ten_digits_split(task):
    d = task.data
    assert d.outcome_names == tuple("0123456789") and d.n_outcomes == 10
    assert d.meta["outcomes"] == list("0123456789")
    assert len(d) == 4000 and np.all(np.bincount(d.labels) == 400)
    assert np.array_equal(d.obs_class, d.labels)                        # observational class = the digit
    assert d.p_obs.shape == (4000, 10) and np.array_equal(d.p_obs.argmax(1), d.labels)
    assert np.all(d.p_obs.sum(1) == 1)
    assert len(task.heldout) == 1000 and np.all(np.bincount(task.heldout.labels) == 100)
    held = {im.tobytes() for im in task.heldout.images}
    assert not held & {im.tobytes() for im in d.images}
    assert np.array_equal(mnist_ten.ten_digits(seed=0).data.images, d.images)     # deterministic by seed
    assert not np.array_equal(mnist_ten.ten_digits(seed=1).heldout.images, task.heldout.images)


def test_oracle_answers_vote_shares_over_ten_digits():
    two_sevens_one_one = mnist_ten.TenDigitOracle([FixedLogits(7), FixedLogits(7), FixedLogits(1)])
    answer = two_sevens_one_one.answer(IMAGES)
    assert answer.shape == (3, 10)
    assert np.allclose(answer[:, 7], 2 / 3) and np.allclose(answer[:, 1], 1 / 3) and np.allclose(answer.sum(1), 1)
    assert np.array_equal(mnist_ten.read_digit(answer), [7, 7, 7])
    tie = mnist_ten.TenDigitOracle([FixedLogits(7), FixedLogits(1)]).answer(IMAGES)
    assert np.isnan(tie).all()                                               # the leading digits tie: '?'
    unsure = mnist_ten.TenDigitOracle([FixedLogits(7), FixedLogits(7, 0.0), FixedLogits(7, 0.0)]).answer(IMAGES)
    assert np.isnan(unsure).all()                                            # two of three say '?' (flat logits)
    one = mnist_ten.TenDigitOracle([FixedLogits(3, 4.0)]).answer(IMAGES)
    assert np.allclose(one.sum(1), 1) and np.array_equal(one.argmax(1), [3, 3, 3]) and one[0, 3] < 1
    checked = mnist_ten.TenDigitOracle([FixedLogits(3)] * 3, check=OffManifold()).answer(IMAGES)
    assert np.isnan(checked[1]).all() and np.isfinite(checked[[0, 2]]).all()
    assert np.array_equal(mnist_ten.read_digit(checked), [3, -1, 3])


def test_class_digits_needs_one_class_per_digit():
    levels = np.eye(10)[[1, 0, 2, 3, 4, 5, 6, 7, 9, 8]]
    assert np.array_equal(mnist_ten.class_digits(levels), [1, 0, 2, 3, 4, 5, 6, 7, 9, 8])
    with pytest.raises(ValueError, match="one causal class per digit"):
        mnist_ten.class_digits(np.eye(10)[[0, 0, 2, 3, 4, 5, 6, 7, 8, 9]])


def test_ten_by_ten_figure_has_a_cell_per_pair(tmp_path):
    grid = np.random.default_rng(0).random((10, 10, 28, 28)).astype(np.float32)
    read = np.tile(np.arange(10), (10, 1))
    read[2, 5] = -1
    fig = mnist_ten.ten_by_ten_figure(grid, read)
    axes = fig.axes
    assert len(axes) == 100
    assert [ax.get_title() for ax in axes[:10]] == [f"to {j}" for j in range(10)]
    assert axes[2 * 10 + 5].get_xlabel() == "reads ?" and axes[3 * 10 + 4].get_xlabel() == "reads 4"
    assert np.allclose(axes[3 * 10 + 3].images[0].get_array(), grid[3, 3])
    path = mnist_ten.plot_ten_by_ten(grid, tmp_path / "f.png", read)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_cli_run_mnist_ten_outcomes(tmp_path, monkeypatch):
    # the contract, not the quality: every net trains an epoch or two
    monkeypatch.setattr(mnist, "train_manifold_check", functools.partial(mnist.train_manifold_check, epochs=1))
    out = tmp_path / "run"
    result = viscause("run", "mnist", "--outcomes", "ten", "--iterations", 1, "--queries", 20, "--oracle", "model",
                      "--annotators", 1, "--oracle-epochs", 1, "--epochs", 2, "--generative-epochs", 1,
                      "--out", out, check=False)
    assert result.returncode == 0, result.stderr
    assert "ten outcomes" in result.stderr and "10 x 10 figure" in result.stderr
    history = json.loads((out / "history.json").read_text())
    assert history["outcomes"] == list("0123456789")
    config = history["config"]
    assert config["outcomes_mode"] == "ten" and sorted(config["causal_class_digits"]) == list(range(10))
    assert config["answers_used"]["algorithm2"] == 20 and config["answers_used"]["algorithm1"] >= 50
    assert np.array(config["figure_oracle_reads"]).shape == (10, 10)
    z = np.load(out / "iteration_01.npz")
    assert z["answers"].shape == (20, 10) and z["manipulated"].shape == (20, 28, 28)
    assert np.all((z["targets"] >= 0) & (z["targets"] < 10))
    model = RunModel(out)
    assert model.outcomes == tuple("0123456789") and model.levels.shape == (10, 10)
    assert "manifold" in model.manipulator().searches
    assert (out / mnist_ten.FIGURE_NAME).stat().st_size > 10_000


@pytest.mark.parametrize("args, message", [
    (["--outcomes", "ten", "--digit", 3], "leave out --digit"),
    (["--outcomes", "five"], "argument --outcomes: invalid choice: 'five'"),
    ([], "needs --digit D (the digit 0..9 that T asks about) or --outcomes ten"),
])
def test_cli_run_mnist_outcomes_refused(tmp_path, args, message):
    result = viscause("run", "mnist", *args, "--out", tmp_path / "x", check=False)
    assert result.returncode != 0 and message in result.stderr
    assert not (tmp_path / "x").exists()
