"""Colored MNIST in the app: a built-in data set shown in colour; the shape oracle (Truth) answers
Algorithm 1, and the Classes panel shows two causal classes at 0.25 and 0.75 (the shape) with
the colour as the spurious class S."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

pytestmark = pytest.mark.slow      # Algorithm 1 and a training on Colored MNIST

WAIT_MS = 120_000


def test_algorithm1_with_the_shape_oracle_finds_the_shape(qtbot, shown_window):
    window = shown_window
    window.opener.open_builtin("colored_mnist")
    qtbot.waitUntil(lambda: window.state.dataset.name == "colored_mnist", timeout=WAIT_MS)
    shown = " ".join(label.text() for label in window.statusBar().findChildren(QLabel))
    assert window.state.dataset.channels == 2 and "14 × 14 × 2" in shown
    learning, classes = window.panels["learning"], window.panels["classes"]
    truth = learning.oracle_combo.findData("truth")
    assert learning.oracle_combo.model().item(truth).isEnabled()
    learning.oracle_combo.setCurrentIndex(truth)
    learning.epochs_spin.setValue(1)
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS):
        qtbot.mouseClick(learning.buttons["run1"], Qt.MouseButton.LeftButton)
    assert window.state.experiment is not None
    levels = window.state.experiment.causal_levels            # the mean answers: a 0-4 / a 5-9 shape
    assert len(levels) == 2 and abs(levels[0] - 0.25) <= 0.1 and abs(levels[1] - 0.75) <= 0.1
    classes.refresh()
    assert classes.causal_table.rowCount() == 2
    assert [classes.causal_table.item(r, 2).text() for r in range(2)] == [f"{v:.2f}" for v in levels]
    # observational classes by P(T=1|I): (0-4, red), (5-9, red), (0-4, green), (5-9, green): C is the shape
    assert [classes.obs_table.item(r, 4).text() for r in range(4)] == ["0", "1", "0", "1"]
