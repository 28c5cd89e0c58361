"""core.training_process: training in a child process gives the same nets and stops on request."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.nets.models import new_net
from viscause_gui.core.nets.training import TrainConfig, train_steps
from viscause_gui.core.runtime.training_process import TrainingProcess, TrainingProcessError

SPEC = {"arch": "mlp", "hidden": [32], "in_shape": [10, 10], "n_classes": 2}


@pytest.fixture(scope="module")
def data():
    return GratingModel().sample(2000, 0)


@pytest.fixture(scope="module")
def process():
    p = TrainingProcess()
    p.start()
    yield p
    p.close()


def weights(net) -> list[torch.Tensor]:
    return [t.detach().clone() for t in net.state_dict().values()]


@pytest.mark.slow
def test_same_nets_as_training_in_this_process(process, data):
    config = TrainConfig(epochs=3, patience=100, seed=5)
    here, there = new_net(SPEC, 1), new_net(SPEC, 1)
    w = np.linspace(0.5, 2.0, len(data))
    local = [p.val_loss for p in train_steps(here, data.images, data.causal_class, w, config)]
    remote = [p.val_loss for p in process.wrap(train_steps)(there, data.images, data.causal_class, w, config)]
    assert local == remote and len(remote) == 3
    assert all(torch.equal(a, b) for a, b in zip(weights(here), weights(there)))


@pytest.mark.slow
def test_a_cancelled_job_leaves_the_net_alone_and_the_next_job_runs(process, data):
    net = new_net(SPEC, 2)
    before = weights(net)
    job = process.wrap(train_steps)(net, data.images, data.causal_class, None, TrainConfig(epochs=500, patience=1000))
    assert next(job).epoch == 1
    job.close()                               # e.g. Stop in the GUI
    assert all(torch.equal(a, b) for a, b in zip(before, weights(net)))
    epochs = [p.epoch for p in process.wrap(train_steps)(net, data.images, data.causal_class, None,
                                                          TrainConfig(epochs=2, patience=100))]
    assert epochs == [1, 2]


@pytest.mark.slow
def test_a_newer_job_supersedes_an_older_one(process, data):
    net = new_net(SPEC, 3)
    old = process.wrap(train_steps)(net, data.images, data.causal_class, None, TrainConfig(epochs=500, patience=1000))
    next(old)
    assert [p.epoch for p in process.wrap(train_steps)(net, data.images, data.causal_class, None,
                                                        TrainConfig(epochs=1))] == [1]
    with pytest.raises(TrainingProcessError, match="newer job replaced it"):
        next(old)


@pytest.mark.slow
def test_errors_in_the_child_reach_the_caller(process, data):
    net = new_net(SPEC, 4)
    wrong_size = data.images[:, :9, :9]                      # 9x9 images for a 10x10 net
    with pytest.raises(TrainingProcessError, match="training failed in the child process"):
        list(process.wrap(train_steps)(net, wrong_size, data.causal_class, None, TrainConfig(epochs=1)))
    assert [p.epoch for p in process.wrap(train_steps)(net, data.images, data.causal_class, None,
                                                        TrainConfig(epochs=1))] == [1]


@pytest.mark.slow
def test_close_ends_a_job_mid_epoch_quickly(data):
    process = TrainingProcess()
    big = np.tile(data.images, (30, 1, 1))                  # epochs of 60,000 images: seconds each
    job = process.wrap(train_steps)(new_net(SPEC, 5), big, np.tile(data.causal_class, 30), None,
                                    TrainConfig(epochs=100, patience=1000, batch_size=16))
    errors: list[BaseException] = []

    def consume():
        try:
            for _ in job:
                pass
        except TrainingProcessError as exc:
            errors.append(exc)

    thread = threading.Thread(target=consume)
    thread.start()
    deadline = time.perf_counter() + 60
    while not process.is_alive() and time.perf_counter() < deadline:
        time.sleep(0.05)
    time.sleep(3.0)                                          # the child has imported torch and trains
    start = time.perf_counter()
    process.close()
    thread.join(2.0)
    assert not thread.is_alive() and time.perf_counter() - start < 2.0
    assert not process.is_alive() and errors
    assert "closed" in str(errors[0]) or "ended" in str(errors[0])


def test_without_a_child_process_training_runs_in_the_calling_thread(data, monkeypatch, caplog):
    process = TrainingProcess()

    def refuse():
        raise OSError("fork: Resource temporarily unavailable")

    monkeypatch.setattr(process, "start", refuse)
    config = TrainConfig(epochs=2, patience=100, seed=5)
    here, fallback = new_net(SPEC, 6), new_net(SPEC, 6)
    local = [p.val_loss for p in train_steps(here, data.images, data.causal_class, None, config)]
    with caplog.at_level("WARNING"):
        got = [p.val_loss for p in process.wrap(train_steps)(fallback, data.images, data.causal_class, None, config)]
    assert got == local and "training in this thread instead" in caplog.text
    assert not process.is_alive()
