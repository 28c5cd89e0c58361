"""The MNIST experiment (issue 5) on small settings: data split, model oracle ('?'), baseline,
figure, the grey manipulator's alpha semantics, and `viscause run mnist` (its run folder read by
`viscause predict` in a second process)."""
import functools
import json

import numpy as np
import pytest
import torch
from torch import nn

from tests.cli_runner import viscause
from viscause_gui.core.experiments import mnist
from viscause_gui.core.method.manipulator import manipulate


class FixedLogits(nn.Module):
    """A stand-in annotator: the same 10 logits for every image (or logits by total ink)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.as_tensor(logits, dtype=torch.float32)
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.logits.expand(len(x), -1) + 0 * self.dummy


def _onehot_logits(digit, strength):
    z = np.zeros(10, np.float32)
    z[digit] = strength
    return z


@pytest.fixture(scope="module")
def task():
    return mnist.one_vs_all(3, seed=0)


def test_one_vs_all_split(task):
    assert task.digit == 3
    d = task.data
    assert len(d) == 800 and d.obs_class.sum() == 400                  # the digit and as many others
    assert np.array_equal(d.obs_class, (d.labels == 3).astype(int))
    assert np.array_equal(d.p_obs, d.obs_class.astype(float))           # P(T=1|I) from the labels
    others = np.bincount(d.labels[d.labels != 3], minlength=10)
    assert others[others > 0].max() - others[others > 0].min() <= 1       # spread evenly over the others
    assert len(task.heldout) == 1000 and np.all(np.bincount(task.heldout.labels) == 100)
    assert len(task.pool) == 4000
    # held-out images are in neither the pool nor the causal data
    held = {im.tobytes() for im in task.heldout.images}
    assert not held & {im.tobytes() for im in task.pool.images}
    assert not held & {im.tobytes() for im in d.images}
    again = mnist.one_vs_all(3, seed=0)
    assert np.array_equal(again.data.images, d.images)                  # deterministic by seed
    assert not np.array_equal(mnist.one_vs_all(3, seed=1).data.images, d.images)
    with pytest.raises(ValueError, match="digit 11"):
        mnist.one_vs_all(11)


def test_oracle_answers_probability_or_unsure():
    sure_d = mnist.DigitOracle(FixedLogits(_onehot_logits(3, 8.0)), digit=3)
    sure_other = mnist.DigitOracle(FixedLogits(_onehot_logits(5, 8.0)), digit=3)
    flat = mnist.DigitOracle(FixedLogits(np.zeros(10)), digit=3)       # max prob 0.1: '?'
    images = np.zeros((4, 28, 28), np.float32)
    assert np.all(sure_d.answer(images) > 0.99)
    assert np.all(sure_other.answer(images) < 0.01)
    assert np.all(np.isnan(flat.answer(images)))
    assert mnist.answer_class(np.array([0.9, 0.1, np.nan])).tolist() == [1, 0, -1]


def test_panel_majority_vote():
    yes, no, unsure = (FixedLogits(_onehot_logits(3, 8.0)), FixedLogits(_onehot_logits(5, 8.0)),
                       FixedLogits(np.zeros(10)))
    img = np.zeros((1, 28, 28), np.float32)
    assert mnist.DigitOracle([yes, yes, no], 3).answer(img)[0] == pytest.approx(2 / 3)
    assert np.isnan(mnist.DigitOracle([yes, unsure, unsure], 3).answer(img)[0])   # most said '?'
    assert np.isnan(mnist.DigitOracle([yes, no, unsure], 3).answer(img)[0])     # a tie, not 0.5
    assert mnist.DigitOracle([no, no, unsure, no, yes], 3).answer(img)[0] == pytest.approx(0.25)
    votes = mnist.DigitOracle([yes, no, unsure], 3).votes(img)[:, 0]
    assert votes[0] == 1 and votes[1] == 0 and np.isnan(votes[2])


@pytest.mark.slow
def test_reference_classifier_is_another_architecture_and_learns(task):
    some = np.random.default_rng(0).choice(len(task.pool), 1000, replace=False)
    net = mnist.train_reference(task.pool.images[some], task.pool.labels[some], seed=0, epochs=3)
    assert any(isinstance(m, nn.Conv2d) for m in net.modules())         # the causal net is an MLP
    proba = mnist.DigitOracle(net, 3).probabilities(task.heldout.images)[0]
    assert (proba.argmax(1) == task.heldout.labels).mean() > 0.6          # ten digits, 3 short epochs
    report = mnist.oracle_report(mnist.DigitOracle(net, 3, unsure_below=0.3), task.heldout)
    assert report["accuracy_answered"] > 0.9
    assert 0 <= report["unsure_rate"] < 0.5


def test_nearest_real_baseline():
    pool = np.zeros((4, 28, 28), np.float32)
    pool[0, 0, 0] = 1.0            # a d, close to the start
    pool[1, :2, :2] = 1.0          # a d, farther
    pool[2] = 0.0                  # not a d, identical to the start (skipped: distance 0)
    pool[3, 5, 5:7] = 1.0          # not a d
    is_d = np.array([True, True, False, False])
    start = np.zeros((2, 28, 28), np.float32)
    oracle = mnist.DigitOracle(FixedLogits(_onehot_logits(3, 8.0)), 3)   # says "3" to everything
    res = mnist.nearest_real_baseline(start, np.array([True, False]), pool, is_d, oracle)
    assert res.index.tolist() == [0, 3]
    np.testing.assert_allclose(res.distance, [1.0, np.sqrt(2)], rtol=1e-6)
    assert res.accepted.tolist() == [True, False]
    summary = mnist.baseline_summary(res)
    assert summary["accepted_rate"] == 0.5 and summary["accepted_l2_median"] == pytest.approx(1.0)


def test_figure_png(tmp_path, task):
    probe, targets = mnist.figure_probe(task, per_side=2)
    assert sorted(targets.tolist()) == [0, 0, 1, 1]
    stages = [np.clip(probe + 0.1 * k, 0, 1) for k in (1, 2)]
    answers = [np.array([0.9, np.nan, 0.1, 0.8])] * 2
    path = mnist.plot_manipulation_rows(probe, stages, tmp_path / "fig.png", targets=targets,
                                        answers=answers, digit=3, title="test")
    assert path.stat().st_size > 2000


class LinearNet(nn.Module):
    def __init__(self, n_pixels=64, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.lin = nn.Linear(n_pixels, 2)

    def forward(self, x):
        return self.lin(x.flatten(1))


def test_grey_alpha_one_is_the_minimal_flip_and_lower_alpha_goes_deeper():
    net = LinearNet()
    img = np.full((6, 8, 8), 0.5, np.float32)      # mid-grey: the box does not bind
    img += np.random.default_rng(0).normal(0, 0.05, img.shape).astype(np.float32)
    with torch.no_grad():
        z = net(torch.from_numpy(img))
    w = (net.lin.weight[1] - net.lin.weight[0]).detach().numpy()
    target = (z[:, 0] > z[:, 1]).long().numpy()     # the class the net does not choose
    margin0 = (z[np.arange(6), target] - z[np.arange(6), 1 - target]).numpy()
    flip = manipulate(net, img, target, alpha=1.0, binary=False)
    np.testing.assert_allclose(flip.distance, -margin0 / np.linalg.norm(w), rtol=0.05)
    assert np.all(flip.predicted_class == target)
    half = manipulate(net, img, target, alpha=0.5, binary=False, confidence=1.5)
    with torch.no_grad():
        zh = net(torch.from_numpy(half.images))
    margin_half = (zh[np.arange(6), target] - zh[np.arange(6), 1 - target]).numpy()
    assert np.all(margin_half >= 1.5 - 1e-3) and np.all(margin_half < 1.6)   # into the class, not further
    np.testing.assert_allclose(half.distance, (1.5 - margin0) / np.linalg.norm(w), rtol=0.05)
    deeper = manipulate(net, img, target, alpha=0.25, binary=False, confidence=1.5)   # depth 4.5
    assert np.all(deeper.distance > 2 * half.distance) and np.all(deeper.p_target > half.p_target)
    # the radius R(alpha) = distance_scale / alpha bounds the move: here 0.5 / 0.5 = 1
    capped = manipulate(net, img, target, alpha=0.5, binary=False, confidence=1.5, distance_scale=0.5)
    assert np.all(capped.distance <= 1.0 + 1e-4) and np.all(capped.p_target < half.p_target)


def test_grey_single_image_and_cancel():
    net = LinearNet()
    img = np.full((8, 8), 0.5, np.float32)
    one = manipulate(net, img, 1, alpha=0.5, binary=False)
    assert one.images.shape == (1, 8, 8)
    calls = []
    res = manipulate(net, np.full((3, 8, 8), 0.5, np.float32), np.ones(3, int), alpha=0.5, binary=False,
                     progress=lambda s, m: calls.append(s) or s >= 2)
    assert calls == [1, 2] and res.steps == 2


@pytest.mark.parametrize("hidden, n_classes, members", [([30], 2, 3), ([30], 2, 1), ([20, 10], 4, 3)])
def test_grey_mlp_margin_gradient_by_hand_equals_autograd(hidden, n_classes, members):
    from viscause_gui.core.method.manipulator import _MarginFn
    from viscause_gui.core.nets.models import new_net

    nets = [new_net({"arch": "mlp", "in_shape": [28, 28], "hidden": hidden, "n_classes": n_classes}, s)
            for s in range(members)]
    x = torch.rand(5, 28, 28)
    target = torch.tensor([0, 1, 1, 0, 1])
    fused = _MarginFn(nets)
    assert fused.layers is not None
    m_hand, g_hand = fused.value_and_grad(x, target)
    fused.layers = None                                  # the autograd path, member by member
    m_auto, g_auto = fused.value_and_grad(x, target)
    torch.testing.assert_close(m_hand, m_auto, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(g_hand, g_auto, rtol=1e-5, atol=1e-6)
    assert all(p.grad is None for net in nets for p in net.parameters())   # weights untouched


@pytest.mark.slow
def test_cli_run_mnist_writes_the_contract(tmp_path, monkeypatch):
    # the contract, not the oracle's quality: its '?' check (an autoencoder, 15 epochs: 60 % of the run) trains
    # one epoch here; the check itself is tested in tests/core/method/test_oracles.py
    monkeypatch.setattr(mnist, "train_manifold_check", functools.partial(mnist.train_manifold_check, epochs=1))
    out = tmp_path / "run"
    result = viscause("run", "mnist", "--digit", 3, "--iterations", 2, "--queries", 40, "--oracle", "model",
                      "--seed", 0, "--annotators", 1, "--oracle-epochs", 1, "--epochs", 3, "--generative-epochs", 2,
                      "--out", out, check=False)
    assert result.returncode == 0, result.stderr
    assert "iteration 2/2" in result.stderr and "baseline" in result.stderr
    history = json.loads((out / "history.json").read_text())
    assert history["config"]["experiment"] == "mnist" and history["config"]["digit"] == 3
    assert history["config"]["augment_shifts"] == 0 and history["config"]["annotators"] == 1
    assert history["config"]["generative_epochs"] == 2 and (out / "generative.pt").is_file()
    assert [it["iteration"] for it in history["iterations"]] == [1, 2]
    assert set(history["iterations"][0]) >= {"iteration", "merr", "mdist", "n_train", "seconds"}
    assert {"l2_median", "accepted_rate"} <= set(history["config"]["baseline_last_iteration"])
    z = np.load(out / "iteration_02.npz")
    assert z["originals"].shape == z["manipulated"].shape == (40, 28, 28)
    assert z["manipulated"].dtype == np.float32
    assert set(np.unique(z["targets"])) == {0, 1}                    # towards 3 and away from it
    assert z["answers"].shape == (40,)
    meta = json.loads((out / "model.json").read_text())
    assert meta["spec"]["arch"] == "mlp" and meta["image_shape"] == [28, 28] and not meta["binary"]
    assert (out / "model.pt").exists()
    assert (out / "history.png").stat().st_size > 1000
    assert (out / "manipulations.png").stat().st_size > 1000
    # the run's net answers `viscause predict` like a grating run's
    images = tmp_path / "digits.npz"
    np.savez(images, images=mnist.one_vs_all(3).heldout.images[:20])
    pred = viscause("predict", "--run", out, "--images", images, process=True)   # a second process reads the run
    assert pred.returncode == 0, pred.stderr
    assert len(json.loads(pred.stdout)["p_causal"]) == 20


@pytest.mark.parametrize("args, message", [
    (["run", "mnist", "--iterations", 1], "needs --digit"),
    (["run", "mnist", "--digit", 3, "--oracle", "truth"], "takes --oracle model"),
    (["run", "grating", "--oracle", "model"], "takes --oracle truth"),
    (["run", "grating", "--digit", 3], "only for run mnist"),
])
def test_cli_run_mnist_bad_arguments(tmp_path, args, message):
    result = viscause(*args, "--out", tmp_path / "x", check=False)
    assert result.returncode != 0
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
