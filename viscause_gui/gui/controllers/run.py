"""The learning run's state machine (Qt-free): start, wait for a person, pause, resume, stop, end.

The Learning panel is its view (`RunView`): it shows what the controller says and forwards a
person's clicks. The run itself is a worker (`RunEngine` starts controllers.learning.learning_job
in the background and calls back on the GUI thread). While a worker runs it owns the live
Experiment and `state.experiment` holds a frozen snapshot other panels may read; when it ends, the
GUI owns the live experiment again. With the human oracle the run stops at a query batch and puts
it in `state.queue`; once the batch is answered there, the run goes on by itself, and answered
manual batches join the causal data before the next training.

Phases (`phase`): idle, running, paused, waiting (a batch waits for a person), stopped (short of
its goal: Resume goes on).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.experiments.registry import recipe_for
from viscause_gui.core.method.driver import BatchAnswered, Goal, NeedsAnswers, Snapshot
from viscause_gui.core.method.experiment import Experiment, IterationRecord, TrainEvent
from viscause_gui.core.method.observe import ObservedClasses, observational_problem
from viscause_gui.core.method.oracles import ModelOracle
from viscause_gui.core.method.recipe import DataFacts
from viscause_gui.gui.controllers.learning import (Created, Failure, ModelOracleProgress, OracleReady, PluggedChoice,
                                                   RunSettings, StopFlag, run_fraction)
from viscause_gui.gui.controllers.recipe import STANDARD, RecipeModel, config_lines
from viscause_gui.gui.models.run_form import PLUGGED, RunForm

IDLE, RUNNING, PAUSED, WAITING, STOPPED = "idle", "running", "paused", "waiting", "stopped"
MAX_SAVED_LOSSES = 20_000


@dataclass(frozen=True)
class Controls:
    """Which commands a person may use now."""

    run1: bool
    run2: bool
    step: bool
    pause: bool
    resume: bool
    stop: bool
    settings: bool          # the oracle, the seed, the epochs and the recipe (not while a run owns them)


class RunView(Protocol):
    def show_status(self, text: str) -> None: ...
    def show_error(self, text: str) -> None: ...
    def show_progress(self, text: str | None = None, value: int | None = None) -> None: ...   # value in 0..1000
    def show_controls(self, controls: Controls) -> None: ...
    def show_phase(self, phase: str, text: str) -> None: ...
    def add_record(self, record: IterationRecord, running: bool) -> None: ...
    def clear_records(self) -> None: ...
    def show_losses(self, train: list[float], val: list[float], now: bool) -> None: ...
    def finish_drawing(self) -> None: ...                  # the run is over: every plot shows everything now
    def show_queue(self) -> None: ...
    def show_label_choice(self, shown: bool) -> None: ...
    def run_ended(self, reason: str) -> None: ...
    def confirm_new_experiment(self, exp: Experiment) -> bool: ...


class RunHandle(Protocol):
    is_paused: bool
    def pause(self) -> None: ...
    def resume(self) -> None: ...


class RunEngine(Protocol):
    def start(self, job_args: tuple, on_event: Callable[[Any], None], on_return: Callable[[Any], None],
              on_error: Callable[[Any], None], on_finished: Callable[[Any], None], on_paused: Callable[[], None],
              on_resumed: Callable[[], None]) -> RunHandle | None: ...
    def cancel(self) -> None: ...
    def report_failure(self, message: str) -> None: ...   # beside the view's message: the app's log of failures


class RunController:
    """The run of the Learning panel: its experiment, goal, phase, losses and oracle queue traffic."""

    def __init__(self, state: Any, form: RunForm, recipe: RecipeModel, view: RunView, engine: RunEngine,
                 training_process: Any = None):
        self.state, self.form, self.recipe, self.view, self.engine = state, form, recipe, view, engine
        self.training_process = training_process      # None: the nets train in the worker
        self.experiment: Experiment | None = None     # the live experiment (the worker's while it runs)
        self.plugged: dict[str, PluggedChoice] = {}
        self.train_losses: list[float] = []
        self.val_losses: list[float] = []
        self._snapshot: Experiment | None = None
        self._worker: RunHandle | None = None
        self._stop_flag = StopFlag()
        self._run_data: Dataset | None = None
        self._settings: RunSettings | None = None
        self._goal: Goal = None
        self._goal_base = 0
        self._waiting = False
        self._model_oracle: tuple[int, int | None, ModelOracle] | None = None
        self._oracle_model, self._oracle_epoch = 1, 0
        self._generative_shown = False
        self._classes_from_label: int | None = None
        self._shown_problem: str | None = None
        self.labels_only = False
        self._records_shown = 0

    # ----- what the view asks -----
    @property
    def running(self) -> bool:
        return self._worker is not None

    @property
    def paused(self) -> bool:
        return self._worker is not None and self._worker.is_paused

    @property
    def waiting(self) -> bool:
        return self._waiting

    @property
    def goal(self) -> tuple[Goal, int]:
        """(the run's goal, the history length it started from): what a session saves."""
        return self._goal, self._goal_base

    @property
    def phase(self) -> str:
        if self.running:
            return PAUSED if self.paused else RUNNING
        if self._waiting:
            return WAITING
        return STOPPED if self._stopped_short() else IDLE

    def history_len(self) -> int:
        return 0 if self.experiment is None else len(self.experiment.history)

    def positive_label(self) -> int | None:
        return self.form.label if self.labels_only else None

    # ----- commands -----
    def run_algorithm1(self) -> None:
        """A new experiment: Algorithm 1, then the first training of the causal net."""
        exp = self.experiment
        if exp is not None and (exp.history or exp.nets) and not self.view.confirm_new_experiment(exp):
            self.view.show_status("The experiment is kept.")
            return
        self._start(None, new=True)

    def run_algorithm2(self) -> None:
        """N more iterations of Algorithm 2 (Algorithm 1 first if there is no experiment)."""
        self._start(self.history_len() + self.form.iterations, new=self.experiment is None)

    def step(self) -> None:
        """One more iteration of Algorithm 2."""
        self._start(self.history_len() + 1, new=self.experiment is None)

    def pause(self) -> None:
        if self._worker is not None and not self._worker.is_paused:
            self._worker.pause()
            self.view.show_status("Pausing after the current step…")

    def resume(self) -> None:
        """Resume a paused run, or go on towards the last goal after Stop."""
        if self._worker is not None:
            self._worker.resume()
        elif self._stopped_short():
            self._start(self._goal, new=False, keep_base=True)

    def stop(self) -> None:
        """Stop the run; or, while a batch waits for a person, stop waiting (the experiment stays)."""
        if self._worker is not None:
            self._stop_flag.stopped = True
            self.engine.cancel()
            self.view.show_status("Stopping…")
            self.refresh_controls()
        elif self._waiting:
            self.stop_waiting()

    def stop_waiting(self) -> None:
        """Take the waiting batch out of the oracle queue; the experiment keeps it, and Resume or
        Run Algorithm 2 asks the chosen oracle for it again."""
        exp = self.experiment
        self._waiting = False
        if exp is not None and exp.pending is not None:
            self.state.queue.remove(exp.pending)
        self.view.show_status("Stopped waiting for answers. The experiment is kept: Resume (F7) or Run Algorithm 2 "
                              "asks the chosen oracle for that batch again.")
        self.view.show_progress("stopped")
        self.refresh_controls()

    def wait_for_answers(self, goal: Goal) -> None:
        """A restored experiment's pending batch waits for a person: choose the human oracle; once
        the batch is answered the run goes on towards `goal` (when it lies ahead)."""
        exp = self.experiment
        self.form.set(oracle="human")
        n = len(exp.history)
        self._goal = goal if isinstance(goal, int) and goal > n else (
            None if exp.pending.kind == "algorithm1" else n + 1)
        self._goal_base = n
        self._waiting = True
        self.refresh_controls()

    def shutdown(self) -> None:
        """The window closes: stop the run and end the training child at once (even mid-epoch)."""
        self._stop_flag.stopped = True
        if self.training_process is not None:
            self.training_process.close()

    # ----- settings that change a waiting batch or the data's classes -----
    def queries_changed(self) -> None:
        """A new Q applies to the next batch; a batch waiting for a person and not answered yet is cut
        to it now."""
        exp, queries = self.experiment, self.form.queries
        if not self._waiting or exp is None or exp.pending is None:
            return
        old = exp.pending
        if self.state.queue.answered_any(old):
            self.view.show_status(f"Q = {queries} applies from the next batch (this one is answered in part).")
            return
        new = exp.shrink_pending(queries)
        if new is not None:
            self.state.queue.replace(old, new)
            self.view.show_status(f"The waiting batch now has {len(new)} image(s) (Q = {queries}).")

    def label_changed(self) -> None:
        if not self.labels_only:
            return
        label = self.form.label
        self.state.set_positive_label(label)
        if not self.recipe.editable:
            self.choose_recipe()            # a built-in recipe may depend on the label (digit mode)
        if self.experiment is not None and self._classes_from_label not in (None, label):
            self.view.show_status(f"T = 1 for label {label} applies from the next Run Algorithm 1; the current "
                                  f"experiment asks about label {self._classes_from_label}.")
        elif self.experiment is None and not self.running:
            self._show_data_problem(label)

    def oracle_changed(self) -> None:
        self.refresh_controls()

    def choose_recipe(self) -> None:
        """A person's own data: the recipe chosen from its images; other data: its experiment's, to read."""
        data = self.state.dataset
        if data is not None and self.state.own_data:
            self.recipe.use_data(DataFacts.of(data.images, data.is_binary))
            return
        label = self.positive_label()
        builtin = None if data is None else recipe_for(data, label)
        config = RunSettings.for_data(data, "model", label, builtin).config
        title = STANDARD if builtin is None else f"{builtin.describe[:1].upper()}{builtin.describe[1:]}"
        lines = [] if data is None else config_lines(config, data.is_binary)
        hint = ("Built-in data, lessons and sessions saved before recipes run with this one. A data set you open with "
                "File → Open file or Open folder gets a recipe chosen from its images, which you can change here.")
        self.recipe.use_builtin(title, [*lines, hint])

    # ----- sessions -----
    def settings_for_session(self) -> dict:
        """What a session keeps of the run: its settings and the loss curve."""
        recipe = {} if self.recipe.to_json() is None else {"recipe": self.recipe.to_json()}
        form = {k: v for k, v in self.form.to_json().items() if k != "oracle"}
        return {**form, "train_losses": [float(v) for v in self.train_losses[-MAX_SAVED_LOSSES:]],
                "val_losses": [float(v) for v in self.val_losses[-MAX_SAVED_LOSSES:]], **recipe}

    def restore_settings(self, saved: object, oracle: object, oracles: tuple[str, ...]) -> None:
        """Put back what settings_for_session kept, and the oracle the session ran with when the data allows
        it (anything malformed is left as it is)."""
        if not isinstance(saved, dict):
            saved = {}
        data = self.state.dataset
        if "recipe" in saved and data is not None:     # before the numbers: the retrain epochs saved are the person's
            self.recipe.restore(saved["recipe"], DataFacts.of(data.images, data.is_binary))
        self.form.restore_session({**saved, "oracle": oracle} if not self._waiting else saved, oracles)
        train, val = saved.get("train_losses"), saved.get("val_losses")
        if isinstance(train, list) and isinstance(val, list) and len(train) == len(val) and all(
                isinstance(v, (int, float)) for v in train + val):
            self.train_losses[:], self.val_losses[:] = [float(v) for v in train], [float(v) for v in val]
            self.view.show_losses(self.train_losses, self.val_losses, now=True)

    # ----- starting a run -----
    def _stopped_short(self) -> bool:
        """The last run was stopped before its goal: Resume goes on towards it."""
        exp = self.experiment
        if exp is None or self.running or self._waiting:
            return False
        return not exp.nets if self._goal is None else self.history_len() < self._goal

    def settings_now(self) -> RunSettings:
        label = self.positive_label()
        data = self.state.dataset
        recipe = None if data is None else recipe_for(data, label)
        key = self.form.oracle
        oracle = "plugged" if key in PLUGGED else key
        run = {"queries": self.form.queries, "alpha": self.form.alpha, "queries_by": self.form.queries_by,
               "seed": self.form.seed}
        if self.recipe.editable:          # a person's own data: the recipe `viscause run DATA` chooses, or theirs
            config = self.recipe.experiment_config(retrain_epochs=self.form.retrain_epochs, **run)
            return RunSettings(config, oracle, label, recipe, self.plugged.get(key),
                               observe=self.recipe.recipe.observe_recipe())
        return RunSettings.for_data(data, oracle, label, recipe, self.plugged.get(key), **run,
                                    epochs=self.form.epochs, retrain_epochs=self.form.retrain_epochs)

    def _problem(self, data: Dataset | None, settings: RunSettings) -> str | None:
        problem = observational_problem(data, settings.positive_label)
        if problem is None and settings.oracle == "truth" and self.state.truth is None:
            problem = ("The truth oracle needs the data set's exact generative model (e.g. GRATING); choose the "
                       "model oracle or answer yourself.")
        if problem is None and settings.oracle == "plugged" and settings.plugged is None:
            problem = "Choose the oracle's file first: pick it in the Oracle list again."
        return problem

    def _start(self, goal: Goal, new: bool, keep_base: bool = False) -> None:
        data = self.state.dataset
        if self._worker is not None:
            return
        if new:
            self._forget_classes_of_another_label(self.positive_label())
        settings = self.settings_now()
        problem = self._problem(data, settings)
        if problem is not None:
            self.view.show_error(problem)
            return
        if new:
            self._drop_pending()
            self.reset_experiment()
        else:
            self._prepare_continue(settings)
        self._goal = goal
        if not keep_base or new:
            self._goal_base = self.history_len()
        self._waiting = False
        self._run_data = data
        self._launch(data, settings, goal)

    def _forget_classes_of_another_label(self, label: int | None) -> None:
        """Classes derived from an earlier choice of the label that counts as T = 1 go: the next
        experiment derives them from the label chosen now."""
        data = self.state.dataset
        if self._classes_from_label is None or self._classes_from_label == label or data is None:
            return
        data.obs_class = data.t = data.p_obs = None
        self._classes_from_label = None
        self.state.classes_changed.emit()

    def _prepare_continue(self, settings: RunSettings) -> None:
        """The GUI owns the experiment here: apply the settings that may change between runs."""
        exp = self.experiment
        for key in ("queries", "queries_by", "alpha", "retrain_epochs"):
            setattr(exp.config, key, getattr(settings.config, key))
        self.apply_manual_answers()
        if exp.pending is not None and self.state.queue.contains(exp.pending) and settings.oracle != "human":
            self.state.queue.remove(exp.pending)         # the automatic oracle answers it now
        if exp.nets:
            self._snapshot = exp.snapshot()           # other panels let go of the live nets
            self.state.set_experiment(self._snapshot)

    def _launch(self, data: Dataset, settings: RunSettings, goal: Goal) -> None:
        oracle = None
        if self._model_oracle is not None and self._model_oracle[:2] == (id(data), settings.positive_label):
            oracle = self._model_oracle[2]
        self._settings = settings
        self._stop_flag = StopFlag()
        estimating = self.experiment is None and data.obs_class is None and data.t is not None
        args = (data, self.experiment, settings, self.state.truth, oracle, goal, self._stop_flag,
                self.training_process)
        worker = self.engine.start(args, self.on_event, self.on_return, self.on_error, self.ended,
                                   self.on_paused, self.on_resumed)
        if worker is None:          # the window is closing
            return
        self._worker = worker
        self.view.show_status("Running…")
        self._oracle_model, self._oracle_epoch = 1, 0
        self.view.show_progress("estimating observational classes from the samples of T…" if estimating
                                else "starting…")
        self.refresh_controls()

    # ----- events from the worker (GUI thread) -----
    def on_event(self, event: Any) -> None:
        if isinstance(event, TrainEvent):
            self._on_train(event)
        elif isinstance(event, BatchAnswered):
            self._on_answered(event)
        elif isinstance(event, Snapshot):
            self._snapshot = event.experiment
            self.state.set_experiment(event.experiment)
        elif isinstance(event, NeedsAnswers):
            self.view.show_status(f"Waiting for your answers: {event.size} image(s) in the oracle queue.")
        elif isinstance(event, Created):
            self.experiment = event.experiment
        elif isinstance(event, ObservedClasses):
            self._on_observed(event)
        elif isinstance(event, ModelOracleProgress):
            self._on_oracle_progress(event.progress)
        elif isinstance(event, OracleReady):
            self._model_oracle = (id(self._run_data), self._settings.positive_label, event.oracle)

    def _on_oracle_progress(self, p: Any) -> None:
        """The model oracle trains its models one after another: say which, and fill the bar per model."""
        if p.epoch <= self._oracle_epoch:
            self._oracle_model += 1
        self._oracle_epoch = p.epoch
        self.view.show_progress(f"training the model oracle: model {self._oracle_model}, epoch {p.epoch}/{p.epochs}",
                                int(1000 * p.epoch / max(p.epochs, 1)))

    def _on_train(self, event: TrainEvent) -> None:
        p = event.progress
        if event.model == "generative":          # the manifold manipulator's model of the images, first
            self.view.show_status("Training the generative model of the images (the manipulator searches on the "
                                  "data manifold it learns)…")
            self.view.show_progress(f"iteration {event.iteration}: generative model, epoch {p.epoch}/{p.epochs}",
                                    int(1000 * p.epoch / max(p.epochs, 1)))
            self._generative_shown = True
            return
        if self._generative_shown:
            self._generative_shown = False
            self.view.show_status("Training the causal net…")
        self.train_losses.append(p.train_loss)
        self.val_losses.append(p.val_loss)
        self.view.show_losses(self.train_losses, self.val_losses, now=False)
        net = f" net {event.member + 1}/{event.members}," if event.members > 1 else ""
        self.view.show_progress(f"iteration {event.iteration}:{net} epoch {p.epoch}/{p.epochs}, "
                                f"val loss {p.val_loss:.3f}", int(1000 * run_fraction(event, self._goal,
                                                                                     self._goal_base)))

    def _on_answered(self, event: BatchAnswered) -> None:
        if event.record is None:
            self.view.show_status("Algorithm 1 answered: causal classes found; training the causal net…")
            return
        self._add_record(event.record, running=True)
        span = max((self._goal or 0) - self._goal_base, 1)
        done = len(self.experiment.history) if self.experiment is not None else 0
        self.view.show_progress(value=int(1000 * min((done - self._goal_base) / span, 1.0)))
        self.view.show_status(f"Iteration {event.record.iteration}: MErr {event.record.merr:.3f}, "
                              f"MDist {event.record.mdist:.2f}")

    def _on_observed(self, found: ObservedClasses) -> None:
        """The worker estimated observational classes: show them on the loaded data set too."""
        data = self.state.dataset
        if data is not self._run_data:
            return
        found.apply_to(data)
        self._classes_from_label = self._settings.positive_label
        self.state.classes_changed.emit()

    def on_paused(self) -> None:
        exp_it = self._snapshot.iteration if self._snapshot is not None else 0
        self.view.show_status(f"Paused (iteration {exp_it}). Resume (F7) goes on from here.")
        self.view.show_progress("paused")
        self.refresh_controls()

    def on_resumed(self) -> None:
        self.view.show_status("Running…")
        self.refresh_controls()

    def on_return(self, result: Any) -> None:
        if isinstance(result, Failure):
            self.on_error(result.message)
        else:
            self.ended(result)

    def on_error(self, exc: BaseException | str) -> None:
        self.ended("error")
        self.view.show_error(f"The experiment stopped with an error: {exc}")
        self.engine.report_failure(f"learning: {exc}")

    def ended(self, reason: str, worker: RunHandle | None = None) -> None:
        """The worker is gone (returned, aborted or failed): the GUI owns the experiment again."""
        if self._worker is None or (worker is not None and worker is not self._worker):
            return
        self._worker = None
        self.view.finish_drawing()
        if self.state.dataset is not self._run_data:
            self.refresh_controls()
            return
        exp = self.experiment
        human = reason == "human" and exp is not None and exp.pending is not None
        self._waiting = human
        if exp is not None:
            self._snapshot = None
            self.state.set_experiment(exp)
        self.apply_manual_answers()
        if human:
            self.state.queue.add(exp.pending)
            self.view.show_queue()
        self._describe_end(reason)
        self.refresh_controls()
        self.view.run_ended(reason)

    def _describe_end(self, reason: str) -> None:
        texts = {"goal": "Done.", "done": "Done: the experiment has no iterations left.",
                 "stopped": "Stopped. Resume (F7) goes on; Run Algorithm 1 starts over."}
        if reason == "human":
            n = sum(len(b) for b in self.state.queue.waiting())
            self.view.show_status(f"Waiting for the oracle: {n} image(s) in the queue (Oracle queue tab).")
            self.view.show_progress("waiting for your answers")
        elif reason in texts:
            self.view.show_status(texts[reason] if self.experiment is not None or reason != "stopped" else "Stopped.")
            self.view.show_progress(reason if reason != "goal" else "done", 1000 if reason == "goal" else None)

    # ----- the oracle queue -----
    def queue_changed(self) -> None:
        """A person answered (or the queue changed): answers join the experiment, its classes show at once, and
        a run that waited for them goes on."""
        if self._worker is not None:
            return
        self.apply_manual_answers()
        exp = self.experiment
        if exp is not None:
            for record in exp.history[self._records_shown:]:    # a person answered an Algorithm 2 batch
                self._add_record(record, running=False)
            self.state.show_classes_of(exp)                      # Algorithm 1's answers made causal classes
        if self._waiting and exp is not None and exp.pending is None:
            self._waiting = False
            self._start(self._goal, new=False, keep_base=True)
        elif self._waiting and exp is not None and not any(b is exp.pending for b in self.state.queue):
            self.state.queue.add(exp.pending)   # Algorithm 1 asks more representatives (its premise check)
        self.refresh_controls()

    def apply_manual_answers(self) -> None:
        """Answered manual batches join the causal data (only while no worker runs)."""
        exp = self.experiment
        if self._worker is not None or exp is None or exp.causal_levels is None:
            return
        done = self.state.queue.answered_manual()
        added = sum(int((exp.add_answers(b.images, b.answers) >= 0).sum()) for b in done)
        if done:
            self.state.queue.remove(*done)
            self.view.show_status(f"{added} answered image(s) join the causal data at the next training.")

    # ----- data set and experiment changes -----
    def dataset_changed(self) -> None:
        if self._worker is not None:
            self._stop_flag.stopped = True
            self.engine.cancel()
        self.reset_experiment()
        data = self.state.dataset
        self.labels_only = data is not None and data.labels is not None and all(
            getattr(data, k) is None for k in ("t", "p_obs", "obs_class"))
        self.view.show_label_choice(self.labels_only)
        self._classes_from_label = None
        self.state.set_positive_label(self.positive_label())
        self.choose_recipe()
        self._shown_problem = None
        self.view.show_status("")
        self._show_data_problem(self.positive_label())
        self.refresh_controls()

    def _show_data_problem(self, label: int | None) -> None:
        """Why no experiment can start on the data with this label, or nothing once it can (a label the
        data set lacks was chosen, then one it has)."""
        data = self.state.dataset
        problem = observational_problem(data, label)
        if problem is not None and data is not None:
            self.view.show_error(problem)
        elif self._shown_problem is not None:
            self.view.show_status("")
            self.view.show_progress("idle")
        self._shown_problem = problem

    def _drop_pending(self) -> None:
        """The old experiment's batch no longer waits for anyone."""
        exp = self.experiment
        if exp is not None and exp.pending is not None and self.state.queue.contains(exp.pending):
            self.state.queue.remove(exp.pending)

    def reset_experiment(self) -> None:
        self.experiment = None
        self._snapshot = None
        self._waiting = False
        self._goal, self._goal_base = None, 0
        self.train_losses.clear()
        self.val_losses.clear()
        self.view.show_losses(self.train_losses, self.val_losses, now=True)
        self._records_shown = 0
        self.view.clear_records()
        self.view.show_progress("idle", 0)

    def adopt_experiment(self) -> None:
        """An experiment set by someone else (e.g. a loaded session) becomes the live one."""
        exp = self.state.experiment
        if self._worker is not None or exp is None or exp is self.experiment or exp is self._snapshot:
            return
        self.reset_experiment()
        self.experiment = exp
        for record in exp.history:
            self._add_record(record, running=False)
        self.refresh_controls()

    def _add_record(self, record: IterationRecord, running: bool) -> None:
        self._records_shown += 1
        self.view.add_record(record, running)

    def last_iteration(self, iterations: list[int]) -> int:
        """The run's last iteration: the plots' axis is set once per run."""
        return max(iterations + [self._goal or 0, 1])

    def refresh_controls(self) -> None:
        running, paused = self.running, self.paused
        idle_with_data = not running and self.state.dataset is not None
        free = not self._waiting or self.form.oracle != "human"   # another oracle may answer a waiting batch
        self.view.show_controls(Controls(run1=idle_with_data, run2=idle_with_data and free,
                                         step=idle_with_data and free, pause=running and not paused,
                                         resume=paused or self._stopped_short(), stop=running or self._waiting,
                                         settings=not running))
        self.view.show_phase(self.phase, self.phase_text())

    def phase_text(self) -> str:
        """The phase in the words of the status bar ("" when idle)."""
        phase = self.phase
        if phase == WAITING:
            n = sum(len(b) for b in self.state.queue.waiting())
            return f"waiting for your answers ({n} images)"
        return "" if phase == IDLE else phase
