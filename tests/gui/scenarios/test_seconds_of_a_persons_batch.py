"""A person answers a batch of Algorithm 2 after a long look: the history's "seconds" of that
iteration count the machine's work, not the time the person took."""
from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt

import viscause_gui.core.method.experiment as experiment_module
from viscause_gui.gui.panels.labelling import LabellingPanel
from viscause_gui.gui.panels.learning import LearningPanel
from viscause_gui.gui.state import AppState
from viscause_gui.gui.workers import WorkerPool

pytestmark = pytest.mark.slow      # a whole iteration of Algorithm 2, trained

WAIT_MS = 30_000


class _Clock:
    """perf_counter for the experiment, plus the minutes we pretend the person spent looking."""

    def __init__(self):
        self.idle = 0.0

    def perf_counter(self) -> float:
        return time.perf_counter() + self.idle


def test_the_history_counts_no_time_spent_by_the_person(qtbot, grating, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(experiment_module, "time", clock)
    state, workers = AppState(), WorkerPool()
    state.set_dataset(grating[1])
    panel, labelling = LearningPanel(state, workers), LabellingPanel(state, workers)
    qtbot.addWidget(panel)
    qtbot.addWidget(labelling)
    panel.epochs_spin.setValue(2)
    panel.retrain_spin.setValue(1)
    panel.queries_spin.setValue(3)
    panel.oracle_combo.setCurrentIndex(panel.oracle_combo.findData("truth"))
    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS):
        qtbot.mouseClick(panel.buttons["run1"], Qt.MouseButton.LeftButton)
    panel.oracle_combo.setCurrentIndex(panel.oracle_combo.findData("human"))
    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(panel.buttons["step"], Qt.MouseButton.LeftButton)
    assert blocker.args == ["human"] and len(state.queue[0]) == 3
    clock.idle += 600                                   # ten minutes looking at the first image
    for _ in range(3):
        qtbot.keyClick(labelling, Qt.Key.Key_Y)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=WAIT_MS)
    seconds = float(panel.table.item(0, 4).text())
    assert 0 < seconds < 60, seconds
    workers.stop_all()
