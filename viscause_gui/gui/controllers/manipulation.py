"""The Manipulator panel's searches (Qt-free): which manipulation is on screen, the jobs that compute
them, and the batches it sends to the oracle queue.

The panel is its view (`ManipulatorView`): it says what a person chose (target class, α, search) and
shows what this controller finds. A manipulation runs in a worker on a private copy of the causal nets
(a ManipulatorModel, so it never races the training thread); a newer α or target supersedes the search
still running for an older one, results are cached per (target, α) until the image, the search or the
model changes, and while nothing else runs a background sweep fills the cache for the slider's steps
(stopped while a training run goes on, resumed once when it ends).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from viscause_gui.core.method.experiment import QueryBatch
from viscause_gui.core.method.manipulator import ManipulationResult
from viscause_gui.core.method.manipulator_model import ManipulatorModel, default_targets
from viscause_gui.core.system.foreground import yield_to_foreground

AUTO = -1                       # the target "the most likely class other than C(i)"
SWEEP_ALPHAS = np.round(np.linspace(0.0, 1.0, 21), 2)   # prefetched in the background (slider steps)
PATH_STEPS = 6                  # images in the path strip (manifold search)
MAX_SELECTION = 5000            # images manipulated at once by "Manipulate selection"
NO_MODEL = "Train a causal net first (Learning panel): the manipulator moves images between causal classes."
NO_IMAGE = "Select an image in the browser or draw one on the canvas to manipulate it."

Key = tuple[int, float]         # (target class, α) of a manipulation


# ----------------------------------------------------------------- worker bodies

def path_of(model: ManipulatorModel, image: np.ndarray, result: ManipulationResult) -> np.ndarray | None:
    """The path strip's images of a manifold result (None for a pixel search): decoded in the
    worker, not on the GUI thread."""
    if result.codes is None or model.generative is None:
        return None
    return model.path(image, result.codes[0], PATH_STEPS)


def manipulate_one(model: ManipulatorModel, image: np.ndarray, target: int, alpha: float,
                   cancelled: Callable[[], bool]) -> tuple[ManipulationResult, bool, np.ndarray | None]:
    """Worker body: one image towards one class; also says whether the search was cut short, and
    the path strip's images."""
    hit: list[bool] = []

    def check() -> bool:
        if cancelled():
            hit.append(True)
            return True
        return False

    result = model.manipulate(image[None], np.array([target]), alpha, check)
    return result, bool(hit), None if hit else path_of(model, image, result)


def sweep_alphas(model: ManipulatorModel, image: np.ndarray, target: int, alphas: list[float],
                 cancelled: Callable[[], bool]) -> Iterator[tuple[Key, ManipulationResult, np.ndarray | None]]:
    """Worker body (generator): the manipulation at each α in turn, for the cache.

    Background work: before each α it lets a busy GUI thread go first (core.foreground).
    """
    for alpha in alphas:
        yield_to_foreground()
        if cancelled():
            return
        result = model.manipulate(image[None], np.array([target]), alpha)
        yield (target, alpha), result, path_of(model, image, result)


def manipulate_many(model: ManipulatorModel, images: np.ndarray, target: int, alpha: float,
                    index: np.ndarray) -> tuple[ManipulationResult, np.ndarray, np.ndarray, np.ndarray]:
    """Worker body for a selection: targets (AUTO: per image) and the manipulations."""
    probs = model.predict(images)
    targets = default_targets(probs) if target == AUTO else np.full(len(images), target, np.int64)
    return model.manipulate(images, targets, alpha), images, targets, index


# ----------------------------------------------------------------- the controller

@dataclass(frozen=True)
class Choice:
    """What a person chose in the panel."""

    target: int | None          # a causal class, or AUTO (None: nothing chosen yet, as AUTO)
    alpha: float
    search: str | None          # PIXELS, MANIFOLD or PATCHES


class ManipulatorView(Protocol):
    def chosen(self) -> Choice: ...
    def show_model(self, model: ManipulatorModel | None) -> None: ...     # the searches and classes it offers
    def show_message(self, text: str) -> None: ...                        # no model or no image: say what to do
    def show_original(self, image: np.ndarray, probs: np.ndarray, p_man: float | np.ndarray) -> None: ...
    def show_result(self, image: np.ndarray, key: Key, result: ManipulationResult,
                    path: np.ndarray | None) -> None: ...                  # path: the manifold's strip, or None
    def show_status(self, text: str) -> None: ...
    def show_selection_running(self, running: bool) -> None: ...
    def tabbed_away(self) -> bool: ...                                     # hidden behind another dock tab


