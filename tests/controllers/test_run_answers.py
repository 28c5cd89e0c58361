"""The learning run's side of the oracle queue (gui.controllers.run_answers) and the commands each phase
allows (gui.controllers.run_phase), with a mock view and no Qt widgets: nothing here trains a net."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from viscause_gui.core.experiments.grating import GratingModel, TruthOracle
from viscause_gui.core.method.experiment import MANUAL, Experiment, ExperimentConfig, QueryBatch
from viscause_gui.gui.controllers.run_answers import RunAnswers
from viscause_gui.gui.controllers.run_phase import (IDLE, PAUSED, RUNNING, STOPPED, WAITING, controls_in, phase_of,
                                                    phase_text)
from viscause_gui.gui.controllers.run_progress import RunProgress
from viscause_gui.gui.state import OracleQueue


class MockView:
    def __init__(self) -> None:
        self.status: list[str] = []
        self.progress: list[str | None] = []
        self.records: list = []
        self.queue_shown = 0

    def show_status(self, text): self.status.append(text)
    def show_progress(self, text=None, value=None): self.progress.append(text)
    def add_record(self, record, running): self.records.append(record)
    def show_queue(self): self.queue_shown += 1


class MockState:
    def __init__(self) -> None:
        self.queue = OracleQueue()
        self.announced: list = []

    def show_classes_of(self, exp): self.announced.append(exp)


@pytest.fixture
def answers() -> RunAnswers:
    view = MockView()
    return RunAnswers(MockState(), view, RunProgress(view))


def _algorithm1() -> Experiment:
    """An experiment whose Algorithm 1 batch waits for answers (nothing trained)."""
    gm = GratingModel()
    exp = Experiment(gm.sample(200, 0), ExperimentConfig(queries=4, seed=0))
    batch = next(exp.steps())
    assert batch is exp.pending and batch.kind == "algorithm1"
    return exp


def test_a_run_that_stops_for_a_person_puts_its_batch_in_the_queue_and_shows_it(answers):
    exp = _algorithm1()
    answers.run_ended(exp, human=True)
    assert answers.waiting and answers.state.queue.contains(exp.pending) and answers.view.queue_shown == 1
    assert not answers.answered(exp)                       # nothing answered yet: the run keeps waiting
    assert answers.state.announced == [exp]
    answers.state.queue.answer(exp.pending, TruthOracle(GratingModel()).answer(exp.pending.images), exp)
    assert exp.pending is None                             # Algorithm 1's answers made its causal classes
    assert answers.answered(exp) and not answers.waiting   # the run goes on


def test_an_automatic_oracle_leaves_nothing_waiting(answers):
    exp = _algorithm1()
    answers.run_ended(exp, human=False)
    assert not answers.waiting and len(answers.state.queue) == 0 and answers.view.queue_shown == 0


def test_a_batch_taken_out_of_the_queue_comes_back_while_the_run_waits(answers):
    exp = _algorithm1()
    answers.run_ended(exp, human=True)
    answers.state.queue.remove(exp.pending)             # e.g. a premise check asked for more representatives
    assert not answers.answered(exp)
    assert answers.state.queue.contains(exp.pending)


def test_stop_waiting_takes_the_batch_out_and_the_experiment_keeps_it(answers):
    exp = _algorithm1()
    batch = exp.pending
    answers.run_ended(exp, human=True)
    answers.stop_waiting(exp)
    assert not answers.waiting and len(answers.state.queue) == 0 and exp.pending is batch
    assert "Stopped waiting" in answers.view.status[-1] and answers.view.progress[-1] == "stopped"


def test_a_restored_batch_waits_towards_its_goal(answers):
    exp = _algorithm1()
    assert answers.wait(exp, 5) == (5, 0) and answers.waiting
    assert answers.wait(exp, None) == (None, 0)             # Algorithm 1: its end is the goal
    later = SimpleNamespace(history=[1, 2], pending=SimpleNamespace(kind="algorithm2"))
    assert answers.wait(later, 1) == (3, 2)                 # a goal behind it: one more iteration


def _waiting_algorithm2(n: int) -> tuple[SimpleNamespace, QueryBatch]:
    batch = QueryBatch("algorithm2", 1, np.zeros((n, 4, 4), np.float32), np.arange(n))

    def shrink(queries):
        exp.pending = batch.first(queries)
        return exp.pending

    exp = SimpleNamespace(pending=batch, history=[], shrink_pending=shrink, causal_levels=None)
    return exp, batch


def test_a_smaller_q_cuts_a_waiting_batch_nobody_answered(answers):
    exp, batch = _waiting_algorithm2(6)
    answers.state.queue.add(batch)
    answers.queries_changed(exp, 2)                         # not waiting (a run owns it): nothing changes
    assert exp.pending is batch
    answers.waiting = True
    answers.queries_changed(exp, 2)
    assert len(exp.pending) == 2 and answers.state.queue[0] is exp.pending
    assert answers.view.status[-1] == "The waiting batch now has 2 image(s) (Q = 2)."
    answers.state.queue.answer_count = lambda b: 1          # a person answered one of them
    answers.queries_changed(exp, 1)
    assert len(exp.pending) == 2 and "applies from the next batch" in answers.view.status[-1]


def test_answered_manual_batches_join_the_causal_data(answers):
    added: list[np.ndarray] = []
    exp = SimpleNamespace(causal_levels=np.array([0.0, 1.0]), pending=None, history=[], n_outcomes=2,
                          add_answers=lambda images, a: (added.append(a), np.array([0, -1, 1]))[1])
    manual = QueryBatch(MANUAL, 0, np.zeros((3, 4, 4), np.float32), np.arange(3))
    answers.state.queue.add(manual)
    answers.state.queue.answer(manual, np.array([0.0, np.nan, 1.0]), None)
    assert not answers.answered(exp)
    assert len(answers.state.queue) == 0 and len(added) == 1
    assert answers.view.status[-1] == "2 answered image(s) join the causal data at the next training."


@pytest.mark.parametrize(("running", "paused", "waiting", "short", "phase"), [
    (False, False, False, False, IDLE), (True, False, True, False, RUNNING), (True, True, False, True, PAUSED),
    (False, False, True, True, WAITING), (False, False, False, True, STOPPED)])
def test_the_phase(running, paused, waiting, short, phase):
    assert phase_of(running, paused, waiting, short) == phase


def test_what_each_phase_allows():
    idle = controls_in(IDLE, has_data=True, human_oracle=True)
    assert idle.run1 and idle.run2 and idle.step and idle.settings and not (idle.pause or idle.resume or idle.stop)
    assert not controls_in(IDLE, has_data=False, human_oracle=False).run1
    running = controls_in(RUNNING, True, False)
    assert running.pause and running.stop and not (running.run1 or running.resume or running.settings)
    paused = controls_in(PAUSED, True, False)
    assert paused.resume and paused.stop and not paused.pause
    waiting = controls_in(WAITING, True, human_oracle=True)
    assert waiting.stop and waiting.run1 and not waiting.run2 and not waiting.step and not waiting.resume
    assert controls_in(WAITING, True, human_oracle=False).run2          # another oracle answers the batch
    stopped = controls_in(STOPPED, True, False)
    assert stopped.resume and not stopped.stop and stopped.run2
    assert phase_text(WAITING, 8) == "waiting for your answers (8 images)"
    assert phase_text(IDLE, 0) == "" and phase_text(PAUSED, 0) == "paused"
