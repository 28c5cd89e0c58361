"""Drive an Experiment towards a goal with an automatic oracle, or up to the first batch a person
must answer; the events a worker passes to the GUI thread.

`drive` is a generator for a worker thread: it yields `TrainEvent`s while the causal nets train,
`Snapshot`s (a frozen copy with its own nets, safe to read on another thread) after each
training, `BatchAnswered` after each answered batch and `NeedsAnswers` when a person must
answer. Stopping between yields leaves the experiment resumable.
"""
from __future__ import annotations

import copy
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from viscause_gui.core.method.experiment import Experiment, IterationRecord, TrainEvent
from viscause_gui.core.method.oracles import Oracle


class RunOutcome(StrEnum):
    """How a run ended (strings, so that events, signals and saved sessions stay plain text)."""

    GOAL = "goal"          # the goal was reached
    DONE = "done"          # the experiment has no iterations left
    HUMAN = "human"        # a batch waits for a person's answers
    STOPPED = "stopped"    # stopped by the person (the experiment is kept)
    ERROR = "error"        # failed; the message says why


@dataclass
class Snapshot:
    """The experiment after Algorithm 1 or after a training phase (safe to read anywhere)."""
    experiment: Experiment


@dataclass
class BatchAnswered:
    kind: str
    iteration: int
    record: IterationRecord | None        # Algorithm 2: the new MErr / MDist row


@dataclass
class NeedsAnswers:
    """The driver stopped: a person must answer `size` queries (Experiment.pending)."""
    kind: str
    iteration: int
    size: int


Goal = int | None   # the number of history rows to reach; None = Algorithm 1 and a trained net


def drive(exp: Experiment, oracle: Oracle | None, goal: Goal) -> Generator[Any, None, str]:
    """Run exp.steps() until the goal; yields TrainEvent, Snapshot, BatchAnswered, NeedsAnswers.

    Returns "goal" (reached), "done" (the experiment has no iterations left) or "human" (a
    batch waits in exp.pending for answers). Stopping between yields leaves exp resumable.
    """
    exp.rewind()
    if goal is not None and len(exp.history) >= goal and exp.pending is None:
        return RunOutcome.GOAL
    if goal is not None:
        exp.config.iterations = max(goal, 1)
    elif exp.causal_labels is None:
        exp.config.iterations = max(exp.config.iterations, 1)
    for event in exp.steps():
        if isinstance(event, TrainEvent):
            yield event
            continue
        if event.kind != "algorithm1":
            yield Snapshot(exp.snapshot())      # nets just trained
            if goal is None:
                return RunOutcome.GOAL
        if oracle is None:
            yield NeedsAnswers(event.kind, event.iteration, len(event))
            return RunOutcome.HUMAN
        kind, iteration = event.kind, event.iteration
        exp.answer(oracle.answer(event.images))
        yield from _after_answer(exp, kind, iteration)
        if goal is not None and len(exp.history) >= goal:
            return RunOutcome.GOAL
    return RunOutcome.DONE


def _after_answer(exp: Experiment, kind: str, iteration: int) -> Iterator[Any]:
    record = copy.copy(exp.history[-1]) if kind == "algorithm2" else None
    yield BatchAnswered(kind, iteration, record)
    if kind == "algorithm1" and exp.causal_labels is not None:    # else the premise check asks more first
        yield Snapshot(exp.snapshot())
