"""Story 5: Algorithms 1 and 2 in the background: plots, table, pause/resume, stop, human oracle."""
from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QPushButton

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.experiments.grating import has_hbar
from viscause_gui.core.method.experiment import MANUAL, QueryBatch
from viscause_gui.core.nets.training import RobustTraining
from viscause_gui.core.runtime.training_process import InChildTraining
from viscause_gui.gui.panels.learning import LearningPanel
from viscause_gui.gui.state import AppState
from viscause_gui.gui.workers import WorkerPool

TIMEOUT = 30000


@pytest.fixture
def panel(qtbot, grating):
    state, workers = AppState(), WorkerPool()
    errors: list[str] = []
    workers.failed.connect(errors.append)
    state.set_dataset(grating[1])
    panel = LearningPanel(state, workers)
    qtbot.addWidget(panel)
    panel.iterations_spin.setValue(2)
    panel.queries_spin.setValue(10)
    panel.epochs_spin.setValue(2)
    panel.retrain_spin.setValue(2)
    panel.errors = errors
    yield panel
    workers.stop_all()
    assert not errors


def run(qtbot, panel: LearningPanel, action) -> str:
    with qtbot.waitSignal(panel.run_finished, timeout=TIMEOUT) as blocker:
        action()
    return blocker.args[0]


def test_truth_oracle_only_for_grating(qtbot, grating):
    state = AppState()
    state.set_dataset(replace(grating[1], meta={}))     # same images, but no generative model known
    panel = LearningPanel(state, WorkerPool())
    qtbot.addWidget(panel)
    assert not panel.oracle_combo.model().item(0).isEnabled()
    assert panel.oracle_combo.currentData() == "model"
    state.set_dataset(grating[1])
    assert panel.oracle_combo.model().item(0).isEnabled()
    assert panel.oracle_combo.currentData() == "truth"


def test_algorithm1_then_two_iterations(qtbot, panel):
    state = panel.state
    models: list[int] = []
    state.model_changed.connect(lambda: models.append(1))
    assert run(qtbot, panel, panel.buttons["run1"].click) == "goal"
    exp = state.experiment
    assert exp is panel.experiment and exp.nets and exp.n_causal_classes == 2
    assert models, "other panels must hear about the trained net"
    assert panel.table.rowCount() == 0 and len(panel.loss_x) == 2       # epochs 2 of the first training
    assert run(qtbot, panel, panel.buttons["run2"].click) == "goal"
    its, merr, _mdist = panel.metrics()
    assert its == [1, 2]
    assert merr == pytest.approx([r.merr for r in exp.history], abs=1e-3)
    x, y = panel.charts.merr_curve.getData()
    assert list(x) == [1, 2] and np.allclose(y, merr)
    assert len(panel.charts.mdist_curve.getData()[0]) == 2
    assert len(panel.loss_x) == 4 and len(panel.charts.train_curve.getData()[0]) == 4
    assert panel.progress.value() == 1000
    assert state.experiment is exp and not panel.running
    assert isinstance(exp.train_fn, InChildTraining) and panel.training_process.is_alive()
    assert panel.charts.merr_plot.getViewBox().viewRange()[0] == [0.5, 2.5]   # the run's iterations, set once


def test_the_run_ends_with_the_same_nets_as_training_in_this_thread(qtbot, panel, grating):
    """The GUI trains in a child process; same seed, same result as the CLI's in-process run."""
    from viscause_gui.core.method.experiment import Experiment
    from viscause_gui.core.experiments.grating import TruthOracle
    from viscause_gui.core.method.driver import drive

    assert run(qtbot, panel, panel.buttons["run2"].click) == "goal"
    exp = panel.experiment
    here = Experiment(exp.data, copy.deepcopy(exp.config))
    for _ in drive(here, TruthOracle(grating[0]), len(exp.history)):
        pass
    assert [r.merr for r in here.history] == [r.merr for r in exp.history]
    for a, b in zip(here.nets[0].state_dict().values(), exp.nets[0].state_dict().values()):
        assert torch.equal(a, b)