class Workers(Protocol):
    """The app's WorkerPool (callbacks on the GUI thread)."""

    def start(self, key: str, func: Callable[..., Any], *args: Any, on_yield: Callable[..., Any] | None = None,
              on_return: Callable[..., Any] | None = None,
              on_error: Callable[[BaseException], Any] | None = None) -> Any: ...
    def cancel(self, key: str) -> None: ...
    def is_running(self, key: str) -> bool: ...
    def report_failure(self, message: str) -> None: ...


class ManipulationController:
    """The manipulation on screen, its cache and its jobs; sends results to the oracle queue."""

    def __init__(self, state: Any, view: ManipulatorView, workers: Workers):
        self.state, self.view, self.workers = state, view, workers
        self.model: ManipulatorModel | None = None
        self.probs: np.ndarray | None = None          # C(i) probabilities of the current image
        self.result: ManipulationResult | None = None
        self.result_key: Key | None = None
        self.cache: dict[Key, ManipulationResult] = {}
        self.paths: dict[Key, np.ndarray | None] = {}   # path strips of the cached results
        self.prefetch = True           # sweep the slider's α steps in the background when idle
        self._seq = 0                  # the latest request: an older search's result is dropped
        self._gen = 0                  # image / model generation: results for an older one are dropped
        self._wanted_target: int | None = None
        self._dirty = False
        self._learning = False         # a training run was going on at the last worker change

    # ----- model and image -----
    def reload_model(self) -> None:
        """Copy the experiment's nets (state.experiment is never being trained when this runs)."""
        exp = self.state.experiment
        self.model = exp.manipulator_model() if exp is not None and exp.nets else None
        self.view.show_model(self.model)
        if self.model is not None:
            self.model.search = self.view.chosen().search
        self.image_changed()

    def search_changed(self) -> None:
        search = self.view.chosen().search
        if self.model is not None and search in self.model.searches:
            self.model.search = search
            self.image_changed()           # new search: nothing cached for the old one may show

    def image_changed(self) -> None:
        """A new image (or model, or search): nothing cached shows, and a search for the old one must not land."""
        self.cache.clear()
        self.paths.clear()
        self._gen += 1
        self._seq += 1
        self.result, self.result_key = None, None
        if self.view.tabbed_away():         # a hidden dock tab: catch up when it is shown
            self._dirty = True
            return
        image = self.state.current_image
        if self.model is None or image is None:
            self.probs = None
            self.view.show_message(NO_MODEL if self.model is None else NO_IMAGE)
            return
        self.probs = self.model.predict(image)[0]
        p_man = self.probs @ self.model.causal_levels      # P(T=1 | man i); over K > 2 outcomes P(T | man i), (K,)
        self.view.show_original(image, self.probs, float(p_man) if np.ndim(p_man) == 0 else p_man)
        self.request()

    def shown(self) -> None:
        """The panel is shown again: catch up with what changed while it was tabbed away."""
        if self._dirty:
            self._dirty = False
            self.image_changed()

    # ----- the manipulation asked for -----
    def target(self) -> int | None:
        """The causal class asked for (auto resolved for the current image)."""
        if self.probs is None:
            return None
        data = self.view.chosen().target
        return int(default_targets(self.probs)[0]) if data in (None, AUTO) else int(data)

    def request(self) -> None:
        """Show the manipulation for the chosen (target, α): from the cache or a new search."""
        alpha = self.view.chosen().alpha
        target = self.target()
        if self.model is None or target is None or self.state.current_image is None:
            return
        key = (target, alpha)
        self._wanted_target = target        # read by the sweep worker: a plain int
        self._seq += 1
        if key in self.cache:
            self._show(key, self.cache[key])
            return
        seq = self._seq
        self.workers.start("manipulate", manipulate_one, self.model, self.state.current_image.copy(),
                           target, alpha, lambda: self._seq != seq,
                           on_return=lambda out, s=seq, k=key: self._arrived(s, k, out), on_error=self._failed)

    def _arrived(self, seq: int, key: Key, out: tuple[ManipulationResult, bool, np.ndarray | None]) -> None:
        result, cut_short, path = out
        if seq != self._seq or cut_short:
            return
        self.cache[key] = result
        self.paths[key] = path
        self._show(key, result)
        self._start_sweep(key[0])

    def _show(self, key: Key, result: ManipulationResult) -> None:
        image = self.state.current_image
        self.result, self.result_key = result, key
        model = self.model
        path = None
        if result.codes is not None and model is not None and model.generative is not None:
            path = self.paths.get(key)
            if path is None:                  # not decoded by a worker (e.g. set from outside)
                path = path_of(model, image, result)
        self.view.show_result(image, key, result, path)

    def _failed(self, exc: BaseException) -> None:
        self.view.show_status(f"Manipulation failed: {exc}")
        self.workers.report_failure(f"manipulate: {exc}")

    # ----- the background sweep -----
    def _start_sweep(self, target: int) -> None:
        """Fill the cache for the slider's steps, nearest α first (not while a run trains)."""
        if not self.prefetch or self.workers.is_running("learning") or self.state.current_image is None:
            return
        todo = [float(a) for a in SWEEP_ALPHAS if (target, float(a)) not in self.cache]
        if not todo:
            return
        alpha = self.view.chosen().alpha
        todo.sort(key=lambda a: abs(a - alpha))
        gen = self._gen
        self.workers.start("manipulate-sweep", sweep_alphas, self.model, self.state.current_image.copy(),
                           target, todo, lambda: self._gen != gen or self._wanted_target != target,
                           on_yield=lambda out, g=gen: self._swept(g, *out))

    def _swept(self, gen: int, key: Key, result: ManipulationResult, path: np.ndarray | None = None) -> None:
        if gen == self._gen and key not in self.cache:
            self.cache[key] = result
            self.paths[key] = path

    def workers_changed(self) -> None:
        """A training run stops the background sweep (the model changes under it); its end resumes it."""
        learning, was_learning = self.workers.is_running("learning"), self._learning
        self._learning = learning          # first: starting the sweep below changes the workers again
        if learning:
            self.workers.cancel("manipulate-sweep")
        elif was_learning and self.result_key is not None:
            self._start_sweep(self.result_key[0])

    # ----- the oracle queue -----
    def send_current(self) -> None:
        """Queue the manipulation on screen as a one-image batch for the oracle."""
        if self.result is None or self.result_key is None or self.model is None:
            self.view.show_status("No manipulation on screen yet.")
            return
        index = self.state.current_index if self.state.current_index is not None else -1
        batch = QueryBatch.manual(self.result, self.state.current_image[None], np.array([self.result_key[0]]),
                                  [index], self.model.iteration)
        self._enqueue(batch)

    def send_selection(self) -> None:
        """Manipulate every selected image (in a worker) and queue them as one batch."""
        sel = np.asarray(self.state.selection, np.int64)
        if self.model is None or self.state.dataset is None or not len(sel):
            self.view.show_status("Select images in the browser first.")
            return
        sel = sel[:MAX_SELECTION]
        self.view.show_selection_running(True)
        self.view.show_status(f"Manipulating {len(sel)} images…")
        chosen = self.view.chosen()
        self.workers.start("manipulate-selection", manipulate_many, self.model, self.state.dataset.images[sel],
                           AUTO if chosen.target is None else int(chosen.target), chosen.alpha, sel,
                           on_return=self._selection_done, on_error=self._selection_failed)

    def _selection_done(self, out: tuple[ManipulationResult, np.ndarray, np.ndarray, np.ndarray]) -> None:
        result, originals, targets, index = out
        self.view.show_selection_running(False)
        if self.model is not None:
            self._enqueue(QueryBatch.manual(result, originals, targets, index.tolist(), self.model.iteration))

    def _selection_failed(self, exc: BaseException) -> None:
        self.view.show_selection_running(False)
        self._failed(exc)

    def _enqueue(self, batch: QueryBatch) -> None:
        self.state.queue.add(batch)
        waiting = sum(len(b) for b in self.state.queue.waiting())
        self.view.show_status(f"Queued {len(batch)} image(s); {waiting} waiting for the oracle.")
