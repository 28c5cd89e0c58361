"""The observational classes a run found and those the readout estimated at the same time: the data set shows
the run's (its experiment answers for them) and the readout learns whichever the data set shows."""
from __future__ import annotations

import numpy as np

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.observe import ObservedClasses
from viscause_gui.gui.controllers.observational import ObservationalController
from viscause_gui.gui.controllers.run_choices import RunChoices
from viscause_gui.gui.state import AppState


class StartedJobs:
    """A worker pool that records the jobs started and runs none."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, key: str, *args, **kwargs) -> None:
        self.started.append(key)

    def cancel(self, key: str) -> None:
        pass


def samples_only(n: int = 40) -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset(images=rng.random((n, 6, 6)).astype(np.float32), t=rng.integers(0, 2, n), name="samples")


def found(n: int, k: int) -> ObservedClasses:
    obs = np.arange(n) % k
    return ObservedClasses(obs, (obs / max(k - 1, 1)).astype(np.float64))


def test_the_runs_classes_replace_those_the_readout_estimated_meanwhile(qapp):
    state = AppState()
    data = samples_only()
    state.set_dataset(data)
    readout = ObservationalController(state, StartedJobs())
    readout._progress((data, found(len(data), 12)))          # the readout's estimate arrives first
    assert int(data.obs_class.max()) + 1 == 12
    changed: list[bool] = []
    state.classes_changed.connect(lambda: changed.append(True))
    choices = RunChoices(state, form=None, recipe=None, view=None)
    choices.observed(found(len(data), 3), data, None)            # the run's own, which its experiment uses
    assert int(data.obs_class.max()) + 1 == 3 and changed


def test_the_readout_learns_the_classes_the_data_set_shows(qapp):
    state = AppState()
    data = samples_only()
    jobs = StartedJobs()
    readout = ObservationalController(state, jobs)
    state.set_dataset(data)
    assert jobs.started == [readout.KEY]                         # it estimates the classes itself
    run = found(len(data), 3)
    RunChoices(state, form=None, recipe=None, view=None).observed(run, data, None)   # a run was quicker
    assert jobs.started == [readout.KEY] * 2                      # so it learns the run's classes
    readout._progress((data, found(len(data), 12)))               # the first job's estimate, late: dropped
    assert data.obs_class is run.obs_class
    assert jobs.started == [readout.KEY] * 2
    state.classes_changed.emit()                                  # causal classes changed: nothing to relearn
    assert jobs.started == [readout.KEY] * 2


def test_a_readout_estimate_after_a_runs_classes_starts_it_on_the_runs(qapp):
    state = AppState()
    data = samples_only()
    jobs = StartedJobs()
    readout = ObservationalController(state, jobs)
    state.set_dataset(data)
    data.obs_class = found(len(data), 3).obs_class                # set by a run without a signal yet
    readout._progress((data, found(len(data), 12)))
    assert int(data.obs_class.max()) + 1 == 3 and jobs.started == [readout.KEY] * 2
