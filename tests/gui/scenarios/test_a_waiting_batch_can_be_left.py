"""A person asked to answer a batch can stop waiting (Stop), and can let another oracle answer it
(switch the oracle, Run Algorithm 2): the experiment is kept either way."""
from __future__ import annotations

from PySide6.QtCore import Qt

from viscause_gui.gui.panels.learning import LearningPanel
from viscause_gui.gui.state import AppState
from viscause_gui.gui.workers import WorkerPool

WAIT_MS = 30_000


def _click(qtbot, panel: LearningPanel, key: str) -> None:
    assert panel.run_actions[key].isEnabled(), key
    qtbot.mouseClick(panel.buttons[key], Qt.MouseButton.LeftButton)


def test_stop_leaves_a_waiting_batch_and_another_oracle_answers_it(qtbot, grating):
    state, workers = AppState(), WorkerPool()
    state.set_dataset(grating[1])
    panel = LearningPanel(state, workers)
    qtbot.addWidget(panel)
    panel.show()
    panel.epochs_spin.setValue(2)
    panel.oracle_combo.setCurrentIndex(panel.oracle_combo.findData("human"))
    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS) as blocker:
        _click(qtbot, panel, "run1")
    assert blocker.args == ["human"] and len(state.queue) == 1
    exp, batch = panel.experiment, panel.experiment.pending
    assert panel.run_actions["stop"].isEnabled() and not panel.run_actions["run2"].isEnabled()
    _click(qtbot, panel, "stop")
    assert len(state.queue) == 0 and panel.experiment is exp and exp.pending is batch
    assert "experiment is kept" in panel.status.text() and panel.run_actions["resume"].isEnabled()
    panel.oracle_combo.setCurrentIndex(panel.oracle_combo.findData("truth"))
    panel.iterations_spin.setValue(1)
    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS) as blocker:
        _click(qtbot, panel, "run2")
    assert blocker.args == ["goal"] and panel.experiment is exp and len(exp.history) == 1
    assert exp.batches[0] is batch and batch.answers is not None      # the truth answered that batch
    workers.stop_all()


def test_switching_the_oracle_frees_a_waiting_batch(qtbot, grating):
    state, workers = AppState(), WorkerPool()
    state.set_dataset(grating[1])
    panel = LearningPanel(state, workers)
    qtbot.addWidget(panel)
    panel.epochs_spin.setValue(2)
    panel.oracle_combo.setCurrentIndex(panel.oracle_combo.findData("human"))
    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS):
        panel.run_algorithm1()
    assert not panel.run_actions["run2"].isEnabled()
    panel.oracle_combo.setCurrentIndex(panel.oracle_combo.findData("model"))
    assert panel.run_actions["run2"].isEnabled() and panel.run_actions["step"].isEnabled()
    workers.stop_all()


def test_a_smaller_q_cuts_a_waiting_batch_nobody_answered_yet(qtbot, grating):
    from viscause_gui.gui.panels.labelling import LabellingPanel

    state, workers = AppState(), WorkerPool()
    state.set_dataset(grating[1])
    panel = LearningPanel(state, workers)
    labelling = LabellingPanel(state, workers)
    qtbot.addWidget(panel)
    qtbot.addWidget(labelling)
    panel.epochs_spin.setValue(2)
    panel.retrain_spin.setValue(1)
    panel.oracle_combo.setCurrentIndex(panel.oracle_combo.findData("truth"))
    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS):
        panel.run_algorithm1()                         # Algorithm 1 by the truth; then a person goes on
    panel.oracle_combo.setCurrentIndex(panel.oracle_combo.findData("human"))
    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS) as blocker:
        panel.step()
    assert blocker.args == ["human"] and len(state.queue[0]) == 100
    panel.queries_spin.setValue(6)                     # the person asks for fewer before answering
    batch = state.queue[0]
    assert len(batch) == 6 and panel.experiment.pending is batch and len(labelling.items) == 6
    qtbot.keyClick(labelling, Qt.Key.Key_Y)
    panel.queries_spin.setValue(3)                     # answered in part: kept as it is
    assert len(state.queue[0]) == 6 and "next batch" in panel.status.text()
    workers.stop_all()