def test_pause_and_resume_continue_the_same_run(qtbot, panel):
    panel.iterations_spin.setValue(3)
    panel.epochs_spin.setValue(6)
    panel.retrain_spin.setValue(6)
    panel.buttons["run2"].click()
    qtbot.waitUntil(lambda: len(panel.loss_x) >= 2, timeout=TIMEOUT)
    panel.buttons["pause"].click()
    qtbot.waitUntil(lambda: "Paused" in panel.status.text(), timeout=TIMEOUT)
    assert panel.paused and panel.buttons["resume"].isEnabled()
    epochs, rows = len(panel.loss_x), panel.table.rowCount()
    qtbot.wait(400)
    assert (len(panel.loss_x), panel.table.rowCount()) == (epochs, rows)    # nothing moves while paused
    assert "Paused" in panel.status.text()
    assert run(qtbot, panel, panel.buttons["resume"].click) == "goal"
    assert panel.metrics()[0] == [1, 2, 3]
    assert [r.iteration for r in panel.experiment.history] == [1, 2, 3]


def test_stop_keeps_the_experiment_and_resume_goes_on(qtbot, panel):
    panel.iterations_spin.setValue(3)
    panel.epochs_spin.setValue(20)
    panel.buttons["run2"].click()
    qtbot.waitUntil(lambda: len(panel.loss_x) >= 1, timeout=TIMEOUT)
    assert run(qtbot, panel, panel.buttons["stop"].click) == "stopped"
    assert not panel.running and panel.experiment is not None
    assert panel.state.experiment is panel.experiment
    assert panel.buttons["run1"].isEnabled() and not panel.buttons["stop"].isEnabled()
    assert "Stopped" in panel.status.text()
    assert panel.buttons["resume"].isEnabled()
    assert run(qtbot, panel, panel.buttons["resume"].click) == "goal"
    assert len(panel.experiment.history) == 3 and panel.table.rowCount() == 3
    assert not panel.buttons["resume"].isEnabled()          # the goal is reached: nothing to resume
    assert panel.buttons["step"].isEnabled() and panel.buttons["run2"].isEnabled()


def show_the_queue_tab(qtbot, panel: LearningPanel) -> None:
    """The panel on screen with its Oracle queue tab chosen, as a person clicks it."""
    panel.show()
    qtbot.waitExposed(panel)
    panel.tabs.setCurrentWidget(panel.queue)


def answer_queue_by_hand(qtbot, panel: LearningPanel) -> int:
    """Click Yes for images with an h-bar (the cause), No for the others, until the queue is empty."""
    show_the_queue_tab(qtbot, panel)
    clicks = 0
    while panel.queue.rows:
        assert clicks < 1000, "the queue never empties"
        batch, i = panel.queue.rows[0]
        yes, no = panel.queue.table.cellWidget(0, 3).findChildren(QPushButton)
        (yes if has_hbar(batch.images[i]) else no).click()
        clicks += 1
    return clicks


def test_human_oracle_answers_through_the_queue(qtbot, panel):
    state = panel.state
    panel.oracle_combo.setCurrentIndex(panel.oracle_combo.findData("human"))
    assert run(qtbot, panel, panel.buttons["step"].click) == "human"
    assert len(state.queue) == 1 and state.queue[0].kind == "algorithm1"
    assert state.queue[0] is state.experiment.pending
    assert panel.queue.pending_count() == len(state.queue[0]) == 20    # 4 classes x 5 representatives
    assert not panel.buttons["step"].isEnabled()
    with qtbot.waitSignal(panel.run_finished, timeout=TIMEOUT) as blocker:
        assert answer_queue_by_hand(qtbot, panel) == 20     # the loop goes on by itself
    assert blocker.args == ["human"]
    exp = panel.experiment
    assert exp.n_causal_classes == 2 and exp.nets
    assert [b.kind for b in state.queue] == ["algorithm2"] and panel.queue.pending_count() == 10
    with qtbot.waitSignal(panel.run_finished, timeout=TIMEOUT) as blocker:
        answer_queue_by_hand(qtbot, panel)
    assert blocker.args == ["goal"]
    assert list(state.queue) == [] and panel.metrics()[0] == [1]
    assert exp.history[0].iteration == 1


