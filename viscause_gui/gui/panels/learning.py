"""The Learning panel: run Algorithm 1 and Algorithm 2 in the background, step by step or N
iterations, with progress, live loss / MErr / MDist plots, the iteration table and the oracle queue.

The experiment runs in one WorkerPool generator worker (key "learning", the body is
controllers.learning.learning_job). While it runs, the worker owns the live Experiment:
`state.experiment` then holds a frozen snapshot (own nets) that other panels may read, refreshed
after every training phase; when the worker ends, `state.experiment` is the live experiment again.
With the human oracle the run stops at a query batch and puts it in `state.queue`; when the
batch is answered there, the panel goes on by itself, and answered manual batches join the
causal data before the next training.
"""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDoubleSpinBox, QFileDialog, QGridLayout, QHBoxLayout,
                               QHeaderView, QInputDialog, QLabel, QMessageBox, QSizePolicy, QSpinBox,
                               QSplitter, QTableWidget, QTableWidgetItem, QTabWidget, QToolButton, QVBoxLayout, QWidget)

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.experiments.registry import recipe_for
from viscause_gui.core.method.driver import BatchAnswered, Goal, NeedsAnswers, Snapshot
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig, IterationRecord, TrainEvent
from viscause_gui.core.method.limits import LEARNING_LIMITS
from viscause_gui.core.method.observe import ObservedClasses, observational_problem
from viscause_gui.core.method.oracles import ModelOracle
from viscause_gui.core.runtime.foreground import event_handled
from viscause_gui.core.runtime.training_process import TrainingProcess, shared_training_process
from viscause_gui.core.method.plugged_oracles import OracleLoadError
from viscause_gui.core.method.query_choice import DESCRIPTIONS as QUERY_CHOICE_DESCRIPTIONS
from viscause_gui.core.method.query_choice import DEFAULT_CHOICE, QUERY_CHOICES, RANDOM
from viscause_gui.core.method.recipe import DataFacts
from viscause_gui.gui.controllers.learning import (Created, Failure, ModelOracleProgress, OracleReady, PluggedChoice,
                                                   RunSettings, StopFlag, learning_job, run_fraction)
from viscause_gui.gui.controllers.recipe import STANDARD, RecipeModel, RecipeShown, config_lines
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.actions import if_alive, make_action
from viscause_gui.gui.widgets.colors import PEN_COLORS
from viscause_gui.gui.widgets.plots import line_plot, set_ranges_stepwise
from viscause_gui.gui.widgets.queue_view import QueueView
from viscause_gui.gui.widgets.recipe_box import RecipeBox
from viscause_gui.gui.widgets.staged import ProgressBar, StagedUpdates
from viscause_gui.gui.workers import WorkerPool

ORACLES = (("truth", "Truth (the exact generative model)"), ("model", "Model oracle (a trained classifier)"),
           ("human", "Human (you answer in the queue)"), ("python", "Python function…"),
           ("model_file", "Model file (torch/ONNX)…"))
PLUGGED = ("python", "model_file")      # oracle choices that ask for a file (core.method.plugged_oracles)
MODEL_FILES = "Models (*.pt2 *.pt *.pth *.ts *.onnx);;All files (*)"
KEY = "learning"


