"""The Manipulator panel's searches (gui.controllers.manipulation) with a mock view, workers that run when
told and a stand-in manipulator, no Qt widgets: what shows for which (target, α), which search a newer
request supersedes, the cache and its background sweep, and the batches sent to the oracle queue."""
from __future__ import annotations

import inspect
from types import SimpleNamespace

import numpy as np
import pytest

from viscause_gui.core.method.experiment import MANUAL
from viscause_gui.core.method.manipulator import ManipulationResult
from viscause_gui.gui.controllers.manipulation import (AUTO, NO_IMAGE, NO_MODEL, SWEEP_ALPHAS, Choice,
                                                       ManipulationController)
from viscause_gui.gui.state import OracleQueue


class StandIn:
    """A manipulator over two causal classes: P(C = 1) is the image's mean; a manipulation inverts the
    image, and α is its distance."""

    searches = ("pixels",)
    search: str | None = None
    generative = None
    binary = True
    iteration = 3
    causal_levels = np.array([0.1, 0.9])

    def predict(self, images):
        images = np.asarray(images, np.float32).reshape(-1, 4, 4)
        p = images.mean(axis=(1, 2))
        return np.stack([1.0 - p, p], axis=1)

    def manipulate(self, images, targets, alpha, cancelled=None):
        if cancelled is not None:
            cancelled()
        n = len(images)
        return ManipulationResult(images=1.0 - images, p_target=np.full(n, 0.8), predicted_class=np.asarray(targets),
                                  distance=np.full(n, 10.0 * alpha), steps=1)


class MockView:
    def __init__(self) -> None:
        self.choice = Choice(AUTO, 0.5, "pixels")
        self.messages: list[str] = []
        self.originals = 0
        self.results: list[tuple[int, float]] = []
        self.status: list[str] = []
        self.selection_running: list[bool] = []
        self.hidden = False

    def chosen(self): return self.choice
    def show_model(self, model): pass
    def show_message(self, text): self.messages.append(text)
    def show_original(self, image, probs, p_man): self.originals += 1
    def show_result(self, image, key, result, path): self.results.append(key)
    def show_status(self, text): self.status.append(text)
    def show_selection_running(self, running): self.selection_running.append(running)
    def tabbed_away(self): return self.hidden


class Job(SimpleNamespace):
    pass


class Workers:
    """Jobs run when a test says so (the pool would run them in threads and call back on the GUI thread)."""

    def __init__(self) -> None:
        self.started: list[Job] = []
        self.cancelled: list[str] = []
        self.failures: list[str] = []
        self.learning = False

    def start(self, key, func, *args, on_yield=None, on_return=None, on_error=None):
        self.started.append(Job(key=key, func=func, args=args, on_yield=on_yield, on_return=on_return,
                                on_error=on_error))

    def last(self, key: str) -> Job:
        return [job for job in self.started if job.key == key][-1]

    def finish(self, job: Job) -> None:
        try:
            out = job.func(*job.args)
            if inspect.isgenerator(out):
                for item in out:
                    job.on_yield(item)
            else:
                job.on_return(out)
        except Exception as exc:         # noqa: BLE001 - as the pool hands any failure to on_error
            job.on_error(exc)

    def cancel(self, key): self.cancelled.append(key)
    def is_running(self, key): return key == "learning" and self.learning
    def report_failure(self, message): self.failures.append(message)


def _state(experiment=None) -> SimpleNamespace:
    images = np.zeros((6, 4, 4), np.float32)
    images[:3, 0] = 1.0                          # P(C = 1) 0.25: class 0; the others class 0 as well
    return SimpleNamespace(experiment=experiment, dataset=SimpleNamespace(images=images), current_image=images[0],
                           current_index=0, selection=np.zeros(0, np.int64), queue=OracleQueue())


@pytest.fixture
def jobs() -> ManipulationController:
    experiment = SimpleNamespace(nets=[object()], manipulator_model=StandIn)
    controller = ManipulationController(_state(experiment), MockView(), Workers())
    controller.reload_model()
    return controller


def test_without_a_net_or_an_image_the_view_says_what_to_do():
    controller = ManipulationController(_state(), MockView(), Workers())
    controller.reload_model()
    assert controller.model is None and controller.view.messages == [NO_MODEL]
    controller.state.experiment = SimpleNamespace(nets=[object()], manipulator_model=StandIn)
    controller.state.current_image = None
    controller.reload_model()
    assert controller.view.messages == [NO_MODEL, NO_IMAGE] and not controller.workers.started


