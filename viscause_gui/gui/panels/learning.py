"""The Learning panel: the view of a learning run (controllers.run.RunController) and of its settings
(models.run_form.RunForm). It shows the controls, progress, live plots, the iteration table, the oracle
queue and the recipe, and forwards a person's clicks; the run's state machine lives in the controller,
the run itself in a WorkerPool generator worker (key "learning", body controllers.learning.learning_job).
"""
from __future__ import annotations

import functools
import html
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QMessageBox, QSizePolicy, QSplitter, QTabWidget,
                               QToolButton, QVBoxLayout, QWidget)

from viscause_gui.core.method.experiment import Experiment, ExperimentConfig, IterationRecord
from viscause_gui.core.method.plugged_oracles import OracleLoadError
from viscause_gui.core.runtime.training_process import shared_training_process
from viscause_gui.core.system.foreground import event_handled
from viscause_gui.gui.controllers.learning import learning_job
from viscause_gui.gui.controllers.recipe import RecipeModel, RecipeShown
from viscause_gui.gui.controllers.run import RunController
from viscause_gui.gui.controllers.run_phase import Controls
from viscause_gui.gui.models.run_form import PLUGGED, PluggedChoice, RunForm
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.actions import make_action, while_alive
from viscause_gui.gui.widgets.plugged_oracle_dialog import ask_plugged_oracle, plugged_text
from viscause_gui.gui.widgets.queue_view import QueueView
from viscause_gui.gui.widgets.recipe_box import RecipeBox
from viscause_gui.gui.widgets.run_charts import RunCharts
from viscause_gui.gui.widgets.run_form_box import RunFormBox
from viscause_gui.gui.widgets.staged import ProgressBar
from viscause_gui.gui.workers import WorkerPool

KEY = "learning"
COMMANDS = (("run1", "Run Algorithm 1", "F4", "Start a new experiment: ask the oracle about representatives of each "
             "observational class and train the causal net"),
            ("run2", "Run Algorithm 2", "F5", "Run N iterations of Algorithm 2 (starts with Algorithm 1 when there "
             "is no experiment yet)"),
            ("step", "Step", "F10", "Run one iteration of Algorithm 2"),
            ("pause", "Pause", "F6", "Pause between two steps; the experiment keeps its state"),
            ("resume", "Resume", "F7", "Go on from where the run paused or stopped"),
            ("stop", "Stop", "Shift+F5", "Stop the run (the experiment is kept; Resume goes on)"))


