"""A person opens the digits, runs Algorithm 1 with the model oracle, and later opens the same
digits again (another day, or after switching data sets): the oracle is not trained again but
read from the user's cache folder. A damaged cache file costs a new training, not a crash."""
from __future__ import annotations

import functools
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from viscause_gui.core.experiments import mnist

from .people import WAIT_MS, Person, open_builtin_with_ctrl_b, press


@pytest.fixture
def oracle_trainings(monkeypatch) -> list[int]:
    """How often the model oracle's panel is trained (one small net, and a causal net of one member
    with a generative model of one epoch, so that the test is quick)."""
    calls: list[int] = []
    train, config = mnist.oracle_training, mnist.experiment_config

    def counted(*args, **kwargs):
        calls.append(1)
        return train(*args, **kwargs)
    monkeypatch.setattr(mnist, "oracle_training", counted)
    monkeypatch.setattr(mnist, "ANNOTATORS", 1)
    monkeypatch.setattr(mnist, "REFERENCE_EPOCHS", 1)
    monkeypatch.setattr(mnist, "train_manifold_check", functools.partial(mnist.train_manifold_check, epochs=2))
    monkeypatch.setattr(mnist, "experiment_config",
                        lambda **values: config(**{"ensemble": 1, "generative_epochs": 1, **values}))
    return calls


def _open_the_digits_and_run_algorithm1(qtbot, window) -> None:
    open_builtin_with_ctrl_b(qtbot, window, "digits8x8")
    qtbot.waitUntil(lambda: window.state.dataset is not None and window.state.dataset.name == "digits8x8"
                    and window.state.experiment is None, timeout=WAIT_MS)
    learning = window.panels["learning"]
    assert learning.oracle_combo.currentData() == "model" and learning.label_spin.value() == 7
    learning.epochs_spin.setValue(1)
    with qtbot.waitSignal(learning.run_finished, timeout=120_000) as finished:
        press(qtbot, window, Qt.Key.Key_F4)
    assert finished.args == ["goal"], learning.status.text()
    assert window.state.experiment.n_causal_classes >= 1


def _cache_files() -> list[Path]:
    from viscause_gui.core.store.model_cache import ModelCache

    return sorted(ModelCache().folder.glob("*.npz"))


def test_the_second_opening_reads_the_oracle_from_the_cache(qtbot, shown_window, monkeypatch, oracle_trainings,
                                                            caplog):
    window = shown_window
    Person(qtbot, monkeypatch).will("Discard", "Discard", "Discard")    # the runs are not saved in between
    _open_the_digits_and_run_algorithm1(qtbot, window)
    assert len(oracle_trainings) == 1
    _open_the_digits_and_run_algorithm1(qtbot, window)
    assert len(oracle_trainings) == 1                       # read from the cache, not trained
    assert len(_cache_files()) == 1
    damaged = _cache_files()[0]
    damaged.write_bytes(b"not a cache entry")
    _open_the_digits_and_run_algorithm1(qtbot, window)
    assert len(oracle_trainings) == 2 and not window.messages
    assert [r.getMessage() for r in caplog.records if damaged.name in r.getMessage()] != []