def test_the_search_result_shows_and_a_second_look_comes_from_the_cache(jobs):
    view, workers = jobs.view, jobs.workers
    assert view.originals == 1 and jobs.target() == 1          # auto: the likelier class other than C(i) = 0
    workers.finish(workers.last("manipulate"))
    assert view.results == [(1, 0.5)] and jobs.result_key == (1, 0.5)
    assert jobs.result.distance[0] == 5.0
    view.choice = Choice(0, 0.5, "pixels")                    # another target: a new search
    jobs.request()
    workers.finish(workers.last("manipulate"))
    view.choice = Choice(AUTO, 0.5, "pixels")
    n = len(workers.started)
    jobs.request()
    assert view.results[-1] == (1, 0.5) and len(workers.started) == n     # at once, no worker


def test_a_newer_alpha_supersedes_the_search_for_an_older_one(jobs):
    view, workers = jobs.view, jobs.workers
    older = workers.last("manipulate")
    view.choice = Choice(AUTO, 0.9, "pixels")
    jobs.request()
    assert older.args[-1]()                                   # the older search is told to stop
    workers.finish(older)                                     # and its result, late, does not land
    assert view.results == [] and (1, 0.5) not in jobs.cache
    workers.finish(workers.last("manipulate"))
    assert view.results == [(1, 0.9)]


def test_the_sweep_fills_the_cache_nearest_alpha_first_but_not_while_a_run_trains(jobs):
    workers = jobs.workers
    workers.finish(workers.last("manipulate"))
    sweep = workers.last("manipulate-sweep")
    todo = sweep.args[3]
    assert todo[0] in (0.45, 0.55) and 0.5 not in todo and len(todo) == len(SWEEP_ALPHAS) - 1
    workers.finish(sweep)
    assert all((1, float(a)) in jobs.cache for a in SWEEP_ALPHAS)
    jobs.image_changed()                                      # a new image: nothing cached shows
    assert not jobs.cache
    workers.learning = True
    jobs.workers_changed()
    assert workers.cancelled == ["manipulate-sweep"]
    workers.finish(workers.last("manipulate"))
    assert workers.last("manipulate-sweep") is sweep          # no sweep while the run trains
    workers.learning = False
    jobs.workers_changed()
    jobs.workers_changed()                                    # the sweep's own start changes the workers again
    assert sum(job.key == "manipulate-sweep" for job in workers.started) == 2


def test_a_hidden_panel_catches_up_when_it_is_shown(jobs):
    jobs.view.hidden = True
    started = len(jobs.workers.started)
    jobs.image_changed()
    assert len(jobs.workers.started) == started and jobs.result is None
    jobs.view.hidden = False
    jobs.shown()
    assert len(jobs.workers.started) == started + 1 and jobs.view.originals == 2
    jobs.shown()                                              # once
    assert len(jobs.workers.started) == started + 1


def test_the_manipulation_on_screen_goes_to_the_queue(jobs):
    jobs.send_current()
    assert jobs.view.status[-1] == "No manipulation on screen yet." and not len(jobs.state.queue)
    jobs.workers.finish(jobs.workers.last("manipulate"))
    jobs.send_current()
    batch = jobs.state.queue[0]
    assert batch.kind == MANUAL and batch.targets.tolist() == [1] and batch.source_index.tolist() == [0]
    assert batch.iteration == 3 and jobs.view.status[-1] == "Queued 1 image(s); 1 waiting for the oracle."


def test_a_selection_is_manipulated_in_a_worker_and_queued_as_one_batch(jobs):
    jobs.send_selection()
    assert jobs.view.status[-1] == "Select images in the browser first."
    jobs.state.selection = np.array([1, 4, 5])
    jobs.send_selection()
    assert jobs.view.selection_running == [True] and jobs.view.status[-1] == "Manipulating 3 images…"
    jobs.workers.finish(jobs.workers.last("manipulate-selection"))
    batch = jobs.state.queue[0]
    assert jobs.view.selection_running == [True, False]
    assert batch.source_index.tolist() == [1, 4, 5] and batch.targets.tolist() == [1, 1, 1]   # auto: away from 0


def test_a_failed_search_says_so_and_is_reported(jobs):
    jobs.model.manipulate = lambda *args: (_ for _ in ()).throw(RuntimeError("out of memory"))
    jobs.state.selection = np.array([1])
    jobs.send_selection()
    jobs.workers.finish(jobs.workers.last("manipulate-selection"))
    assert jobs.view.selection_running == [True, False]
    assert jobs.view.status[-1] == "Manipulation failed: out of memory"
    assert jobs.workers.failures == ["manipulate: out of memory"]