class LearningPanel(QWidget):
    """Controls, progress, live plots, iteration table and oracle queue of the experiment."""

    run_finished = Signal(str)       # "goal" | "done" | "human" | "stopped" | "error"
    phase_changed = Signal(str)      # what the run does, in the status bar's words ("" when idle)

    def __init__(self, state: AppState, workers: WorkerPool, parent: QWidget | None = None):
        super().__init__(parent)
        self.state, self.workers = state, workers
        self.form = RunForm()
        self._oracle_before = self._oracle_now = self.form.oracle
        self._showing_recipe = False
        self.recipe = RecipeModel(self)       # the recipe of the next new experiment (shown in the Recipe tab)
        self.run = RunController(state, self.form, self.recipe, self, _WorkerEngine(self),
                                 shared_training_process())
        self._build()
        self.form.subscribe(self._form_changed)
        state.dataset_changed.connect(self._dataset_changed)
        state.queue.changed.connect(self._queue_changed)
        state.model_changed.connect(self.run.adopt_experiment)
        self._dataset_changed()

    # ----- what others read and do (sessions, lessons, the main window) -----
    @property
    def experiment(self) -> Experiment | None:
        return self.run.experiment

    @experiment.setter
    def experiment(self, exp: Experiment | None) -> None:
        self.run.experiment = exp

    @property
    def running(self) -> bool:
        return self.run.running

    @property
    def paused(self) -> bool:
        return self.run.paused

    @property
    def goal(self):
        return self.run.goal

    @property
    def training_process(self):
        return self.run.training_process

    @property
    def train_losses(self) -> list[float]:
        return self.run.progress.train_losses

    @property
    def val_losses(self) -> list[float]:
        return self.run.progress.val_losses

    @property
    def loss_x(self) -> list[int]:
        return self.charts.loss_x

    def run_algorithm1(self) -> None:
        self.run.run_algorithm1()

    def run_algorithm2(self) -> None:
        self.run.run_algorithm2()

    def step(self) -> None:
        self.run.step()

    def pause(self) -> None:
        self.run.pause()

    def resume(self) -> None:
        self.run.resume()

    def stop(self) -> None:
        self.run.stop()

    def stop_waiting(self) -> None:
        self.run.stop_waiting()

    def wait_for_answers(self, goal) -> None:
        self.run.wait_for_answers(goal)

    def shutdown(self) -> None:
        self.run.shutdown()

    def settings_for_session(self) -> dict:
        return self.run.settings_for_session()

    def restore_settings(self, saved: object, oracle: object = None) -> None:
        self.run.restore_settings(saved, oracle, self.settings_box.enabled_oracles())

    def metrics(self) -> tuple[list[int], list[float], list[float]]:
        return self.charts.metrics()

    def next_config(self) -> ExperimentConfig:
        """The settings the next Run Algorithm 1 starts with (F1 help names its numbers)."""
        return self.run.choices.settings_now().config

    # ----- layout -----
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        grid = QGridLayout()
        box = self.settings_box = RunFormBox(self.form, grid)
        box.oracle_combo.activated.connect(self._oracle_activated)
        self.oracle_combo, self.queries_by_combo = box.oracle_combo, box.queries_by_combo
        self.alpha_spin = box.alpha_spin
        self.label_spin, self.iterations_spin, self.queries_spin = (box.spins[k] for k in ("label", "iterations",
                                                                                           "queries"))
        self.seed_spin, self.epochs_spin, self.retrain_spin = (box.spins[k] for k in ("seed", "epochs",
                                                                                      "retrain_epochs"))
        self._add_oracle_and_recipe_lines(grid, self.settings_box.rows)
        layout.addLayout(grid)
        layout.addLayout(self._button_row())
        self.progress = ProgressBar()         # its setValue does not repaint synchronously
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("idle")
        self.status = _wrapping_label()
        # two lines always: a message of two lines after one of one resized the plots below, and
        # three plots redrawn from scratch stalled the GUI ~50 ms mid-run
        self.status.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.status.setMinimumHeight(2 * self.status.fontMetrics().lineSpacing() + 2)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.charts = RunCharts(self.run.progress.last_iteration)
        self.table = self.charts.table
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.charts)
        split.addWidget(self._tabs())
        split.setSizes([250, 250])
        layout.addWidget(split, 1)

    def _add_oracle_and_recipe_lines(self, grid: QGridLayout, row: int) -> None:
        self.plugged_label = _wrapping_label()
        self.plugged_label.setVisible(False)
        grid.addWidget(self.plugged_label, row, 0, 1, 4)
        self.recipe_summary = _wrapping_label()
        self.recipe_summary.setTextFormat(Qt.TextFormat.RichText)
        self.recipe_summary.setToolTip("The recipe of the next new experiment: the causal net, the manipulator's "
                                       "search and the invariances; 'Recipe…' shows why and lets you change it")
        self.recipe_summary.linkActivated.connect(lambda _link: self.show_recipe_tab())
        grid.addWidget(self.recipe_summary, row + 1, 0, 1, 4)

    def _button_row(self) -> QHBoxLayout:
        """One QAction per command (the main window may also put them in a menu: `run_actions`)."""
        row = QHBoxLayout()
        self.buttons: dict[str, QToolButton] = {}
        self.run_actions: dict[str, QAction] = {}
        for key, text, shortcut, tip in COMMANDS:
            action = make_action(self, text, tip, shortcut, getattr(self, {"run1": "run_algorithm1",
                                                                          "run2": "run_algorithm2"}.get(key, key)))
            self.addAction(action)
            button = QToolButton()
            button.setDefaultAction(action)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            row.addWidget(button)
            self.buttons[key], self.run_actions[key] = button, action
        return row

    def _tabs(self) -> QTabWidget:
        self.tabs = QTabWidget()
        self.queue = QueueView(self.state)
        self.recipe_box = RecipeBox(self.recipe)
        self.tabs.addTab(self.table, "Iterations")
        self.tabs.addTab(self.queue, "Oracle queue")
        self.tabs.addTab(self.recipe_box, "Recipe")
        self.tabs.setTabToolTip(2, "The recipe of the next new experiment, and for your own data the choices you "
                                   "may change")
        return self.tabs

    # ----- a person's changes -----
    def _form_changed(self, changed: set[str]) -> None:
        if "oracle" in changed:
            self._oracle_before, self._oracle_now = self._oracle_now, self.form.oracle
            self._show_plugged()
            self.run.refresh_controls()
        if "queries" in changed:
            self.run.queries_changed()
        if "label" in changed:
            self.run.label_changed()
        if "epochs" in changed and not self._showing_recipe:      # a person's epochs change the recipe
            self.recipe.set_epochs(self.form.epochs)

    def _show_plugged(self) -> None:
        key = self.form.oracle
        choice = self.run.choices.plugged.get(key)
        self.plugged_label.setVisible(key in PLUGGED)
        if choice is None:
            self.plugged_label.setText("Pick this oracle in the list again to choose its file.")
        else:
            self.plugged_label.setText(plugged_text(choice, key, self.state.dataset))
            self.plugged_label.setToolTip(choice.spec)

    def _oracle_activated(self, index: int) -> None:
        """A person picked an oracle: a plugged one asks for its file (again, when picked again)."""
        key = self.settings_box.oracle_combo.itemData(index)
        if key not in PLUGGED:
            return
        choice = self._ask_plugged(key)
        if choice is not None:
            self.run.choices.plugged[key] = choice
            self._show_plugged()
        elif key not in self.run.choices.plugged:                  # cancelled, nothing chosen before: back
            self.form.set(oracle=self._oracle_before)

    def _ask_plugged(self, key: str) -> PluggedChoice | None:
        """The file (and function or positive class) of a plugged oracle, loaded once to check it."""
        data = self.state.dataset
        try:
            choice = ask_plugged_oracle(self, key, None if data is None else data.shape,
                                        ("0", "1") if data is None else data.outcome_names)
        except OracleLoadError as exc:
            self.show_error(str(exc))
            return None
        if choice is not None:
            self.status.setText(f"The oracle is {choice.spec}.")
        return choice

    def _dataset_changed(self) -> None:
        self.settings_box.allow_truth(self.state.truth is not None)
        self.run.dataset_changed()

    def _queue_changed(self) -> None:
        n = self.queue.pending_count()
        self.tabs.setTabText(1, f"Oracle queue ({n})" if n else "Oracle queue")
        self.run.queue_changed()

    # ----- the recipe (RecipeModel's view) -----
    def show_recipe(self, shown: RecipeShown) -> None:
        """The recipe model's view: the Recipe tab, the summary line and, for a data recipe, its epochs."""
        self.recipe_box.show_recipe(shown)
        self.recipe_summary.setText(f"<a href='recipe'>Recipe…</a> {html.escape(shown.summary())}")
        if shown.epochs is not None:
            self._showing_recipe = True
            try:
                self.form.set(epochs=shown.epochs, retrain_epochs=shown.retrain_epochs)
            finally:
                self._showing_recipe = False

    def show_recipe_tab(self) -> None:
        self.tabs.setCurrentWidget(self.recipe_box)

    # ----- RunView: what the controller shows -----
    def show_status(self, text: str) -> None:
        self.status.setText(text)

    def show_error(self, text: str) -> None:
        self.status.setText(f"<span style='color:#c0392b'>{text}</span>")
        self.progress.setFormat("error")

    def show_progress(self, text: str | None = None, value: int | None = None) -> None:
        if text is not None:
            self.progress.setFormat(text)
        if value is not None:
            self.progress.setValue(value)

    def show_controls(self, controls: Controls) -> None:
        for key, action in self.run_actions.items():
            action.setEnabled(getattr(controls, key))
        self.settings_box.set_enabled(controls.settings)
        self.recipe_box.set_enabled(controls.settings)

    def show_phase(self, phase: str, text: str) -> None:
        self.phase_changed.emit(text)

    def add_record(self, record: IterationRecord, running: bool) -> None:
        self.charts.add_record(record, running)

    def clear_records(self) -> None:
        self.charts.clear_records()

    def show_losses(self, train: list[float], val: list[float], now: bool) -> None:
        self.charts.show_losses(train, val, now)

    def finish_drawing(self) -> None:
        self.charts.finish_drawing()

    def show_queue(self) -> None:
        self.tabs.setCurrentWidget(self.queue)

    def show_label_choice(self, shown: bool) -> None:
        self.settings_box.show_label_choice(shown)

    def run_ended(self, reason: str) -> None:
        self.run_finished.emit(reason)

    def confirm_new_experiment(self, exp: Experiment) -> bool:
        """Ask before a new experiment replaces a trained one (tests replace it). Offscreen (no one
        to answer) it goes on, as the person asked."""
        if QGuiApplication.platformName() in ("offscreen", "minimal"):
            return True
        answer = QMessageBox.question(
            self, "Start a new experiment?",
            f"Run Algorithm 1 starts a new experiment. The current one ({len(exp.history)} iteration(s) of "
            "Algorithm 2) is replaced; save the session first (Ctrl+S) to keep it.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes


class _WorkerEngine:
    """RunEngine on the app's WorkerPool: the run in a generator worker, its callbacks on the GUI thread
    (none once the panel is gone)."""

    def __init__(self, panel: LearningPanel):
        self.panel = panel

    def start(self, job_args: tuple, on_event: Callable, on_return: Callable, on_error: Callable,
              on_finished: Callable, on_paused: Callable, on_resumed: Callable):
        panel = self.panel
        alive = functools.partial(while_alive, panel)   # a worker's result may arrive after the window closed

        def event(e) -> None:
            event_handled()
            on_event(e)

        worker = panel.workers.start(KEY, learning_job, *job_args, on_yield=alive(event), on_return=alive(on_return),
                                     on_error=alive(on_error))
        if worker is not None:
            worker.finished.connect(lambda w=worker: alive(on_finished)("stopped", w))
            worker.paused.connect(alive(on_paused))
            worker.resumed.connect(alive(on_resumed))
        return worker

    def cancel(self) -> None:
        self.panel.workers.cancel(KEY)

    def report_failure(self, message: str) -> None:
        self.panel.workers.failed.emit(message)


def _wrapping_label() -> QLabel:
    """A label whose longer text wraps instead of widening the dock (a resize would repaint every plot)."""
    label = QLabel()
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return label
