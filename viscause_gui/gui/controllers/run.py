"""The learning run's state machine (Qt-free): start, wait for a person, pause, resume, stop, end.

The Learning panel is its view (`RunView`): it shows what the controller says and forwards a
person's clicks. The run itself is a worker (`RunEngine` starts controllers.learning.learning_job
in the background and calls back on the GUI thread). While a worker runs it owns the live
Experiment and `state.experiment` holds a frozen snapshot other panels may read; when it ends, the
GUI owns the live experiment again. With the human oracle the run stops at a query batch and puts
it in `state.queue`; once the batch is answered there, the run goes on by itself, and answered
manual batches join the causal data before the next training.

Phases (`phase`, controllers.run_phase): idle, running, paused, waiting (a batch waits for a person,
controllers.run_answers), stopped (short of its goal: Resume goes on).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.driver import BatchAnswered, Goal, NeedsAnswers, RunOutcome, Snapshot
from viscause_gui.core.method.experiment import Experiment, IterationRecord, TrainEvent
from viscause_gui.core.method.observe import ObservedClasses
from viscause_gui.core.method.oracles import Oracle
from viscause_gui.gui.controllers.learning import (Created, Failure, ModelOracleProgress, OracleReady, RunSettings,
                                                   StopFlag)
from viscause_gui.gui.controllers.recipe import RecipeModel
from viscause_gui.gui.controllers.run_answers import RunAnswers
from viscause_gui.gui.controllers.run_choices import RunChoices
from viscause_gui.gui.controllers.run_phase import Controls, controls_in, phase_of, phase_text
from viscause_gui.gui.controllers.run_progress import RunProgress
from viscause_gui.gui.models.run_form import OracleKind, RunForm


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
        self.choices = RunChoices(state, form, recipe, view)
        self.progress = RunProgress(view)
        self.answers = RunAnswers(state, view, self.progress)
        self._snapshot: Experiment | None = None
        self._worker: RunHandle | None = None
        self._stop_flag = StopFlag()
        self._run_data: Dataset | None = None
        self._settings: RunSettings | None = None
        self._goal: Goal = None
        self._goal_base = 0
        self._model_oracle: tuple[int, int | None, Oracle] | None = None

    # ----- what the view asks -----
    @property
    def running(self) -> bool:
        return self._worker is not None

    @property
    def paused(self) -> bool:
        return self._worker is not None and self._worker.is_paused

    @property
    def goal(self) -> tuple[Goal, int]:
        """(the run's goal, the history length it started from): what a session saves."""
        return self._goal, self._goal_base

    @property
    def phase(self) -> str:
        return phase_of(self.running, self.paused, self.answers.waiting, self._stopped_short())

    @property
    def labels_only(self) -> bool:
        return self.choices.labels_only

    def history_len(self) -> int:
        return 0 if self.experiment is None else len(self.experiment.history)

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
        elif self.answers.waiting:
            self.stop_waiting()

    def stop_waiting(self) -> None:
        """Take the waiting batch out of the oracle queue (the experiment keeps it: Resume asks again)."""
        self.answers.stop_waiting(self.experiment)
        self.refresh_controls()

    def wait_for_answers(self, goal: Goal) -> None:
        """A restored experiment's pending batch waits for a person: choose the human oracle; once
        the batch is answered the run goes on towards `goal` (when it lies ahead)."""
        exp = self.experiment
        if exp is None or exp.pending is None:
            return
        self.form.set(oracle=OracleKind.HUMAN)
        self._goal, self._goal_base = self.answers.wait(exp, goal)
        self.refresh_controls()

    def shutdown(self) -> None:
        """The window closes: stop the run and end the training child at once (even mid-epoch)."""
        self._stop_flag.stopped = True
        if self.training_process is not None:
            self.training_process.close()

    # ----- settings that change a waiting batch or the data's classes -----
    def queries_changed(self) -> None:
        """A new Q: a batch waiting for a person and not answered yet is cut to it now."""
        self.answers.queries_changed(self.experiment, self.form.queries)

    def label_changed(self) -> None:
        self.choices.label_changed(self.experiment is not None, self.running)

    def settings_for_session(self) -> dict:
        return self.choices.for_session(self.progress.train_losses, self.progress.val_losses)

    def restore_settings(self, saved: object, oracle: object, oracles: tuple[str, ...]) -> None:
        """Put back a session's settings, its oracle unless a batch waits for a person, and its loss curve."""
        self.progress.restore_losses(*self.choices.restore(saved, None if self.answers.waiting else oracle, oracles))

    # ----- starting a run -----
    def _stopped_short(self) -> bool:
        """The last run was stopped before its goal: Resume goes on towards it."""
        exp = self.experiment
        if exp is None or self.running or self.answers.waiting:
            return False
        return not exp.nets if self._goal is None else self.history_len() < self._goal

    def _start(self, goal: Goal, new: bool, keep_base: bool = False) -> None:
        data = self.state.dataset
        if self._worker is not None:
            return
        if new:
            self.choices.forget_classes_of_another_label()
        settings = self.choices.settings_now()
        problem = self.choices.problem(settings)
        if problem is not None:
            self.view.show_error(problem)
            return
        if new:
            self.answers.drop_pending(self.experiment)
            self.reset_experiment()
        else:
            self._prepare_continue(settings)
        self._goal = goal
        if not keep_base or new:
            self._goal_base = self.history_len()
        self.answers.waiting = False
        self._run_data = data
        self._launch(data, settings, goal)

    def _prepare_continue(self, settings: RunSettings) -> None:
        """The GUI owns the experiment here: apply the settings that may change between runs."""
        exp = self.experiment
        assert exp is not None, "only a run that goes on prepares to continue"
        for key in ("queries", "queries_by", "alpha", "retrain_epochs"):
            setattr(exp.config, key, getattr(settings.config, key))
        self.answers.apply_manual(exp)
        if settings.oracle != OracleKind.HUMAN:
            self.answers.drop_pending(exp)           # the automatic oracle answers it now
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
        self.progress.start(goal, self._goal_base, estimating)
        self.refresh_controls()

    # ----- events from the worker (GUI thread) -----
    def on_event(self, event: Any) -> None:
        if isinstance(event, TrainEvent):
            self.progress.train(event)
        elif isinstance(event, BatchAnswered):
            self.progress.answered(event, self.history_len())
        elif isinstance(event, Snapshot):
            self._snapshot = event.experiment
            self.state.set_experiment(event.experiment)
        elif isinstance(event, NeedsAnswers):
            self.view.show_status(f"Waiting for your answers: {event.size} image(s) in the oracle queue.")
        elif isinstance(event, Created):
            self.experiment = event.experiment
        elif isinstance(event, ObservedClasses) and self._run_data is not None and self._settings is not None:
            self.choices.observed(event, self._run_data, self._settings.positive_label)
        elif isinstance(event, ModelOracleProgress):
            self.progress.oracle_progress(event.progress)
        elif isinstance(event, OracleReady) and self._settings is not None:
            self._model_oracle = (id(self._run_data), self._settings.positive_label, event.oracle)

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
        self.ended(RunOutcome.ERROR)
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
        if exp is not None:
            self._snapshot = None
            self.state.set_experiment(exp)
        self.answers.run_ended(exp, human=reason == RunOutcome.HUMAN)
        self.progress.ended(reason, sum(len(b) for b in self.state.queue.waiting()), self.experiment is not None)
        self.refresh_controls()
        self.view.run_ended(reason)

    # ----- the oracle queue -----
    def queue_changed(self) -> None:
        """A person answered (or the queue changed): answers join the experiment, its classes show at once, and
        a run that waited for them goes on."""
        if self._worker is not None:
            return
        if self.answers.answered(self.experiment):
            self._start(self._goal, new=False, keep_base=True)
        self.refresh_controls()

    # ----- data set and experiment changes -----
    def dataset_changed(self) -> None:
        if self._worker is not None:
            self._stop_flag.stopped = True
            self.engine.cancel()
        self.reset_experiment()
        self.choices.data_changed()
        self.refresh_controls()

    def reset_experiment(self) -> None:
        self.experiment = None
        self._snapshot = None
        self.answers.waiting = False
        self._goal, self._goal_base = None, 0
        self.progress.reset()

    def adopt_experiment(self) -> None:
        """An experiment set by someone else (e.g. a loaded session) becomes the live one."""
        exp = self.state.experiment
        if self._worker is not None or exp is None or exp is self.experiment or exp is self._snapshot:
            return
        self.reset_experiment()
        self.experiment = exp
        for record in exp.history:
            self.progress.add_record(record, running=False)
        self.refresh_controls()

    def refresh_controls(self) -> None:
        """The commands a person may use in the phase now, and the phase in the status bar's words."""
        phase = self.phase
        human = self.form.oracle == OracleKind.HUMAN
        self.view.show_controls(controls_in(phase, self.state.dataset is not None, human))
        self.view.show_phase(phase, phase_text(phase, sum(len(b) for b in self.state.queue.waiting())))
