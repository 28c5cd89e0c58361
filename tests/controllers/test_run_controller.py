"""The learning run's state machine (gui.controllers.run) with a mock view and an engine that runs the
job right away, no Qt: what a person would see at each step, as calls on the view."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.method.experiment import MANUAL, QueryBatch
from viscause_gui.gui.controllers.learning import learning_job
from viscause_gui.gui.controllers.recipe import RecipeModel
from viscause_gui.gui.controllers.run import RunController
from viscause_gui.gui.controllers.run_phase import IDLE, STOPPED, WAITING, Controls
from viscause_gui.gui.models.run_form import RunForm
from viscause_gui.gui.state import AppState

pytestmark = pytest.mark.slow      # each test trains GRATING's causal net


class MockView:
    """Keeps what the controller shows."""

    def __init__(self) -> None:
        self.status: list[str] = []
        self.errors: list[str] = []
        self.controls: Controls | None = None
        self.phase = ("", "")
        self.records: list[Any] = []
        self.ended: list[str] = []
        self.queue_shown = 0
        self.label_shown: bool | None = None
        self.confirm = True

    def show_status(self, text): self.status.append(text)
    def show_error(self, text): self.errors.append(text)
    def show_progress(self, text=None, value=None): pass
    def show_controls(self, controls): self.controls = controls
    def show_phase(self, phase, text): self.phase = (phase, text)
    def add_record(self, record, running): self.records.append(record)
    def clear_records(self): self.records.clear()
    def show_losses(self, train, val, now): pass
    def finish_drawing(self): pass
    def show_queue(self): self.queue_shown += 1
    def show_label_choice(self, shown): self.label_shown = shown
    def run_ended(self, reason): self.ended.append(reason)
    def confirm_new_experiment(self, exp): return self.confirm
    def show_recipe(self, shown): pass


class RightAwayEngine:
    """Runs the learning job to its end inside start(), calling back as the worker pool would."""

    def __init__(self) -> None:
        self.started = 0
        self.failures: list[str] = []

    def start(self, job_args, on_event, on_return, on_error, on_finished, on_paused, on_resumed):
        self.started += 1
        handle = _Handle()
        self._pending = (job_args, on_event, on_return, on_finished, handle)
        return handle

    def finish(self) -> None:
        """The worker's run, then its return and its `finished` (as the pool delivers them)."""
        job_args, on_event, on_return, on_finished, handle = self._pending
        job = learning_job(*job_args)
        try:
            while True:
                on_event(next(job))
        except StopIteration as stop:
            on_return(stop.value)
        on_finished("stopped", handle)

    def cancel(self) -> None: pass
    def report_failure(self, message): self.failures.append(message)


class _Handle:
    is_paused = False
    def pause(self): self.is_paused = True
    def resume(self): self.is_paused = False


@pytest.fixture
def run():
    state = AppState()
    state.set_dataset(GratingModel().sample(300, 0))
    view, engine = MockView(), RightAwayEngine()
    controller = RunController(state, RunForm(epochs=2, retrain_epochs=1, queries=8), RecipeModel(view), view, engine)
    controller.dataset_changed()
    return controller


def _answer_by_truth(run: RunController) -> None:
    batch = run.experiment.pending
    answers = run.state.truth.oracle().answer(batch.images)
    run.state.queue.answer(batch, answers, run.experiment)


def test_a_human_oracle_run_waits_says_so_and_goes_on_once_answered(run):
    view, engine = run.view, run.engine
    run.form.set(oracle="human")
    run.run_algorithm1()
    assert run.phase == "running" and view.controls.pause and not view.controls.run1
    engine.finish()
    assert view.ended == ["human"] and run.phase == WAITING and view.queue_shown == 1
    n = len(run.experiment.pending)
    assert view.phase == (WAITING, f"waiting for your answers ({n} images)")
    assert view.controls.stop and not view.controls.run2           # a batch waits for the person
    announced: list[int] = []
    run.state.classes_changed.connect(lambda: announced.append(1))
    _answer_by_truth(run)
    run.queue_changed()
    assert announced == [1]                      # Algorithm 1's answers made causal classes: said at once
    assert engine.started == 2 and run.phase == "running"           # the run went on by itself
    engine.finish()
    assert view.ended == ["human", "goal"] and run.phase == IDLE and run.experiment.nets


def test_stop_waiting_keeps_the_batch_and_resume_asks_again(run):
    run.form.set(oracle="human")
    run.run_algorithm1()
    run.engine.finish()
    batch = run.experiment.pending
    run.stop()                                    # while a batch waits: stop waiting
    assert run.phase == STOPPED and len(run.state.queue) == 0 and run.experiment.pending is batch
    assert run.view.controls.resume and run.view.phase == (STOPPED, STOPPED)
    run.form.set(oracle="truth")
    run.resume()
    run.engine.finish()
    assert batch.answers is not None and run.view.ended[-1] == "goal"


def test_answers_to_a_manual_batch_join_the_causal_data(run):
    run.run_algorithm1()
    run.engine.finish()
    images = run.state.dataset.images[:3]
    manual = QueryBatch(MANUAL, 0, images, np.arange(3))
    run.state.queue.add(manual)
    run.state.queue.answer(manual, np.array([1.0, 0.0, 1.0]), run.experiment)
    run.queue_changed()
    assert len(run.state.queue) == 0 and "3 answered image(s) join" in run.view.status[-1]


def test_a_new_experiment_asks_before_replacing_a_trained_one(run):
    run.run_algorithm1()
    run.engine.finish()
    trained = run.experiment
    run.view.confirm = False
    run.run_algorithm1()
    assert run.experiment is trained and run.engine.started == 1 and run.view.status[-1] == "The experiment is kept."


def test_a_problem_is_one_line_and_nothing_starts(run):
    run.form.set(oracle="python")                 # a plugged oracle with no file chosen
    run.run_algorithm1()
    assert run.engine.started == 0 and run.view.errors[-1].startswith("Choose the oracle's file first")


def test_session_settings_round_trip_with_old_keys_and_the_oracle(run):
    run.form.set(iterations=7, queries=12, alpha=0.25, oracle="human")
    saved = run.settings_for_session()
    assert saved["retrain_epochs"] == 1 and "oracle" not in saved
    other = RunController(run.state, RunForm(), RecipeModel(run.view), run.view, run.engine)
    other.restore_settings(saved, "human", ("truth", "model", "human"))
    assert (other.form.iterations, other.form.queries, other.form.alpha, other.form.oracle) == (7, 12, 0.25, "human")
    old = {"iterations": 3, "retrain": 4, "seed": "x", "queries": -1}          # a session of an older version
    other.restore_settings(old, "truth", ("model", "human"))                   # no truth for this data
    assert (other.form.iterations, other.form.retrain_epochs, other.form.seed) == (3, 4, 0)
    assert other.form.queries == 12 and other.form.oracle == "human" and other.form.queries_by == "random"
