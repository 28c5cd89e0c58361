"""The learning run as a worker body (Qt-free): create the experiment, get the oracle, drive it.

The learning panel starts `learning_job` in a WorkerPool generator worker; the events it yields
(core.method.driver's events plus the ones below) are handled on the GUI thread. Which settings
and model oracle a data set gets comes from the experiment registry (`Recipe`), never from a
data set's name.
"""
from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.experiments.registry import Recipe, Truth
from viscause_gui.core.method.driver import Goal, RunOutcome, drive
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig, TrainEvent
from viscause_gui.core.method.observe import (ObservationalDataError, ObservedClasses, ObserveRecipe,
                                              estimate_observational_classes, observational_problem)
from viscause_gui.core.method.oracles import Oracle, train_model_oracle
from viscause_gui.core.nets.training import TrainFn, TrainProgress, map_yields, train_steps
from viscause_gui.core.runtime.training_process import InChildTraining, TrainingProcess
from viscause_gui.core.system.foreground import paced
from viscause_gui.gui.models.run_form import PluggedChoice


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
class ModelOracleProgress:
    progress: TrainProgress


@dataclass
class OracleReady:
    oracle: Oracle


@dataclass
class StopFlag:
    """Set by the GUI thread, read by the worker inside long calls that cannot yield."""
    stopped: bool = False


@dataclass
class RunSettings:
    config: ExperimentConfig
    oracle: str                  # OracleKind's truth, model or human, or "plugged" (a file a person chose)
    positive_label: int | None   # T = 1 for this label when the data set has only labels
    recipe: Recipe | None = None  # an experiment's settings and model oracle for this data set
    plugged: PluggedChoice | None = None   # the oracle "plugged" answers with
    observe: ObserveRecipe | None = None   # how classes are found from samples of T (a data recipe's; None: default)

    @classmethod
    def for_data(cls, data: Dataset, oracle: str, positive_label: int | None, recipe: Recipe | None,
                 plugged: PluggedChoice | None = None, **values: Any) -> RunSettings:
        """The settings a person chose (`values`: ExperimentConfig fields) over the recipe's."""
        base = {} if recipe is None else dict(recipe.config)
        return cls(ExperimentConfig.from_json({**base, **values}), oracle, positive_label, recipe, plugged)


def run_fraction(event: TrainEvent, goal: Goal, goal_base: int) -> float:
    """How far a run towards `goal` (history rows, from `goal_base`) is at this training event, in
    [0, 1]: every ensemble member's epochs count (three nets of 30 epochs are 90 steps, not 30)."""
    span = 1 if goal is None else max(goal - goal_base, 1)
    p = event.progress
    within = (event.member + p.epoch / max(p.epochs, 1)) / max(event.members, 1)
    return min(max((event.iteration - 1 - goal_base + within) / span, 0.0), 1.0)


def learning_job(data: Dataset, exp: Experiment | None, settings: RunSettings, truth: Truth | None,
                 model_oracle: Oracle | None, goal: Goal, stop: StopFlag | None = None,
                 process: TrainingProcess | None = None):
    """Worker body: create the experiment if needed, get the oracle, then drive to the goal.

    With `process`, the causal nets train in that child process (the GUI thread then never
    shares Python's lock with training). Paced: after each event the job waits until the GUI
    has drawn it, so the work between trainings does not compete with those redraws either.
    """
    return (yield from paced(_learning_events(data, exp, settings, truth, model_oracle, goal,
                                              stop or StopFlag(), process)))


def _learning_events(data: Dataset, exp: Experiment | None, settings: RunSettings, truth: Truth | None,
                     model_oracle: Oracle | None, goal: Goal, stop: StopFlag,
                     process: TrainingProcess | None):
    try:
        if exp is None:
            exp = yield from _new_experiment(data, settings, stop)
            yield Created(exp)
        if process is not None and not isinstance(exp.train_fn, InChildTraining):
            exp.train_fn = process.wrap(exp.train_fn)
        if process is not None and not isinstance(exp.generative_train_fn, InChildTraining):
            exp.generative_train_fn = process.wrap(exp.generative_train_fn)
        oracle = None
        if settings.oracle == "truth":
            if truth is None:
                raise ValueError("this data set has no truth oracle")
            oracle = truth.oracle()
        elif settings.oracle == "plugged":
            if settings.plugged is None:
                raise ValueError("no file or module was chosen for the plugged oracle")
            oracle = settings.plugged.load(exp.data.shape, exp.n_outcomes)
        elif settings.oracle == "model":
            oracle = model_oracle
            if oracle is None:
                oracle = yield from _train_oracle(exp.data, settings,
                                                  train_steps if process is None else process.wrap(train_steps))
                yield OracleReady(oracle)
        return (yield from drive(exp, oracle, goal))
    except Exception as exc:  # every failure reaches the user as a message
        if stop.stopped:
            return RunOutcome.STOPPED
        return Failure(str(exc) or type(exc).__name__)


def _new_experiment(data: Dataset, settings: RunSettings, stop: StopFlag
                    ) -> Generator[ObservedClasses, None, Experiment]:
    """The experiment on `data`, its observational classes found first when it has none."""
    problem = observational_problem(data, settings.positive_label)
    if problem is not None:
        raise ObservationalDataError(problem)
    found = estimate_observational_classes(data, settings.positive_label, settings.config.seed,
                                           cancelled=lambda: stop.stopped, recipe=settings.observe)
    if found is not None:
        yield found
        data = found.added_to(data)
    return Experiment(data, settings.config)


def _train_oracle(data: Dataset, settings: RunSettings, train_fn: TrainFn):
    """The recipe's model oracle, or the generic one; train_fn: train_steps, or it run in the
    training process."""
    recipe = settings.recipe
    if recipe is not None and recipe.model_oracle is not None:
        steps = recipe.model_oracle(data, settings.positive_label, settings.config.seed, train_fn)
    else:
        steps = train_model_oracle(data, settings.positive_label, settings.config.seed, train_fn=train_fn)
    return (yield from map_yields(steps, ModelOracleProgress))