def test_unusable_answers_leave_the_batch_in_the_queue(qtbot, panel):
    state = panel.state
    panel.oracle_combo.setCurrentIndex(panel.oracle_combo.findData("human"))
    assert run(qtbot, panel, panel.buttons["step"].click) == "human"
    batch = state.queue[0]
    show_the_queue_tab(qtbot, panel)
    for _ in range(len(batch)):                           # "No" to everything: one causal class only
        panel.queue.table.cellWidget(0, 3).findChildren(QPushButton)[1].click()
    assert "Could not use the answers" in panel.queue.status.text()
    assert list(state.queue) == [batch] and batch.answers is None and panel.queue.pending_count() == 20
    with qtbot.waitSignal(panel.run_finished, timeout=TIMEOUT) as blocker:
        answer_queue_by_hand(qtbot, panel)                # now properly: the loop goes on
    assert blocker.args == ["human"] and state.queue[0].kind == "algorithm2"


def test_manual_answers_join_the_causal_data(qtbot, panel):
    assert run(qtbot, panel, panel.buttons["run1"].click) == "goal"
    exp = panel.experiment
    model = exp.manipulator_model()
    images = panel.state.dataset.images[:2]
    batch = QueryBatch.manual(model.manipulate(images, np.array([0, 1]), 0.3), images, [0, 1], [0, 1], 1)
    panel.state.queue.add(batch)
    before = len(exp.query_labels)
    answer_queue_by_hand(qtbot, panel)
    assert len(exp.query_labels) == before + 2 and list(panel.state.queue) == []


def test_a_failing_run_reports_the_error(qtbot, panel, monkeypatch):
    from viscause_gui.core.method import experiment as experiment_module

    def broken(self):
        raise experiment_module.ExperimentError("the oracle is on holiday")

    monkeypatch.setattr(experiment_module.Experiment, "_algorithm1_queries", broken)
    assert run(qtbot, panel, panel.buttons["run1"].click) == "error"
    assert "the oracle is on holiday" in panel.status.text()
    assert panel.errors == ["learning: the oracle is on holiday"]
    panel.errors.clear()
    assert panel.buttons["run1"].isEnabled() and not panel.running


def test_data_without_observations_gets_one_clear_message(qtbot, grating):
    state = AppState()
    state.set_dataset(Dataset(images=grating[1].images[:50], name="bare"))
    panel = LearningPanel(state, WorkerPool())
    qtbot.addWidget(panel)
    panel.buttons["run1"].click()
    assert not panel.running
    assert "Algorithm 1 needs observational data" in panel.status.text()


@pytest.mark.slow
def test_samples_of_t_give_observational_classes_first(qtbot, grating):
    data = grating[1]
    state, workers = AppState(), WorkerPool()
    state.set_dataset(Dataset(images=data.images, t=data.t, name="t only"))
    panel = LearningPanel(state, workers)
    qtbot.addWidget(panel)
    panel.epochs_spin.setValue(2)
    panel.queries_spin.setValue(5)
    changed: list[int] = []
    state.classes_changed.connect(lambda: changed.append(1))
    with qtbot.waitSignal(panel.run_finished, timeout=TIMEOUT) as blocker:
        panel.run_algorithm1()               # the model oracle is trained first, in the worker
    workers.stop_all()
    # a weak model oracle may give every class the same answer: then one clear message
    assert blocker.args[0] == "goal" or "causal" in panel.status.text()
    assert state.dataset.obs_class is not None and len(state.dataset.obs_class) == len(data)
    assert changed


def test_stop_while_estimating_observational_classes(qtbot, grating):
    data = grating[1]
    state, workers = AppState(), WorkerPool()
    state.set_dataset(Dataset(images=data.images, t=data.t, name="t only"))
    panel = LearningPanel(state, workers)
    qtbot.addWidget(panel)
    panel.run_algorithm1()
    assert "estimating observational classes" in panel.progress.format()
    qtbot.wait(300)
    with qtbot.waitSignal(panel.run_finished, timeout=TIMEOUT) as blocker:
        panel.stop()
    assert blocker.args == ["stopped"]
    assert not panel.running and panel.experiment is None
    workers.stop_all()


