import numpy as np
import pytest
import torch
from torch import nn

from viscause_gui.core.method.manipulator import manipulate


class RowSumNet(nn.Module):
    """Class 1 = some row holds at least `need` ink pixels (a soft h-bar detector)."""

    def __init__(self, need: float = 9.5, sharpness: float = 4.0):
        super().__init__()
        self.need, self.sharpness = need, sharpness
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        z = self.sharpness * (x.sum(-1).amax(-1) - self.need) + 0 * self.dummy
        return torch.stack([-z / 2, z / 2], dim=1)


def test_binary_manipulation_adds_and_removes_with_few_flips():
    img = np.zeros((2, 10, 10), np.float32)
    img[0, 3, :6] = 1        # 6/10 of a row
    img[1, 7, :] = 1         # an h-bar
    res = manipulate(RowSumNet(), img, np.array([1, 0]), alpha=0.5)
    out = res.images
    assert set(np.unique(out)) <= {0.0, 1.0}
    assert out[0].sum(1).max() == 10 and res.distance[0] == 4      # filled the fullest row
    assert out[1].sum(1).max() < 10 and res.distance[1] <= 2         # broke the bar cheaply
    assert res.predicted_class.tolist() == [1, 0]
    assert np.all(res.p_target > 0.5)


def test_alpha_trades_target_against_distance():
    img = np.zeros((1, 10, 10), np.float32)
    far = manipulate(RowSumNet(), img, np.array([1]), alpha=0.05)
    near = manipulate(RowSumNet(), img, np.array([1]), alpha=1.0)
    assert near.distance[0] == 0 and near.predicted_class[0] == 0
    assert far.distance[0] >= 10 and far.predicted_class[0] == 1


class InkNet(nn.Module):
    """Class 1 logit grows with the total ink: its boundary is at `need` pixels."""

    def __init__(self, need: float = 5.0):
        super().__init__()
        self.need = need
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        z = x.sum((-1, -2)) - self.need + 0 * self.dummy
        return torch.stack([-z / 2, z / 2], dim=1)


@pytest.mark.parametrize("confidence", [None, 4.0])
def test_pushes_into_the_class_not_to_its_boundary(confidence):
    img = np.zeros((1, 10, 10), np.float32)
    res = manipulate(InkNet(), img, np.array([1]), alpha=0.3, confidence=confidence)
    assert res.distance[0] >= 7 and res.p_target[0] > 0.85   # the boundary is at 5 flips, p = 0.5


def test_grey_l2_manipulation_moves_towards_target():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    img = np.random.default_rng(0).random((5, 8, 8)).astype(np.float32)
    before = torch.softmax(net(torch.from_numpy(img)), 1)[:, 1].detach().numpy()
    res = manipulate(net, img, np.ones(5, int), alpha=0.2, binary=False)
    assert np.all(res.images >= 0) and np.all(res.images <= 1)
    assert np.all(res.p_target >= before - 1e-6)
    assert np.all(res.distance > 0)
    np.testing.assert_allclose(res.distance, np.linalg.norm((res.images - img).reshape(5, -1), axis=1), rtol=1e-4)


def test_candidate_restriction_and_cancel():
    img = np.zeros((3, 20, 20), np.float32)
    calls = []
    res = manipulate(RowSumNet(need=19.5), img, np.ones(3, int), alpha=0.05, candidates=8,
                     progress=lambda s, m: calls.append(s) or s >= 2)
    assert calls == [1, 2] and res.steps == 2
    assert np.all(res.distance == 2)


def test_bad_alpha():
    with pytest.raises(ValueError):
        manipulate(RowSumNet(), np.zeros((1, 10, 10), np.float32), np.array([1]), alpha=1.5)
