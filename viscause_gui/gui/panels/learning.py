"""Story 5: run Algorithm 1 and Algorithm 2 in the background, step by step or N iterations.

The experiment runs in one WorkerPool generator worker (key "learning") through
`core.views.drive`. While it runs, the worker owns the live Experiment: `state.experiment`
then holds a frozen snapshot (own nets) that other panels may read, refreshed after every
training phase; when the worker ends, `state.experiment` is the live experiment again.

The oracle queue protocol (the labelling panel of the next issue plugs into it):
- `state.human_queue` holds QueryBatch objects waiting for answers; `state.queries_changed`
  is emitted whenever it changes.
- With the human oracle the worker stops at a query batch (Experiment.pending), which is
  appended to the queue. Batches of kind "manual" come from the manipulator panel.
- Answer a whole batch with `answer_query_batch(state, batch, answers)` (P(T=1) per image,
  NaN = no answer). The learning panel then goes on by itself: a pending batch answered
  resumes the run, manual answers join the causal data before the next training.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDoubleSpinBox, QGridLayout,
                               QHBoxLayout, QHeaderView, QLabel, QProgressBar, QPushButton, QSizePolicy,
                               QSpinBox, QSplitter, QTableWidget, QTableWidgetItem, QTabWidget,
                               QToolButton, QVBoxLayout, QWidget)

from viscause_gui.core.experiments import mnist
from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.runtime.foreground import event_handled, paced
from viscause_gui.core.runtime.training_process import InChildTraining, TrainingProcess, shared_training_process
from viscause_gui.core.nets.models import TrainConfig, new_net, train_steps
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig, IterationRecord, QueryBatch, TrainEvent
from viscause_gui.core.method.oracles import ModelOracle, TruthOracle
from viscause_gui.core.method.driver import (MANUAL, BatchAnswered, Goal, ModelOracleProgress, NeedsAnswers, ObservedClasses,
                          Snapshot, add_manual_answers, describe_query, drive, observational_problem,
                          snapshot_experiment, train_model_oracle, with_observational_classes)
from viscause_gui.gui.widgets.plots import PEN_COLORS, if_alive, line_plot, make_action, set_ranges_stepwise, thumbnail_icon
from viscause_gui.gui.state import AppState
from viscause_gui.gui.workers import WorkerPool

ORACLES = (("truth", "Truth (GRATING model)"), ("model", "Model oracle (a trained classifier)"),
           ("human", "Human (you answer in the queue)"))
KEY = "learning"
ICON_SIZE = QSize(56, 56)


@dataclass
class Failure:
    """What the learning worker returns when it fails.

    Returned, not raised: superqt's GeneratorWorker swallows a RuntimeError raised by the
    generator (ExperimentError and most torch errors are RuntimeErrors) without `errored`
    or `finished`, and create_worker re-raises other errors in the GUI thread.
    """
    message: str


@dataclass
class Created:
    experiment: Experiment


@dataclass
class OracleReady:
    oracle: ModelOracle


@dataclass
class StopFlag:
    """Set by the GUI thread, read by the worker inside long calls that cannot yield."""
    stopped: bool = False


@dataclass
class RunSettings:
    config: ExperimentConfig
    oracle: str                  # "truth" | "model" | "human"
    positive_label: int | None   # T = 1 for this label when the data set has only labels
    digit_mode: bool = False     # grey labelled images (MNIST): the MNIST recipe and a CNN oracle


def learning_job(data: Dataset, exp: Experiment | None, settings: RunSettings, grating,
                 model_oracle: ModelOracle | None, goal: Goal, stop: StopFlag | None = None,
                 process: TrainingProcess | None = None):
    """Worker body: create the experiment if needed, get the oracle, then drive to the goal.

    With `process`, the causal nets train in that child process (the GUI thread then never
    shares Python's lock with training). Paced: after each event the job waits until the GUI
    has drawn it, so the work between trainings does not compete with those redraws either.
    """
    return (yield from paced(_learning_events(data, exp, settings, grating, model_oracle, goal,
                                              stop or StopFlag(), process)))


def _learning_events(data: Dataset, exp: Experiment | None, settings: RunSettings, grating,
                     model_oracle: ModelOracle | None, goal: Goal, stop: StopFlag,
                     process: TrainingProcess | None):
    try:
        if exp is None:
            prepared = with_observational_classes(data, settings.positive_label, settings.config.seed,
                                                  cancelled=lambda: stop.stopped)
            if prepared is not data:
                yield ObservedClasses(prepared)
            exp = Experiment(prepared, settings.config)
            yield Created(exp)
        if process is not None and not isinstance(exp.train_fn, InChildTraining):
            exp.train_fn = process.wrap(exp.train_fn)
        oracle = None
        if settings.oracle == "truth":
            oracle = TruthOracle(grating)
        elif settings.oracle == "model":
            oracle = model_oracle
            if oracle is None:
                oracle = yield from _train_oracle(exp.data, settings,
                                                  train_steps if process is None else process.wrap(train_steps))
                yield OracleReady(oracle)
        return (yield from drive(exp, oracle, goal))
    except Exception as exc:  # noqa: BLE001 - every failure reaches the user as a message
        if stop.stopped:
            return "stopped"
        return Failure(str(exc) or type(exc).__name__)


def _train_digit_oracle(data: Dataset, settings: RunSettings, train_fn):
    """A CNN over every label, trained apart from the causal net (an MLP): the paper's people."""
    seed = settings.config.seed
    net = new_net({**mnist.REFERENCE_NET, "in_shape": list(data.shape),
                   "n_classes": int(data.labels.max()) + 1}, seed + 7919)
    small = len(data) < 3000          # more, smaller steps so a small data set still trains it
    config = TrainConfig(epochs=mnist.REFERENCE_EPOCHS, batch_size=32 if small else 128, patience=3,
                         lr=2e-3, seed=seed)
    for progress in train_fn(net, data.images, data.labels.astype(np.int64), None, config):
        yield ModelOracleProgress(progress)
    return mnist.DigitOracle(net.eval(), digit=settings.positive_label)


def _train_oracle(data: Dataset, settings: RunSettings, train_fn):
    """train_fn: models.train_steps, or it run in the training process."""
    if settings.digit_mode:
        return (yield from _train_digit_oracle(data, settings, train_fn))
    gen = train_model_oracle(data, settings.positive_label, settings.config.seed, train_fn=train_fn)
    while True:
        try:
            progress = next(gen)
        except StopIteration as stop:
            return stop.value
        yield ModelOracleProgress(progress)


def answer_query_batch(state: AppState, batch: QueryBatch, answers: np.ndarray) -> None:
    """Answer a queued batch: P(T=1) per image (NaN = no answer). Raises ValueError if it cannot.

    Algorithm batches go to Experiment.answer and leave the queue; manual batches keep their
    answers and wait in the queue until the learning panel adds them to the causal data.
    """
    answers = np.asarray(answers, np.float64).reshape(-1)
    if batch.kind == MANUAL:
        if answers.shape != (len(batch),):
            raise ValueError(f"expected {len(batch)} answers, got {answers.shape[0]}")
        batch.answers = answers
    else:
        exp = state.experiment
        if exp is None or exp.pending is not batch:
            raise ValueError("this query batch is no longer waiting for answers")
        try:
            exp.answer(answers)
        except RuntimeError as exc:
            batch.answers = None            # Experiment.answer stores them before it checks them
            raise ValueError(str(exc)) from exc
        remove_from_queue(state, batch)
    state.queries_changed.emit()


def in_queue(state: AppState, batch: QueryBatch) -> bool:
    """Identity test (QueryBatch == compares numpy arrays and cannot be used)."""
    return any(b is batch for b in state.human_queue)


def remove_from_queue(state: AppState, batch: QueryBatch) -> None:
    state.human_queue[:] = [b for b in state.human_queue if b is not batch]


def waiting_batches(state: AppState) -> list[QueryBatch]:
    return [b for b in state.human_queue if b.answers is None]


class QueueView(QWidget):
    """The oracle queue as a list: one row per waiting image, answered with Yes / No buttons.

    In the main window the answers go through the Oracle (label) panel (`use_oracle`), which
    journals each one before anything else happens. On its own (no such panel) the view
    keeps the answers of a batch until the batch is complete.
    """

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.oracle = None                               # a LabellingPanel, once use_oracle() is called
        self._partial: dict[int, np.ndarray] = {}       # id(batch) -> answers so far (NaN = none yet)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["image", "query", "target", "the oracle says"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setIconSize(ICON_SIZE)
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addWidget(self.table)
        self.rows: list[tuple[QueryBatch, int]] = []
        state.queries_changed.connect(self.refresh)
        self.refresh()

    def use_oracle(self, oracle) -> None:
        """Answer through `oracle` (the labelling panel: answer_item, still_open, `answered`)."""
        self.oracle = oracle
        oracle.answered.connect(self.refresh)
        self.refresh()

    def pending_count(self) -> int:
        return len(self.rows)

    def _open(self, batch: QueryBatch) -> np.ndarray:
        if self.oracle is not None:
            return self.oracle.still_open(batch)
        return ~np.isfinite(self._answers(batch))

    def refresh(self) -> None:
        batches = waiting_batches(self.state)
        live = {id(b) for b in batches}
        self._partial = {k: v for k, v in self._partial.items() if k in live}
        self.rows = [(b, int(i)) for b in batches for i in np.flatnonzero(self._open(b))]
        self.table.setRowCount(len(self.rows))
        for row, (batch, i) in enumerate(self.rows):
            self._fill_row(row, batch, i)
        self.status.setText(f"{len(self.rows)} image(s) wait for the oracle. Yes = T happens (1), "
                            "No = it does not (0)." if self.rows else "No queries wait for an answer.")

    def _answers(self, batch: QueryBatch) -> np.ndarray:
        return self._partial.setdefault(id(batch), np.full(len(batch), np.nan))

    def _fill_row(self, row: int, batch: QueryBatch, i: int) -> None:
        image_item = QTableWidgetItem()
        image_item.setIcon(thumbnail_icon(batch.images[i], ICON_SIZE.width()))
        self.table.setItem(row, 0, image_item)
        self.table.setItem(row, 1, QTableWidgetItem(describe_query(batch, i)))
        target = "" if batch.targets is None else f"C = {int(batch.targets[i])}"
        self.table.setItem(row, 2, QTableWidgetItem(target))
        self.table.setCellWidget(row, 3, self._buttons(batch, i))
        self.table.setRowHeight(row, ICON_SIZE.height() + 6)

    def _buttons(self, batch: QueryBatch, i: int) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(2, 0, 2, 0)
        for text, value in (("Yes", 1.0), ("No", 0.0)):
            button = QPushButton(text)
            button.setToolTip(f"The oracle says T = {int(value)} for this image")
            button.clicked.connect(lambda _=False, b=batch, k=i, v=value: self.answer(b, k, v))
            row.addWidget(button)
        return box

    def answer(self, batch: QueryBatch, i: int, value: float) -> None:
        """Record one answer; a batch with every image answered goes to answer_query_batch."""
        if self.oracle is not None:
            self.oracle.answer_item(batch, i, value)     # journalled; it submits complete batches
            self.refresh()
            return
        answers = self._answers(batch)
        answers[i] = value
        if np.all(np.isfinite(answers)):
            try:
                answer_query_batch(self.state, batch, answers.copy())
            except ValueError as exc:
                answers[:] = np.nan
                self.status.setText(f"Could not use the answers: {exc}")
                self.refresh()
                self.status.setText(f"Could not use the answers: {exc}. Answer the batch again.")
                return
        else:
            self.refresh()



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
        self.training_process: TrainingProcess | None = shared_training_process()   # None: train in the worker
        self.loss_x: list[int] = []
        self._plot_timer = QTimer(self)
        self._plot_timer.setSingleShot(True)
        self._plot_timer.setInterval(200)
        self._plot_timer.timeout.connect(self._draw_losses)
        self.train_losses: list[float] = []
        self.val_losses: list[float] = []
        self._build()
        state.dataset_changed.connect(self._dataset_changed)
        state.queries_changed.connect(self._queue_changed)
        state.model_changed.connect(self._adopt_experiment)
        self._dataset_changed()

    # ----- layout -----
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self._settings())
        layout.addLayout(self._button_row())
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("idle")
        self.status = QLabel()
        self.status.setWordWrap(True)
        # a longer message wraps instead of widening the dock: a resize would repaint every plot
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
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
        self.oracle_combo.setToolTip("Who answers P(T=1 | man(I)): the exact GRATING model, a classifier "
                                     "standing in for people, or you")
        self.label_spin = _spin(0, 9999, 7, "With a labelled data set and no observed T: T = 1 for images "
                                             "with this label (e.g. the digit d)")
        self.iterations_spin = _spin(1, 10000, 5, "Algorithm 2 iterations to run with 'Run Algorithm 2'")
        self.queries_spin = _spin(1, 100000, 100, "Queries Q: images manipulated and sent to the oracle per iteration")
        self.alpha_spin = QDoubleSpinBox()
        self.alpha_spin.setRange(0.0, 1.0)
        self.alpha_spin.setSingleStep(0.05)
        self.alpha_spin.setValue(0.5)
        self.alpha_spin.setToolTip("α of the manipulator: 0 = reach the target class at any distance, 1 = stay close")
        self.seed_spin = _spin(0, 2**31 - 1, 0, "Seed of the experiment (same seed, same run)")
        self.epochs_spin = _spin(1, 10000, 30, "Epochs of the first training of the causal net")
        self.retrain_spin = _spin(1, 10000, 5, "Epochs of each later retraining")
        cells = [("Oracle", self.oracle_combo), ("T = 1 for label", self.label_spin),
                 ("Iterations N", self.iterations_spin), ("Queries Q", self.queries_spin),
                 ("α", self.alpha_spin), ("Seed", self.seed_spin),
                 ("Epochs", self.epochs_spin), ("Retrain epochs", self.retrain_spin)]
        self._label_caption = QLabel(cells[1][0])
        for n, (caption, widget) in enumerate(cells):
            label = self._label_caption if n == 1 else QLabel(caption)
            label.setBuddy(widget)
            grid.addWidget(label, n // 2, 2 * (n % 2))
            grid.addWidget(widget, n // 2, 2 * (n % 2) + 1)
        return grid

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
                                  "class (by the oracle's answer) is not the target class")
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
        self.tabs.addTab(self.table, "Iterations")
        self.tabs.addTab(self.queue, "Oracle queue")
        return self.tabs

    # ----- public actions -----
    @property
    def running(self) -> bool:
        return self._worker is not None

    @property
    def paused(self) -> bool:
        return self._worker is not None and self._worker.is_paused

    def run_algorithm1(self) -> None:
        """A new experiment: Algorithm 1, then the first training of the causal net."""
        self._start(None, new=True)

    def run_algorithm2(self) -> None:
        """N more iterations of Algorithm 2 (Algorithm 1 first if there is no experiment)."""
        self._start(self._history_len() + self.iterations_spin.value(), new=self.experiment is None)

    def step(self) -> None:
        """One more iteration of Algorithm 2."""
        self._start(self._history_len() + 1, new=self.experiment is None)

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
        if self._worker is not None:
            self._stop_flag.stopped = True
            self.workers.cancel(KEY)
            self.status.setText("Stopping…")
            self._update_buttons()

    def shutdown(self) -> None:
        """The window closes: stop the run and end the training child at once (even mid-epoch)."""
        self._stop_flag.stopped = True
        if self.training_process is not None:
            self.training_process.close()

    # ----- starting a run -----
    def _history_len(self) -> int:
        return 0 if self.experiment is None else len(self.experiment.history)

    def _settings_now(self) -> RunSettings:
        config = ExperimentConfig(queries=self.queries_spin.value(), alpha=self.alpha_spin.value(),
                                  seed=self.seed_spin.value(), epochs=self.epochs_spin.value(),
                                  retrain_epochs=self.retrain_spin.value())
        label = self.label_spin.value() if self.label_spin.isEnabled() else None
        digit_mode = label is not None and not self.state.dataset.is_binary
        if digit_mode:
            config = mnist.experiment_config(queries=config.queries, alpha=config.alpha, seed=config.seed,
                                             epochs=config.epochs, retrain_epochs=config.retrain_epochs)
        return RunSettings(config, self.oracle_combo.currentData(), label, digit_mode)

    def _start(self, goal: Goal, new: bool, keep_base: bool = False) -> None:
        data = self.state.dataset
        if self._worker is not None:
            return
        settings = self._settings_now()
        problem = observational_problem(data, settings.positive_label)
        if problem is None and settings.oracle == "truth" and self.state.grating is None:
            problem = "The truth oracle knows only the GRATING model; choose the model oracle or answer yourself."
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
        exp.config.alpha = settings.config.alpha
        exp.config.retrain_epochs = settings.config.retrain_epochs
        self._apply_manual_answers()
        if exp.pending is not None and in_queue(self.state, exp.pending) and settings.oracle != "human":
            remove_from_queue(self.state, exp.pending)         # the automatic oracle answers it now
            self.state.queries_changed.emit()
        if exp.nets:
            self._snapshot = snapshot_experiment(exp)           # other panels let go of the live nets
            self.state.set_experiment(self._snapshot)

    def _launch(self, data: Dataset, settings: RunSettings, goal: Goal) -> None:
        oracle = None
        if self._model_oracle is not None and self._model_oracle[:2] == (id(data), settings.positive_label):
            oracle = self._model_oracle[2]
        self._run_settings = settings
        self._stop_flag = StopFlag()
        estimating = self.experiment is None and data.obs_class is None and data.t is not None
        worker = self.workers.start(KEY, learning_job, data, self.experiment, settings, self.state.grating,
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
            self._on_observed(event.data)
        elif isinstance(event, ModelOracleProgress):
            p = event.progress
            self.progress.setFormat(f"training the model oracle: epoch {p.epoch}/{p.epochs}")
        elif isinstance(event, OracleReady):
            self._model_oracle = (id(self._run_data), self._run_settings.positive_label, event.oracle)

    def _on_train(self, event: TrainEvent) -> None:
        p = event.progress
        self.loss_x.append(len(self.loss_x) + 1)
        self.train_losses.append(p.train_loss)
        self.val_losses.append(p.val_loss)
        if not self._plot_timer.isActive():        # redraw the curves at most 5 times a second
            self._plot_timer.start()
        span = 1 if self._goal is None else max(self._goal - self._goal_base, 1)
        done = (event.iteration - 1 - self._goal_base + p.epoch / max(p.epochs, 1)) / span
        self.progress.setValue(int(1000 * min(max(done, 0.0), 1.0)))
        net = f" net {event.member + 1}/{event.members}," if event.members > 1 else ""
        self.progress.setFormat(f"iteration {event.iteration}:{net} epoch {p.epoch}/{p.epochs}, "
                                f"val loss {p.val_loss:.3f}")

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
        self._redraw_metrics()

    def _sync_history(self) -> None:
        """Rows for history records the GUI thread made itself (answers given in the queue)."""
        if self._worker is None and self.experiment is not None:
            for record in self.experiment.history[self.table.rowCount():]:
                self._add_record(record)

    def _redraw_metrics(self) -> None:
        its, merr, mdist = self.metrics()
        self.merr_curve.setData(its, merr)
        self.mdist_curve.setData(its, mdist)
        last = max(its + [self._goal or 0, 1])   # the run's last iteration: the axis is set once per run
        self.merr_plot.setXRange(0.5, last + 0.5, padding=0)
        set_ranges_stepwise(self.mdist_plot, None, (0, max(mdist, default=1.0)))
        self.mdist_plot.setXRange(0.5, last + 0.5, padding=0)

    def metrics(self) -> tuple[list[int], list[float], list[float]]:
        """(iterations, MErr, MDist) as shown in the table and plots."""
        rows = range(self.table.rowCount())
        return ([int(self.table.item(r, 0).text()) for r in rows],
                [float(self.table.item(r, 1).text()) for r in rows],
                [float(self.table.item(r, 2).text()) for r in rows])

    def _on_observed(self, prepared: Dataset) -> None:
        """The worker estimated observational classes: show them on the loaded data set too."""
        data = self.state.dataset
        if data is not self._run_data:
            return
        for key in ("obs_class", "p_obs", "t"):
            if getattr(data, key) is None:
                setattr(data, key, getattr(prepared, key))
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
        if self.state.dataset is not self._run_data:
            self._update_buttons()
            return
        exp = self.experiment
        if reason == "human" and exp is not None and exp.pending is not None:
            self._waiting_for_human = True
            if not in_queue(self.state, exp.pending):
                self.state.human_queue.append(exp.pending)
        if exp is not None:
            self._snapshot = None
            self.state.set_experiment(exp)
        self._apply_manual_answers()
        if reason == "human":
            self.state.queries_changed.emit()
            self.tabs.setCurrentWidget(self.queue)
        self._describe_end(reason)
        self._update_buttons()
        self.run_finished.emit(reason)

    def _describe_end(self, reason: str) -> None:
        texts = {"goal": "Done.", "done": "Done: the experiment has no iterations left.",
                 "stopped": "Stopped. Resume (F7) goes on; Run Algorithm 1 starts over."}
        if reason == "human":
            n = sum(len(b) for b in waiting_batches(self.state))
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

    def _apply_manual_answers(self) -> None:
        """Answered manual batches join the causal data (only while no worker runs)."""
        exp = self.experiment
        if self._worker is not None or exp is None or exp.causal_levels is None:
            return
        done = [b for b in self.state.human_queue if b.kind == MANUAL and b.answers is not None]
        added = sum(add_manual_answers(exp, b) for b in done)
        for b in done:
            remove_from_queue(self.state, b)
        if done:
            self.status.setText(f"{added} answered image(s) join the causal data at the next training.")
            self.state.queries_changed.emit()

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
        self._enable_oracles()
        problem = observational_problem(data, 0 if labels_only else None)
        if problem is not None and data is not None:
            self._show_error(problem)
        else:
            self.status.setText("")
        self._update_buttons()

    def _drop_pending(self) -> None:
        """The old experiment's batch no longer waits for anyone."""
        exp = self.experiment
        if exp is not None and exp.pending is not None and in_queue(self.state, exp.pending):
            remove_from_queue(self.state, exp.pending)
            self.state.queries_changed.emit()

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
        has_truth = self.state.grating is not None
        item = self.oracle_combo.model().item(0)
        item.setEnabled(has_truth)
        item.setToolTip("" if has_truth else "Only for GRATING: the truth oracle knows its generative model")
        if has_truth:
            self.oracle_combo.setCurrentIndex(0)
        elif self.oracle_combo.currentIndex() == 0:
            self.oracle_combo.setCurrentIndex(1)

    def _update_buttons(self) -> None:
        running, paused = self.running, self.paused
        idle_with_data = not running and self.state.dataset is not None
        self.run_actions["run1"].setEnabled(idle_with_data)
        self.run_actions["run2"].setEnabled(idle_with_data and not self._waiting_for_human)
        self.run_actions["step"].setEnabled(idle_with_data and not self._waiting_for_human)
        self.run_actions["pause"].setEnabled(running and not paused)
        self.run_actions["resume"].setEnabled(paused or self._stopped_short())
        self.run_actions["stop"].setEnabled(running)
        for w in (self.oracle_combo, self.seed_spin, self.epochs_spin):
            w.setEnabled(not running)


def _spin(lo: int, hi: int, value: int, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(lo, hi)
    spin.setValue(value)
    spin.setToolTip(tip)
    spin.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return spin
