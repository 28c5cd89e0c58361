"""A new user opens the MNIST subset (Ctrl+B) with T = 1 for a label: the start hint, the
readout's observational section and F1 help speak of these digits and that label, and the
number of images per observational class F1 names is what Algorithm 1 then asks."""
from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtCore import Qt

from viscause_gui.core.experiments import mnist
from viscause_gui.gui.panels.readout import plain

from .people import WAIT_MS, open_builtin_with_ctrl_b, press


@pytest.fixture
def window(qtbot, shown_window):
    window = shown_window
    open_builtin_with_ctrl_b(qtbot, window, "mnist_subset")
    qtbot.waitUntil(lambda: window.state.dataset is not None and window.state.dataset.name == "mnist_subset",
                    timeout=WAIT_MS)
    return window


def _type_label(qtbot, window, label: int) -> None:
    spin = window.panels["learning"].label_spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, str(label))
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert window.state.positive_label == label


def _hint(window) -> str:
    from PySide6.QtWidgets import QLabel

    return " ".join(plain(label.text()) for label in window.teaching.start_hint.findChildren(QLabel))


def _observational(qtbot, window) -> str:
    readout = window.readout
    qtbot.waitUntil(lambda: plain(readout.values["p_obs"].text()) not in ("training…", "—"), timeout=WAIT_MS)
    qtbot.wait(100)                                  # the readout's debounce
    return plain(readout.values["p_obs"].text())


def _f1_help(qtbot, window) -> str:
    press(qtbot, window, Qt.Key.Key_F1)
    return plain(window.messages[-1][2])


def test_the_start_hint_speaks_of_the_label_not_of_bars(qtbot, window):
    hint = _hint(window)
    assert "v-bar" not in hint and "h-bar" not in hint, hint
    assert "label 7" in hint, hint
    _type_label(qtbot, window, 3)
    hint = _hint(window)
    assert "label 3" in hint and "v-bar" not in hint, hint


def test_the_observational_readout_says_t_comes_from_the_label(qtbot, window):
    ds = window.state.dataset
    shown = _observational(qtbot, window)
    assert "has no T" not in shown and "label 7" in shown, shown
    seven = int(np.flatnonzero(ds.labels == 7)[0])
    window.state.select([seven])
    qtbot.waitUntil(lambda: plain(window.readout.values["p_obs"].text()).startswith("1.00"), timeout=5_000)
    _type_label(qtbot, window, 3)
    qtbot.waitUntil(lambda: plain(window.readout.values["p_obs"].text()).startswith("0.00"), timeout=5_000)
    assert "label 3" in plain(window.readout.values["p_obs"].text())


def test_f1_help_speaks_of_the_digits_and_names_what_algorithm_1_asks(qtbot, window, monkeypatch):
    original = mnist.experiment_config
    monkeypatch.setattr(mnist, "experiment_config", lambda **kw: original(**{"representatives": 3, **kw}))
    _type_label(qtbot, window, 4)                # the digit recipe is chosen again for this label
    text = _f1_help(qtbot, window)
    assert "label 4" in text and "mnist_subset" in text, text
    asked = re.search(r"about (\d+) images? per observational class", text)
    assert asked is not None and asked.group(1) == "3" and "about about" not in text, text
    learning = window.panels["learning"]
    learning.oracle_combo.setCurrentIndex(learning.oracle_combo.findData("human"))
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS):
        qtbot.mouseClick(learning.buttons["run1"], Qt.MouseButton.LeftButton)
    experiment = window.state.experiment or learning.experiment
    classes = len(np.unique(window.state.dataset.obs_class))
    assert len(experiment.pending) == classes * int(asked.group(1))
