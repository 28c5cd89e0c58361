"""The Learning panel's 'Queries by' choice reaches Algorithm 2 (issue 13, active choice of queries)."""
from __future__ import annotations

from PySide6.QtCore import Qt

from viscause_gui.core.method import experiment as experiment_module
from viscause_gui.gui.panels.learning import LearningPanel
from viscause_gui.gui.state import AppState
from viscause_gui.gui.workers import WorkerPool

TIMEOUT = 60000


def test_queries_by_active_is_chosen_in_the_combo_and_used_by_algorithm2(qtbot, grating, monkeypatch):
    calls: list[int] = []
    real = experiment_module.choose_active

    def recording(*args, **kwargs):
        calls.append(args[3])                 # queries
        return real(*args, **kwargs)

    monkeypatch.setattr(experiment_module, "choose_active", recording)
    state, workers = AppState(), WorkerPool()
    errors: list[str] = []
    workers.failed.connect(errors.append)
    state.set_dataset(grating[1])
    panel = LearningPanel(state, workers)
    qtbot.addWidget(panel)
    combo = panel.queries_by_combo
    assert combo.currentData() == "active" and "paper" in combo.toolTip() and "active" in combo.toolTip()
    panel.show()
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Up)      # as a person picks another entry with the keyboard ...
    assert combo.currentData() == "random"
    qtbot.keyClick(combo, Qt.Key.Key_Down)    # ... and back
    assert combo.currentData() == "active"
    panel.iterations_spin.setValue(1)
    panel.queries_spin.setValue(4)
    panel.epochs_spin.setValue(2)
    panel.retrain_spin.setValue(1)
    with qtbot.waitSignal(panel.run_finished, timeout=TIMEOUT) as blocker:
        panel.buttons["run2"].click()
    assert blocker.args[0] == "goal", errors
    exp = state.experiment
    assert exp.config.queries_by == "active"
    assert calls == [4]
    batch = [b for b in exp.batches if b.kind == "algorithm2"]
    assert len(batch) == 1 and len(batch[0]) == 4
    assert panel.settings_for_session()["queries_by"] == "active"
    # a restored panel shows the choice again; back to random, the next iteration draws at random
    other = LearningPanel(AppState(), WorkerPool())
    qtbot.addWidget(other)
    other.restore_settings(panel.settings_for_session())
    assert other.queries_by_combo.currentData() == "active"
    before = {k: v for k, v in panel.settings_for_session().items() if k != "queries_by"}
    other.restore_settings(before)            # a session saved before the choice existed was run at random
    assert other.queries_by_combo.currentData() == "random"
    combo.setCurrentIndex(combo.findData("random"))
    with qtbot.waitSignal(panel.run_finished, timeout=TIMEOUT) as blocker:
        panel.buttons["run2"].click()
    assert blocker.args[0] == "goal", errors
    assert state.experiment.config.queries_by == "random" and calls == [4]
    assert len(state.experiment.history) == 2
    workers.stop_all()
    assert not errors
