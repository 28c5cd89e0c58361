"""The learning run's side of the oracle queue (Qt-free): the batch that waits for a person's answers,
and the answers a person gave on their own.

With the human oracle a run stops at a query batch; the batch waits in `state.queue` until it is
answered there, and then the run goes on (RunController starts it again). A waiting batch can be
left (Stop) or cut to a new Q while nobody has answered it. Manual batches (the Manipulator panel's)
join the causal data once answered, before the next training (over K > 2 outcomes as one distribution
per image: an answered outcome's index becomes its one-hot row).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from viscause_gui.core.data.outcomes import outcome_answers
from viscause_gui.core.method.driver import Goal
from viscause_gui.core.method.experiment import Experiment
from viscause_gui.gui.controllers.run_progress import RunProgress


class RunAnswers:
    """Whether a batch of the experiment waits for a person, and the queue traffic of the run's batches."""

    def __init__(self, state: Any, view: Any, progress: RunProgress):
        self.state, self.view, self.progress = state, view, progress
        self.waiting = False            # the experiment's pending batch waits in the queue for a person

    def wait(self, exp: Experiment, goal: Goal) -> tuple[Goal, int]:
        """A restored experiment's pending batch waits for a person; once it is answered the run goes on
        towards `goal` when that lies ahead (else to the end of Algorithm 1 or one more iteration).
        Returns the run's goal and the history length it counts from."""
        n = len(exp.history)
        pending = exp.pending
        assert pending is not None, "only a pending batch waits"
        self.waiting = True
        return (goal if isinstance(goal, int) and goal > n else (None if pending.kind == "algorithm1" else n + 1)), n

    def stop_waiting(self, exp: Experiment | None) -> None:
        """Take the waiting batch out of the oracle queue; the experiment keeps it, and Resume or
        Run Algorithm 2 asks the chosen oracle for it again."""
        self.waiting = False
        if exp is not None and exp.pending is not None:
            self.state.queue.remove(exp.pending)
        self.view.show_status("Stopped waiting for answers. The experiment is kept: Resume (F7) or Run Algorithm 2 "
                              "asks the chosen oracle for that batch again.")
        self.view.show_progress("stopped")

    def queries_changed(self, exp: Experiment | None, queries: int) -> None:
        """A new Q applies to the next batch; a batch waiting for a person and not answered yet is cut
        to it now."""
        if not self.waiting or exp is None or exp.pending is None:
            return
        old = exp.pending
        if self.state.queue.answered_any(old):
            self.view.show_status(f"Q = {queries} applies from the next batch (this one is answered in part).")
            return
        new = exp.shrink_pending(queries)
        if new is not None:
            self.state.queue.replace(old, new)
            self.view.show_status(f"The waiting batch now has {len(new)} image(s) (Q = {queries}).")

    def run_ended(self, exp: Experiment | None, human: bool) -> None:
        """A run ended (the GUI owns the experiment again): manual answers join it, and the batch a human
        oracle stopped at waits in the queue, shown to the person."""
        pending = exp.pending if exp is not None and human else None
        self.waiting = pending is not None
        self.apply_manual(exp)
        if pending is not None:
            self.state.queue.add(pending)
            self.view.show_queue()

    def answered(self, exp: Experiment | None) -> bool:
        """The queue changed while no run goes on: answers join the experiment, its classes and records show
        at once. True when the batch the run waited for is answered (the run goes on)."""
        self.apply_manual(exp)
        if exp is None:
            return False
        for record in exp.history[self.progress.records_shown:]:    # a person answered Algorithm 2's batch
            self.progress.add_record(record, running=False)
        self.state.show_classes_of(exp)                      # Algorithm 1's answers made causal classes
        if not self.waiting:
            return False
        if exp.pending is None:
            self.waiting = False
            return True
        if not any(b is exp.pending for b in self.state.queue):
            self.state.queue.add(exp.pending)   # Algorithm 1 asks more representatives (its premise check)
        return False

    def apply_manual(self, exp: Experiment | None) -> None:
        """Answered manual batches join the causal data (only while no worker owns the experiment)."""
        if exp is None or exp.causal_levels is None:
            return
        done = self.state.queue.answered_manual()
        added = sum(int((exp.add_answers(b.images, _rows(b, exp)) >= 0).sum()) for b in done)
        if done:
            self.state.queue.remove(*done)
            self.view.show_status(f"{added} answered image(s) join the causal data at the next training.")

    def drop_pending(self, exp: Experiment | None) -> None:
        """The experiment's batch no longer waits in the queue (a new experiment, or another oracle answers it)."""
        if exp is not None and exp.pending is not None and self.state.queue.contains(exp.pending):
            self.state.queue.remove(exp.pending)


def _rows(batch: Any, exp: Experiment) -> np.ndarray:
    """A manual batch's answers as the experiment takes them: P(T=1) per image, or over K > 2 outcomes
    (B, K) rows (the answer session hands on an outcome's index where an image has one)."""
    if exp.n_outcomes <= 2:
        return batch.answers
    return outcome_answers(batch.answers, len(batch), exp.n_outcomes)
