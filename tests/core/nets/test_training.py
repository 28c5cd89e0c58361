"""The training routines: robust training is a generic routine any experiment may choose."""
from __future__ import annotations

import pytest
import torch

from viscause_gui.core.experiments import mnist
from viscause_gui.core.nets.models import new_net
from viscause_gui.core.nets.training import RobustTraining, TrainConfig


@pytest.fixture(scope="module")
def task():
    return mnist.one_vs_all(3, seed=0)


def test_robust_training_yields_progress_and_learns(task):
    net = new_net({"arch": "mlp", "in_shape": [28, 28], "hidden": [50], "n_classes": 2}, 0)
    training = RobustTraining(radius=1.5, attack_steps=2)
    progress = list(training(net, task.data.images, task.data.obs_class, config=TrainConfig(epochs=3)))
    assert [p.epoch for p in progress] == [1, 2, 3]
    pred = net(torch.from_numpy(task.heldout.images)).argmax(1).numpy()
    truth = task.heldout.obs_class
    balanced = ((pred == truth)[truth == 1].mean() + (pred == truth)[truth == 0].mean()) / 2
    assert balanced > 0.8
    assert training.to_json()["radius"] == 1.5