class LearningPanel(QWidget):
    """Controls, progress, live plots, iteration table and oracle queue of the experiment."""

    run_finished = Signal(str)       # "goal" | "done" | "human" | "stopped" | "error"

    def __init__(self, state: AppState, workers: WorkerPool, parent: QWidget | None = None):
        super().__init__(parent)
        self.state, self.workers = state, workers
        self.experiment: Experiment | None = None     # the live experiment (owned by the worker while it runs)
        self._snapshot: Experiment | None = None
        self._worker = None
        self._stop_flag = StopFlag()
        self._run_data: Dataset | None = None
        self._goal: Goal = None
        self._goal_base = 0
        self._waiting_for_human = False
        self._model_oracle: tuple[int, int | None, ModelOracle] | None = None
        self._oracle_model, self._oracle_epoch = 1, 0      # which of the model oracle's models trains
        self._generative_shown = False
        self._classes_from_label: int | None = None    # the label the data set's classes were derived from
        self._shown_problem: str | None = None          # why no experiment can start on the data, as shown
        self.training_process: TrainingProcess | None = shared_training_process()   # None: train in the worker
        self.loss_x: list[int] = []
        self._plot_timer = QTimer(self)
        self._plot_timer.setSingleShot(True)
        self._plot_timer.setInterval(200)
        self._plot_timer.timeout.connect(self._draw_losses)
        self.train_losses: list[float] = []
        self.val_losses: list[float] = []
        self.recipe = RecipeModel(self)       # the recipe of the next new experiment (shown in the Recipe tab)
        # an iteration's end redraws the MErr and the MDist plot in two turns of the event loop, not one
        self._staged = StagedUpdates(parent=self)
        self._build()
        state.dataset_changed.connect(self._dataset_changed)
        state.queue.changed.connect(self._queue_changed)
        state.model_changed.connect(self._adopt_experiment)
        self._dataset_changed()

    # ----- layout -----
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self._settings())
        layout.addLayout(self._button_row())
        self.progress = ProgressBar()         # its setValue does not repaint synchronously
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("idle")
        self.status = QLabel()
        self.status.setWordWrap(True)
        # a longer message wraps instead of widening the dock: a resize would repaint every plot
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # two lines always: a message of two lines after one of one resized the plots below, and
        # three plots redrawn from scratch stalled the GUI ~50 ms mid-run
        self.status.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.status.setMinimumHeight(2 * self.status.fontMetrics().lineSpacing() + 2)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self._plots())
        split.addWidget(self._tabs())
        split.setSizes([250, 250])
        layout.addWidget(split, 1)

    def _settings(self) -> QGridLayout:
        grid = QGridLayout()
        self.oracle_combo = QComboBox()
        for key, text in ORACLES:
            self.oracle_combo.addItem(text, key)
        self.oracle_combo.currentIndexChanged.connect(lambda _i: self._oracle_changed())
        self.oracle_combo.activated.connect(self._oracle_activated)
        self._plugged: dict[str, PluggedChoice] = {}
        self._oracle_key = self.oracle_combo.currentData()
        self.plugged_label = QLabel()
        self.plugged_label.setWordWrap(True)
        self.plugged_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.plugged_label.setVisible(False)
        self.oracle_combo.setToolTip("Who answers P(T=1 | man(I)): the exact generative model (where an "
                                     "experiment knows it, e.g. GRATING), a classifier standing in for "
                                     "people, or you")
        self.label_spin = _spin("label", 7, "With a labelled data set and no observed T: T = 1 for images "
                                             "with this label (e.g. the digit d)")
        self.label_spin.valueChanged.connect(self._label_changed)
        self.iterations_spin = _spin("iterations", 5, "Algorithm 2 iterations to run with 'Run Algorithm 2'")
        self.queries_spin = _spin("queries", 100, "Queries Q: images manipulated and sent to the oracle per iteration")
        self.queries_spin.valueChanged.connect(self._queries_changed)
        self.queries_by_combo = QComboBox()
        for key in QUERY_CHOICES:
            self.queries_by_combo.addItem(key, key)
        self.queries_by_combo.setCurrentIndex(self.queries_by_combo.findData(DEFAULT_CHOICE))
        self.queries_by_combo.setToolTip("Queries by: how Algorithm 2 chooses the Q images it asks about.<br>"
                                         + "<br>".join(f"• {QUERY_CHOICE_DESCRIPTIONS[k]}" for k in QUERY_CHOICES))
        self.queries_by_combo.setAccessibleName("Queries by")
        queries_cell = QWidget()
        queries_row = QHBoxLayout(queries_cell)
        queries_row.setContentsMargins(0, 0, 0, 0)
        queries_row.addWidget(self.queries_spin, 1)
        queries_row.addWidget(self.queries_by_combo)
        self.alpha_spin = QDoubleSpinBox()
        self.alpha_spin.setRange(LEARNING_LIMITS["alpha"].lo, LEARNING_LIMITS["alpha"].hi)
        self.alpha_spin.setSingleStep(0.05)
        self.alpha_spin.setValue(0.5)
        self.alpha_spin.setToolTip("α of the manipulator: 0 = reach the target class at any distance, 1 = stay close")
        self.seed_spin = _spin("seed", 0, "Seed of the experiment (same seed, same run)")
        self.epochs_spin = _spin("epochs", 30, "Epochs of the first training of the causal net")
        self.retrain_spin = _spin("retrain_epochs", 5, "Epochs of each later retraining")
        cells = [("Oracle", self.oracle_combo), ("T = 1 for label", self.label_spin),
                 ("Iterations N", self.iterations_spin), ("Queries Q", self.queries_spin),
                 ("α", self.alpha_spin), ("Seed", self.seed_spin),
                 ("Epochs", self.epochs_spin), ("Retrain epochs", self.retrain_spin)]
        self._label_caption = QLabel(cells[1][0])
        for n, (caption, widget) in enumerate(cells):
            label = self._label_caption if n == 1 else QLabel(caption)
            label.setBuddy(widget)
            grid.addWidget(label, n // 2, 2 * (n % 2))
            grid.addWidget(queries_cell if widget is self.queries_spin else widget, n // 2, 2 * (n % 2) + 1)
        grid.addWidget(self.plugged_label, len(cells) // 2, 0, 1, 4)
        self.recipe_summary = QLabel()
        self.recipe_summary.setWordWrap(True)
        self.recipe_summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.recipe_summary.setTextFormat(Qt.TextFormat.RichText)
        self.recipe_summary.setToolTip("The recipe of the next new experiment: the causal net, the manipulator's "
                                       "search and the invariances; 'Recipe…' shows why and lets you change it")
        self.recipe_summary.linkActivated.connect(lambda _link: self.show_recipe_tab())
        grid.addWidget(self.recipe_summary, len(cells) // 2 + 1, 0, 1, 4)
        self.epochs_spin.valueChanged.connect(self.recipe.set_epochs)
        return grid

    # ----- an oracle a person plugs in -----
    def _oracle_changed(self) -> None:
        key = self.oracle_combo.currentData()
        choice = self._plugged.get(key)
        self.plugged_label.setVisible(key in PLUGGED)
        if choice is None:
            self.plugged_label.setText("Pick this oracle in the list again to choose its file.")
        else:
            positive = f" · P(T=1) = P(class {choice.positive_class})" if key == "model_file" else ""
            self.plugged_label.setText(f"Oracle: {choice.spec}{positive}")
            self.plugged_label.setToolTip(choice.spec)
        self._update_buttons()

    def _oracle_activated(self, index: int) -> None:
        """A person picked an oracle: a plugged one asks for its file (again, when picked again)."""
        key = self.oracle_combo.itemData(index)
        if key in PLUGGED:
            choice = self._ask_plugged(key)
            if choice is not None:
                self._plugged[key] = choice
            elif key not in self._plugged:                  # cancelled, nothing chosen before: back
                self.oracle_combo.setCurrentIndex(max(0, self.oracle_combo.findData(self._oracle_key)))
                return
        self._oracle_key = key
        self._oracle_changed()

    def _ask_plugged(self, key: str) -> PluggedChoice | None:
        """The file (and function or positive class) of a plugged oracle, loaded once to check it."""
        if key == "python":
            path, _ = QFileDialog.getOpenFileName(self, "Python oracle: the file with the function", "",
                                                  "Python files (*.py)")
            if not path:
                return None
            name, ok = QInputDialog.getText(self, "Python oracle", f"The function in {Path(path).name} that "
                                            "answers P(T=1) for a batch of images:", text="answer")
            if not ok or not name.strip():
                return None
            choice = PluggedChoice(f"python:{path}:{name.strip()}")
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Model oracle: a classifier saved with torch.export, "
                                                  "TorchScript or ONNX", "", MODEL_FILES)
            if not path:
                return None
            positive, ok = QInputDialog.getInt(self, "Model oracle", "The class whose probability is P(T=1):",
                                               1, 0, 9999)
            if not ok:
                return None
            choice = PluggedChoice(f"{'onnx' if path.lower().endswith('.onnx') else 'torch'}:{path}", positive)
        data = self.state.dataset
        try:
            choice.load(None if data is None else data.shape)
        except OracleLoadError as exc:
            self._show_error(str(exc))
            return None
        self.status.setText(f"The oracle is {choice.spec}.")
        return choice

    def _button_row(self) -> QHBoxLayout:
        """One QAction per command (the main window may also put them in a menu: `run_actions`)."""
        row = QHBoxLayout()
        specs = [("run1", "Run Algorithm 1", "F4", "Start a new experiment: ask the oracle about representatives "
                  "of each observational class and train the causal net", self.run_algorithm1),
                 ("run2", "Run Algorithm 2", "F5", "Run N iterations of Algorithm 2 (starts with Algorithm 1 "
                  "when there is no experiment yet)", self.run_algorithm2),
                 ("step", "Step", "F10", "Run one iteration of Algorithm 2", self.step),
                 ("pause", "Pause", "F6", "Pause between two steps; the experiment keeps its state", self.pause),
                 ("resume", "Resume", "F7", "Go on from where the run paused or stopped", self.resume),
                 ("stop", "Stop", "Shift+F5", "Stop the run (the experiment is kept; Resume goes on)", self.stop)]
        self.buttons: dict[str, QToolButton] = {}
        self.run_actions: dict[str, QAction] = {}
        for key, text, shortcut, tip, slot in specs:
            action = make_action(self, text, tip, shortcut, slot)
            self.addAction(action)
            button = QToolButton()
            button.setDefaultAction(action)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            row.addWidget(button)
            self.buttons[key], self.run_actions[key] = button, action
        return row

    def _plots(self) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = line_plot("Training loss", "loss", "epoch (all iterations)")
        self.train_curve = self.loss_plot.plot([], [], pen=PEN_COLORS["train"], name="train")
        self.val_curve = self.loss_plot.plot([], [], pen=PEN_COLORS["val"], name="validation")
        self.merr_plot = line_plot("Manip. error", "MErr", "iteration", legend=False)
        self.merr_plot.setYRange(0, 1)
        self.merr_curve = self.merr_plot.plot([], [], pen=PEN_COLORS["merr"], symbol="o", symbolSize=6,
                                              symbolBrush=PEN_COLORS["merr"], name="MErr")
        self.mdist_plot = line_plot("Manip. distance", "MDist", "iteration", legend=False)
        self.mdist_curve = self.mdist_plot.plot([], [], pen=PEN_COLORS["mdist"], symbol="o", symbolSize=6,
                                                symbolBrush=PEN_COLORS["mdist"], name="MDist")
        self.loss_plot.setToolTip("Loss of the causal net per epoch, every training of the run one after another")
        self.merr_plot.setToolTip("MErr per Algorithm 2 iteration: the share of manipulated images whose causal "
                                  "class (by the oracle's answer) is not the target class.<br>With <i>active</i> "
                                  "queries it is measured on the manipulations the nets doubt most (those are "
                                  "the ones asked), so it reads higher than the error of a typical manipulation")
        self.mdist_plot.setToolTip("MDist per Algorithm 2 iteration: the mean distance from an image to its "
                                   "manipulation (pixels flipped for binary images, L2 for grey ones)")
        for plot in (self.loss_plot, self.merr_plot, self.mdist_plot):
            row.addWidget(plot)
        return box

    def _tabs(self) -> QTabWidget:
        self.tabs = QTabWidget()
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["iteration", "MErr", "MDist", "n train", "seconds"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.queue = QueueView(self.state)
        self.recipe_box = RecipeBox(self.recipe)
        self.tabs.addTab(self.table, "Iterations")
        self.tabs.addTab(self.queue, "Oracle queue")
        self.tabs.addTab(self.recipe_box, "Recipe")
        self.tabs.setTabToolTip(2, "The recipe of the next new experiment, and for your own data the choices you "
                                   "may change")
        return self.tabs

    # ----- the recipe -----
    def show_recipe(self, shown: RecipeShown) -> None:
        """The recipe model's view: the Recipe tab, the summary line and, for a data recipe, its epochs."""
        self.recipe_box.show_recipe(shown)
        link = "<a href='recipe'>Recipe…</a>"
        self.recipe_summary.setText(f"{link} {html.escape(shown.summary())}")
        if shown.epochs is not None:
            for spin, value in ((self.epochs_spin, shown.epochs), (self.retrain_spin, shown.retrain_epochs)):
                spin.blockSignals(True)
                spin.setValue(value)
                spin.blockSignals(False)

    def show_recipe_tab(self) -> None:
        self.tabs.setCurrentWidget(self.recipe_box)

    def _choose_recipe(self) -> None:
        """A person's own data: the recipe chosen from its images; other data: its experiment's, to read."""
        data = self.state.dataset
        if data is not None and self.state.own_data:
            self.recipe.use_data(DataFacts.of(data.images, data.is_binary))
            return
        label = self.label_spin.value() if self.label_spin.isEnabled() else None
        builtin = None if data is None else recipe_for(data, label)
        config = RunSettings.for_data(data, "model", label, builtin).config
        title = STANDARD if builtin is None else f"{builtin.describe[:1].upper()}{builtin.describe[1:]}"
        lines = [] if data is None else config_lines(config, data.is_binary)
        hint = ("Built-in data, lessons and sessions saved before recipes run with this one. A data set you open with "
                "File → Open file or Open folder gets a recipe chosen from its images, which you can change here.")
        self.recipe.use_builtin(title, [*lines, hint])

    # ----- public actions -----
    @property
    def running(self) -> bool:
        return self._worker is not None

    @property
    def paused(self) -> bool:
        return self._worker is not None and self._worker.is_paused

    def run_algorithm1(self) -> None:
        """A new experiment: Algorithm 1, then the first training of the causal net."""
        exp = self.experiment
        if exp is not None and (exp.history or exp.nets) and not self.confirm_new_experiment(exp):
            self.status.setText("The experiment is kept.")
            return
        self._start(None, new=True)

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

    def run_algorithm2(self) -> None:
        """N more iterations of Algorithm 2 (Algorithm 1 first if there is no experiment)."""
        self._start(self._history_len() + self.iterations_spin.value(), new=self.experiment is None)

    def step(self) -> None:
        """One more iteration of Algorithm 2."""
        self._start(self._history_len() + 1, new=self.experiment is None)

    SESSION_SPINS = ("iterations", "queries", "seed", "epochs", "retrain", "label")
    MAX_SAVED_LOSSES = 20_000

    def settings_for_session(self) -> dict:
        """What a session keeps of this panel: the run settings and the loss curve."""
        spins = {name: getattr(self, f"{name}_spin").value() for name in self.SESSION_SPINS}
        recipe = {} if self.recipe.to_json() is None else {"recipe": self.recipe.to_json()}
        return {**spins, "alpha": self.alpha_spin.value(), "queries_by": self.queries_by_combo.currentData(),
                "train_losses": [float(v) for v in self.train_losses[-self.MAX_SAVED_LOSSES:]],
                "val_losses": [float(v) for v in self.val_losses[-self.MAX_SAVED_LOSSES:]], **recipe}

    def restore_settings(self, saved: object) -> None:
        """Put back what settings_for_session kept (anything malformed is left at its default)."""
        if not isinstance(saved, dict):
            return
        data = self.state.dataset
        if "recipe" in saved and data is not None:     # before the spins: the retrain epochs saved are the person's
            self.recipe.restore(saved["recipe"], DataFacts.of(data.images, data.is_binary))
        for name in self.SESSION_SPINS:
            value = saved.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                getattr(self, f"{name}_spin").setValue(value)
        if isinstance(saved.get("alpha"), (int, float)):
            self.alpha_spin.setValue(float(saved["alpha"]))
        queries_by = saved.get("queries_by", RANDOM)     # a session saved before the choice existed: random
        if queries_by in QUERY_CHOICES:
            self.queries_by_combo.setCurrentIndex(self.queries_by_combo.findData(queries_by))
        train, val = saved.get("train_losses"), saved.get("val_losses")
        if isinstance(train, list) and isinstance(val, list) and len(train) == len(val) and all(
                isinstance(v, (int, float)) for v in train + val):
            self.train_losses[:], self.val_losses[:] = [float(v) for v in train], [float(v) for v in val]
            self.loss_x[:] = list(range(1, len(train) + 1))
            self._draw_losses()

    @property
    def goal(self) -> tuple[Goal, int]:
        """(the run's goal, the history length it started from): what a session saves."""
        return self._goal, self._goal_base

    def wait_for_answers(self, goal: Goal) -> None:
        """A restored experiment's pending batch waits for a person: choose the human oracle; once
        the batch is answered the run goes on towards `goal` (when it lies ahead)."""
        exp = self.experiment
        index = self.oracle_combo.findData("human")
        if index >= 0:
            self.oracle_combo.setCurrentIndex(index)
        n = len(exp.history)
        self._goal = goal if isinstance(goal, int) and goal > n else (
            None if exp.pending.kind == "algorithm1" else n + 1)
        self._goal_base = n
        self._waiting_for_human = True
        self._update_buttons()

    def pause(self) -> None:
        if self._worker is not None and not self._worker.is_paused:
            self._worker.pause()
            self.status.setText("Pausing after the current step…")

    def resume(self) -> None:
        """Resume a paused run, or go on towards the last goal after Stop."""
        if self._worker is not None:
            self._worker.resume()
        elif self._stopped_short():
            self._start(self._goal, new=False, keep_base=True)

    def _stopped_short(self) -> bool:
        """The last run was stopped before its goal: Resume goes on towards it."""
        exp = self.experiment
        if exp is None or self.running or self._waiting_for_human:
            return False
        return not exp.nets if self._goal is None else self._history_len() < self._goal

    def stop(self) -> None:
        """Stop the run; or, while a batch waits for a person, stop waiting (the experiment stays)."""
        if self._worker is not None:
            self._stop_flag.stopped = True
            self.workers.cancel(KEY)
            self.status.setText("Stopping…")
            self._update_buttons()
        elif self._waiting_for_human:
            self.stop_waiting()

    def stop_waiting(self) -> None:
        """Take the waiting batch out of the oracle queue; the experiment keeps it, and Resume or
        Run Algorithm 2 asks the chosen oracle for it again."""
        exp = self.experiment
        self._waiting_for_human = False
        if exp is not None and exp.pending is not None:
            self.state.queue.remove(exp.pending)
        self.status.setText("Stopped waiting for answers. The experiment is kept: Resume (F7) or Run Algorithm 2 "
                            "asks the chosen oracle for that batch again.")
        self.progress.setFormat("stopped")
        self._update_buttons()

    def shutdown(self) -> None:
        """The window closes: stop the run and end the training child at once (even mid-epoch)."""
        self._stop_flag.stopped = True
        if self.training_process is not None:
            self.training_process.close()

    # ----- starting a run -----
    def _history_len(self) -> int:
        return 0 if self.experiment is None else len(self.experiment.history)

    def next_config(self) -> ExperimentConfig:
        """The settings the next Run Algorithm 1 starts with (F1 help names its numbers)."""
        return self._settings_now().config

    def _settings_now(self) -> RunSettings:
        label = self.label_spin.value() if self.label_spin.isEnabled() else None
        data = self.state.dataset
        recipe = None if data is None else recipe_for(data, label)
        key = self.oracle_combo.currentData()
        oracle = "plugged" if key in PLUGGED else key
        run = {"queries": self.queries_spin.value(), "alpha": self.alpha_spin.value(),
               "queries_by": self.queries_by_combo.currentData(), "seed": self.seed_spin.value()}
        if self.recipe.editable:          # a person's own data: the recipe `viscause run DATA` chooses, or theirs
            config = self.recipe.experiment_config(retrain_epochs=self.retrain_spin.value(), **run)
            return RunSettings(config, oracle, label, recipe, self._plugged.get(key),
                               observe=self.recipe.recipe.observe_recipe())
        return RunSettings.for_data(data, oracle, label, recipe, self._plugged.get(key), **run,
                                    epochs=self.epochs_spin.value(), retrain_epochs=self.retrain_spin.value())

    def _queries_changed(self, queries: int) -> None:
        """A new Q applies to the next batch; a batch waiting for a person and not answered yet
        is cut to it now."""
        exp = self.experiment
        if not self._waiting_for_human or exp is None or exp.pending is None:
            return
        old = exp.pending
        if self.state.queue.answered_any(old):
            self.status.setText(f"Q = {queries} applies from the next batch (this one is answered in part).")
            return
        new = exp.shrink_pending(queries)
        if new is not None:
            self.state.queue.replace(old, new)
            self.status.setText(f"The waiting batch now has {len(new)} image(s) (Q = {queries}).")

    def _label_changed(self, label: int) -> None:
        if self.label_spin.isEnabled():
            self.state.set_positive_label(label)
            if not self.recipe.editable:
                self._choose_recipe()            # a built-in recipe may depend on the label (digit mode)
            if self.experiment is not None and self._classes_from_label not in (None, label):
                self.status.setText(f"T = 1 for label {label} applies from the next Run Algorithm 1; the current "
                                    f"experiment asks about label {self._classes_from_label}.")
            elif self.experiment is None and not self.running:
                self._show_data_problem(label)

    def _forget_classes_of_another_label(self, label: int | None) -> None:
        """Classes derived from an earlier choice of the label that counts as T = 1 go: the next
        experiment derives them from the label chosen now."""
        data = self.state.dataset
        if self._classes_from_label is None or self._classes_from_label == label or data is None:
            return
        data.obs_class = data.t = data.p_obs = None
        self._classes_from_label = None
        self.state.classes_changed.emit()

    def _start(self, goal: Goal, new: bool, keep_base: bool = False) -> None:
        data = self.state.dataset
        if self._worker is not None:
            return
        if new:
            self._forget_classes_of_another_label(self.label_spin.value() if self.label_spin.isEnabled() else None)
        settings = self._settings_now()
        problem = observational_problem(data, settings.positive_label)
        if problem is None and settings.oracle == "truth" and self.state.truth is None:
            problem = ("The truth oracle needs the data set's exact generative model (e.g. GRATING); choose the "
                       "model oracle or answer yourself.")
        if problem is None and settings.oracle == "plugged" and settings.plugged is None:
            problem = "Choose the oracle's file first: pick it in the Oracle list again."
        if problem is not None:
            self._show_error(problem)
            return
        if new:
            self._drop_pending()
            self._reset_experiment()
        else:
            self._prepare_continue(settings)
        self._goal = goal
        if not keep_base or new:
            self._goal_base = self._history_len()
        self._waiting_for_human = False
        self._run_data = data
        self._launch(data, settings, goal)

    def _prepare_continue(self, settings: RunSettings) -> None:
        """The GUI owns the experiment here: apply the settings that may change between runs."""
        exp = self.experiment
        exp.config.queries = settings.config.queries
        exp.config.queries_by = settings.config.queries_by
        exp.config.alpha = settings.config.alpha
        exp.config.retrain_epochs = settings.config.retrain_epochs
        self._apply_manual_answers()
        if exp.pending is not None and self.state.queue.contains(exp.pending) and settings.oracle != "human":
            self.state.queue.remove(exp.pending)         # the automatic oracle answers it now
        if exp.nets:
            self._snapshot = exp.snapshot()           # other panels let go of the live nets
            self.state.set_experiment(self._snapshot)

    def _launch(self, data: Dataset, settings: RunSettings, goal: Goal) -> None:
        oracle = None
        if self._model_oracle is not None and self._model_oracle[:2] == (id(data), settings.positive_label):
            oracle = self._model_oracle[2]
        self._run_settings = settings
        self._stop_flag = StopFlag()
        estimating = self.experiment is None and data.obs_class is None and data.t is not None
        worker = self.workers.start(KEY, learning_job, data, self.experiment, settings, self.state.truth,
                                    oracle, goal, self._stop_flag, self.training_process, on_yield=self._on_event,
                                    on_return=self._on_return,
                                    on_error=self._on_error)
        if worker is None:          # the window is closing
            return
        self._worker = worker
        worker.finished.connect(lambda w=worker: self._ended("stopped", w))
        worker.paused.connect(self._on_paused)
        worker.resumed.connect(self._on_resumed)
        self.status.setText("Running…")
        self._oracle_model, self._oracle_epoch = 1, 0
        self.progress.setFormat("estimating observational classes from the samples of T…" if estimating
                                else "starting…")
        self._update_buttons()

    # ----- events from the worker (GUI thread) -----
    @if_alive
    def _on_event(self, event) -> None:
        event_handled()
        if isinstance(event, TrainEvent):
            self._on_train(event)
        elif isinstance(event, BatchAnswered):
            self._on_answered(event)
        elif isinstance(event, Snapshot):
            self._snapshot = event.experiment
            self.state.set_experiment(event.experiment)
        elif isinstance(event, NeedsAnswers):
            self.status.setText(f"Waiting for your answers: {event.size} image(s) in the oracle queue.")
        elif isinstance(event, Created):
            self.experiment = event.experiment
        elif isinstance(event, ObservedClasses):
            self._on_observed(event)
        elif isinstance(event, ModelOracleProgress):
            self._on_oracle_progress(event.progress)
        elif isinstance(event, OracleReady):
            self._model_oracle = (id(self._run_data), self._run_settings.positive_label, event.oracle)

    def _on_oracle_progress(self, p) -> None:
        """The model oracle trains its models one after another: say which, and fill the bar per model."""
        if p.epoch <= self._oracle_epoch:
            self._oracle_model += 1
        self._oracle_epoch = p.epoch
        self.progress.setFormat(f"training the model oracle: model {self._oracle_model}, epoch {p.epoch}/{p.epochs}")
        self.progress.setValue(int(1000 * p.epoch / max(p.epochs, 1)))

    def _on_train(self, event: TrainEvent) -> None:
        p = event.progress
        if event.model == "generative":          # the manifold manipulator's model of the images, first
            self.status.setText("Training the generative model of the images (the manipulator searches on the "
                                "data manifold it learns)…")
            self.progress.setFormat(f"iteration {event.iteration}: generative model, epoch {p.epoch}/{p.epochs}")
            self.progress.setValue(int(1000 * p.epoch / max(p.epochs, 1)))
            self._generative_shown = True
            return
        if self._generative_shown:
            self._generative_shown = False
            self.status.setText("Training the causal net…")
        self.loss_x.append(len(self.loss_x) + 1)
        self.train_losses.append(p.train_loss)
        self.val_losses.append(p.val_loss)
        if not self._plot_timer.isActive():        # redraw the curves at most 5 times a second
            self._plot_timer.start()
        net = f" net {event.member + 1}/{event.members}," if event.members > 1 else ""
        self.progress.setFormat(f"iteration {event.iteration}:{net} epoch {p.epoch}/{p.epochs}, "
                                f"val loss {p.val_loss:.3f}")
        self.progress.setValue(int(1000 * run_fraction(event, self._goal, self._goal_base)))

    def _draw_losses(self) -> None:
        self.train_curve.setData(self.loss_x, self.train_losses)
        self.val_curve.setData(self.loss_x, self.val_losses)
        top = max([v for v in self.train_losses + self.val_losses if np.isfinite(v)], default=1.0)
        set_ranges_stepwise(self.loss_plot, (0, len(self.loss_x)), (0, top))

    def _on_answered(self, event: BatchAnswered) -> None:
        if event.record is None:
            self.status.setText("Algorithm 1 answered: causal classes found; training the causal net…")
            return
        self._add_record(event.record)
        span = max((self._goal or 0) - self._goal_base, 1)
        self.progress.setValue(int(1000 * min((self.table.rowCount() - self._goal_base) / span, 1.0)))
        self.status.setText(f"Iteration {event.record.iteration}: MErr {event.record.merr:.3f}, "
                            f"MDist {event.record.mdist:.2f}")

    def _add_record(self, record: IterationRecord) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        values = [str(record.iteration), f"{record.merr:.3f}", f"{record.mdist:.2f}",
                  str(record.n_train), f"{record.seconds:.1f}"]
        for col, text in enumerate(values):
            item = QTableWidgetItem(text)
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, col, item)
        self.table.scrollToBottom()
        if self._worker is None:
            self._redraw_metrics()
        else:                      # mid-run: each plot's repaint in a turn of its own
            self._staged.add("merr", self._draw_merr)
            self._staged.add("mdist", self._draw_mdist)

    def _sync_history(self) -> None:
        """Rows for history records the GUI thread made itself (answers given in the queue)."""
        if self._worker is None and self.experiment is not None:
            for record in self.experiment.history[self.table.rowCount():]:
                self._add_record(record)

    def _redraw_metrics(self) -> None:
        self._staged.clear()
        self._draw_merr()
        self._draw_mdist()

    def _draw_merr(self) -> None:
        its, merr, _ = self.metrics()
        self.merr_curve.setData(its, merr)
        self.merr_plot.setXRange(0.5, self._last_iteration(its) + 0.5, padding=0)

    def _draw_mdist(self) -> None:
        its, _, mdist = self.metrics()
        self.mdist_curve.setData(its, mdist)
        set_ranges_stepwise(self.mdist_plot, None, (0, max(mdist, default=1.0)))
        self.mdist_plot.setXRange(0.5, self._last_iteration(its) + 0.5, padding=0)

    def _last_iteration(self, its: list[int]) -> int:
        return max(its + [self._goal or 0, 1])   # the run's last iteration: the axis is set once per run

    def metrics(self) -> tuple[list[int], list[float], list[float]]:
        """(iterations, MErr, MDist) as shown in the table and plots."""
        rows = range(self.table.rowCount())
        return ([int(self.table.item(r, 0).text()) for r in rows],
                [float(self.table.item(r, 1).text()) for r in rows],
                [float(self.table.item(r, 2).text()) for r in rows])

    def _on_observed(self, found: ObservedClasses) -> None:
        """The worker estimated observational classes: show them on the loaded data set too."""
        data = self.state.dataset
        if data is not self._run_data:
            return
        found.apply_to(data)
        self._classes_from_label = self._run_settings.positive_label
        self.state.classes_changed.emit()

    @if_alive
    def _on_paused(self) -> None:
        exp_it = self._snapshot.iteration if self._snapshot is not None else 0
        self.status.setText(f"Paused (iteration {exp_it}). Resume (F7) goes on from here.")
        self.progress.setFormat("paused")
        self._update_buttons()

    @if_alive
    def _on_resumed(self) -> None:
        self.status.setText("Running…")
        self._update_buttons()

    @if_alive
    def _on_return(self, result) -> None:
        if isinstance(result, Failure):
            self._on_error(result.message)
        else:
            self._ended(result)

    @if_alive
    def _on_error(self, exc: BaseException | str) -> None:
        self._ended("error")
        message = str(exc)
        self._show_error(f"The experiment stopped with an error: {message}")
        self.workers.failed.emit(f"learning: {message}")

    @if_alive
    def _ended(self, reason: str, worker=None) -> None:
        """The worker is gone (returned, aborted or failed): the GUI owns the experiment again."""
        if self._worker is None or (worker is not None and worker is not self._worker):
            return
        self._worker = None
        self._plot_timer.stop()
        self._draw_losses()
        self._staged.flush()            # the run is over: its plots show every iteration now
        if self.state.dataset is not self._run_data:
            self._update_buttons()
            return
        exp = self.experiment
        if reason == "human" and exp is not None and exp.pending is not None:
            self._waiting_for_human = True
        if exp is not None:
            self._snapshot = None
            self.state.set_experiment(exp)
        self._apply_manual_answers()
        if reason == "human" and exp is not None and exp.pending is not None:
            self.state.queue.add(exp.pending)
            self.tabs.setCurrentWidget(self.queue)
        self._describe_end(reason)
        self._update_buttons()
        self.run_finished.emit(reason)

    def _describe_end(self, reason: str) -> None:
        texts = {"goal": "Done.", "done": "Done: the experiment has no iterations left.",
                 "stopped": "Stopped. Resume (F7) goes on; Run Algorithm 1 starts over."}
        if reason == "human":
            n = sum(len(b) for b in self.state.queue.waiting())
            self.status.setText(f"Waiting for the oracle: {n} image(s) in the queue (Oracle queue tab).")
            self.progress.setFormat("waiting for your answers")
        elif reason in texts:
            self.status.setText(texts[reason] if self.experiment is not None or reason != "stopped" else "Stopped.")
            self.progress.setFormat(reason if reason != "goal" else "done")
            if reason == "goal":
                self.progress.setValue(1000)

    def _show_error(self, message: str) -> None:
        self.status.setText(f"<span style='color:#c0392b'>{message}</span>")
        self.progress.setFormat("error")

    # ----- the oracle queue -----
    def _queue_changed(self) -> None:
        n = self.queue.pending_count()
        self.tabs.setTabText(1, f"Oracle queue ({n})" if n else "Oracle queue")
        if self._worker is not None:
            return
        self._apply_manual_answers()
        exp = self.experiment
        self._sync_history()                # a person may just have answered an Algorithm 2 batch
        if self._waiting_for_human and exp is not None and exp.pending is None:
            self._waiting_for_human = False
            self._start(self._goal, new=False, keep_base=True)
        elif self._waiting_for_human and exp is not None and not any(b is exp.pending for b in self.state.queue):
            self.state.queue.add(exp.pending)   # Algorithm 1 asks more representatives (its premise check)

    def _apply_manual_answers(self) -> None:
        """Answered manual batches join the causal data (only while no worker runs)."""
        exp = self.experiment
        if self._worker is not None or exp is None or exp.causal_levels is None:
            return
        done = self.state.queue.answered_manual()
        added = sum(int((exp.add_answers(b.images, b.answers) >= 0).sum()) for b in done)
        if done:
            self.state.queue.remove(*done)
            self.status.setText(f"{added} answered image(s) join the causal data at the next training.")

    # ----- data set and experiment changes -----
    def _dataset_changed(self) -> None:
        if self._worker is not None:
            self._stop_flag.stopped = True
            self.workers.cancel(KEY)
        self._reset_experiment()
        data = self.state.dataset
        labels_only = data is not None and data.labels is not None and all(
            getattr(data, k) is None for k in ("t", "p_obs", "obs_class"))
        self.label_spin.setEnabled(labels_only)
        self.label_spin.setVisible(labels_only)
        self._label_caption.setVisible(labels_only)
        self._classes_from_label = None
        self.state.set_positive_label(self.label_spin.value() if labels_only else None)
        self._enable_oracles()
        self._choose_recipe()
        self._shown_problem = None
        self.status.setText("")
        self._show_data_problem(self.label_spin.value() if labels_only else None)
        self._update_buttons()

    def _show_data_problem(self, label: int | None) -> None:
        """Why no experiment can start on the data with this label, or nothing once it can (a label the
        data set lacks was chosen, then one it has)."""
        data = self.state.dataset
        problem = observational_problem(data, label)
        if problem is not None and data is not None:
            self._show_error(problem)
        elif self._shown_problem is not None and self._shown_problem in self.status.text():
            self.status.setText("")
            self.progress.setFormat("idle")
        self._shown_problem = problem

    def _drop_pending(self) -> None:
        """The old experiment's batch no longer waits for anyone."""
        exp = self.experiment
        if exp is not None and exp.pending is not None and self.state.queue.contains(exp.pending):
            self.state.queue.remove(exp.pending)

    def _reset_experiment(self) -> None:
        self.experiment = None
        self._snapshot = None
        self._waiting_for_human = False
        self._goal, self._goal_base = None, 0
        self.loss_x.clear()
        self.train_losses.clear()
        self.val_losses.clear()
        self.train_curve.setData([], [])
        self.val_curve.setData([], [])
        self.table.setRowCount(0)
        self._redraw_metrics()
        self.progress.setValue(0)
        self.progress.setFormat("idle")

    def _adopt_experiment(self) -> None:
        """An experiment set by someone else (e.g. a loaded session) becomes the live one."""
        exp = self.state.experiment
        if self._worker is not None or exp is None or exp is self.experiment or exp is self._snapshot:
            return
        self._reset_experiment()
        self.experiment = exp
        for record in exp.history:
            self._add_record(record)
        self._update_buttons()

    def _enable_oracles(self) -> None:
        has_truth = self.state.truth is not None
        item = self.oracle_combo.model().item(0)
        item.setEnabled(has_truth)
        item.setToolTip("" if has_truth else "Only for data whose exact generative model an experiment knows "
                        "(e.g. GRATING)")
        if has_truth:
            self.oracle_combo.setCurrentIndex(0)
        elif self.oracle_combo.currentIndex() == 0:
            self.oracle_combo.setCurrentIndex(1)

    def _update_buttons(self) -> None:
        running, paused = self.running, self.paused
        idle_with_data = not running and self.state.dataset is not None
        self.run_actions["run1"].setEnabled(idle_with_data)
        # a batch waits for a person: another oracle may answer it instead
        free = not self._waiting_for_human or self.oracle_combo.currentData() != "human"
        self.run_actions["run2"].setEnabled(idle_with_data and free)
        self.run_actions["step"].setEnabled(idle_with_data and free)
        self.run_actions["pause"].setEnabled(running and not paused)
        self.run_actions["resume"].setEnabled(paused or self._stopped_short())
        self.run_actions["stop"].setEnabled(running or self._waiting_for_human)
        for w in (self.oracle_combo, self.seed_spin, self.epochs_spin):
            w.setEnabled(not running)
        self.recipe_box.set_enabled(not running)


def _spin(key: str, value: int, tip: str) -> QSpinBox:
    """A spin box for the learning setting `key`, its range from LEARNING_LIMITS (lessons read the same)."""
    spin = QSpinBox()
    spin.setRange(int(LEARNING_LIMITS[key].lo), int(LEARNING_LIMITS[key].hi))
    spin.setValue(value)
    spin.setToolTip(tip)
    spin.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return spin