@pytest.mark.slow
def test_digit_mode_uses_the_mnist_recipe_and_a_cnn_oracle(qtbot):
    """Grey labelled images (here scikit-learn's 8x8 digits): T = 'shows digit d'."""
    from viscause_gui.core.experiments.registry import load_builtin

    digits = load_builtin("digits8x8")
    state, workers = AppState(), WorkerPool()
    state.set_dataset(digits.subset(np.arange(600)))
    panel = LearningPanel(state, workers)
    qtbot.addWidget(panel)
    assert panel.label_spin.isEnabled()
    panel.label_spin.setValue(3)
    panel.oracle_combo.setCurrentIndex(panel.oracle_combo.findData("model"))
    panel.iterations_spin.setValue(1)
    panel.queries_spin.setValue(10)
    panel.epochs_spin.setValue(1)
    panel.retrain_spin.setValue(1)
    seen: list[str] = []          # what a person reads on the bar and under it as the run goes
    panel.progress.valueChanged.connect(lambda _v: seen.append(f"{panel.progress.text()} | {panel.status.text()}"))
    assert run(qtbot, panel, panel.run_algorithm2) in ("goal", "done")
    exp = panel.experiment
    assert isinstance(exp.train_fn, InChildTraining)             # trained in the child process…
    assert isinstance(exp.train_fn.routine, RobustTraining)  # …with the MNIST recipe
    assert exp.config.augment_shifts == 0 and exp.config.ensemble == 3
    # the manifold manipulator: its generative model trained first, in the child process too
    assert exp.config.manipulator == "manifold" and exp.generative is not None
    assert isinstance(exp.generative_train_fn, InChildTraining)
    assert exp.batches[-1].images.shape == (10, 8, 8)
    assert any("model oracle: model 4," in line for line in seen)          # three nets, then its check
    generative = [line for line in seen if "generative model, epoch" in line]
    others = [line for line in generative if "Training the generative model" not in line]
    assert generative and not others, others
    assert any("net 1/3" in line and "Training the causal net" in line for line in seen)
    assert np.array_equal(exp.causal_labels, (digits.labels[:600] == 3).astype(int))
    assert len(exp.history) == 1
    workers.stop_all()


def test_loss_axes_move_in_steps_not_on_every_epoch(qtbot, panel):
    """Each axis change redraws its cached picture: the ranges grow to 1, 2, 2.5, 5 x 10^k."""
    from viscause_gui.gui.widgets.plots import nice_ceiling

    assert [nice_ceiling(v) for v in (0.3, 0.69, 1, 1.2, 2.1, 3, 7, 11, 26, 51, 101)] == \
        [0.5, 1, 1, 2, 2.5, 5, 10, 20, 50, 100, 200]
    assert nice_ceiling(0) == nice_ceiling(float("nan")) == 1.0
    assert run(qtbot, panel, panel.buttons["run1"].click) == "goal"
    panel.charts.finish_drawing()
    (x0, x1), (y0, y1) = panel.charts.loss_plot.getViewBox().viewRange()
    assert (x0, x1) == (0, nice_ceiling(len(panel.loss_x)))
    assert (y0, y1) == (0, nice_ceiling(max(panel.train_losses + panel.val_losses)))


def test_a_hidden_queue_tab_builds_its_rows_when_shown(qtbot, panel):
    """A batch of hundreds of images (a shared batch) must not build (and later drop) a row of buttons
    per image on the GUI thread while the Oracle queue tab is not shown; the rows are there once a
    person opens the tab."""
    panel.show()
    qtbot.waitExposed(panel)
    panel.tabs.setCurrentIndex(0)
    images = panel.state.dataset.images[:300]
    panel.state.queue.add(QueryBatch(MANUAL, 1, images, np.arange(300)))
    assert panel.queue.pending_count() == 300 and panel.queue.table.rowCount() == 0
    assert panel.tabs.tabText(1) == "Oracle queue (300)"
    panel.tabs.setCurrentWidget(panel.queue)
    assert panel.queue.table.rowCount() == 300 and panel.queue.table.cellWidget(299, 3) is not None
