"""The Manipulator panel: slide α and watch the manipulator move the current image into a target causal class.

Shows the current image, its manipulation towards a chosen causal class, their difference
(red = ink added, blue = ink removed; on colour images red = brighter, blue = darker, purple =
colour changed), C of the result and the distance. The manipulation
runs in a worker on a private copy of the causal nets (so it never races the training
thread); a newer α or target supersedes the search still running for an older one, and
results are cached per (target, α) until the image or the model changes.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QStackedWidget, QToolButton, QVBoxLayout,
                               QWidget)

from viscause_gui.core.method.experiment import QueryBatch
from viscause_gui.core.method.manipulator import ManipulationResult
from viscause_gui.core.method.manipulator_model import MANIFOLD, PATCHES, PIXELS, ManipulatorModel, default_targets
from viscause_gui.core.runtime.foreground import yield_to_foreground
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.actions import if_alive, make_action
from viscause_gui.gui.widgets.images import (DIFFERENCE_LEGEND, difference_key, difference_rgb, image_box, image_view,
                                            is_colour, message_label, show_data_image, show_image)
from viscause_gui.gui.widgets.sliders import keyboard_slider
from viscause_gui.gui.workers import WorkerPool

AUTO = -1                       # combo data: "the most likely class other than C(i)"
SWEEP_ALPHAS = np.round(np.linspace(0.0, 1.0, 21), 2)   # prefetched in the background (slider steps)
PATH_STEPS = 6                  # images in the path strip (manifold search)
MAX_SELECTION = 5000            # images manipulated at once by "Manipulate selection"
NO_MODEL = "Train a causal net first (Learning panel): the manipulator moves images between causal classes."
NO_IMAGE = "Select an image in the browser or draw one on the canvas to manipulate it."


def unbroken(*parts: str) -> str:
    """Readout parts that wrap between each other, never inside one ("P(T=1|" / "man i)")."""
    # no-break spaces, and a word joiner after "|", where Qt's line breaking would break otherwise
    return "   ".join(part.replace(" ", "\u00a0").replace("|", "|\u2060") for part in parts)


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
                 cancelled: Callable[[], bool]):
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


class ManipulatorPanel(QWidget):
    """The α slider over the learned manipulator; sends results to the oracle queue."""

    result_shown = Signal(float)     # α of the manipulation now on screen

    def __init__(self, state: AppState, workers: WorkerPool, parent: QWidget | None = None):
        super().__init__(parent)
        self.state, self.workers = state, workers
        self.model: ManipulatorModel | None = None
        self.probs: np.ndarray | None = None          # C(i) probabilities of the current image
        self.result: ManipulationResult | None = None
        self.result_key: tuple[int, float] | None = None
        self._cache: dict[tuple[int, float], ManipulationResult] = {}
        self._paths: dict[tuple[int, float], np.ndarray | None] = {}   # path strips of the cached results
        self._seq = 0
        self._gen = 0                  # image / model generation: results for an older one are dropped
        self._wanted_target: int | None = None
        self._dirty = False
        self.prefetch = True           # sweep the slider's α steps in the background when idle
        self._learning = False         # a training run was going on at the last worker change
        self._build()
        state.model_changed.connect(self.reload_model)
        state.dataset_changed.connect(self.reload_model)
        state.current_image_changed.connect(self._image_changed)
        workers.busy_changed.connect(self._workers_changed)
        self.reload_model()

    # ----- layout -----
    def _build(self) -> None:
        self.stack = QStackedWidget()
        self.message = message_label(NO_MODEL)
        self.stack.addWidget(self.message)
        self.stack.addWidget(self._content())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.stack)

    def _content(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._controls())
        images = QHBoxLayout()
        boxes = [image_box("original  i"), image_box("manipulated  ĵ"),
                 image_box("difference")]
        self.original_item, self.result_item, self.diff_item = (item for _, item in boxes)
        self.diff_box = boxes[2][0]
        self.diff_key = QLabel(difference_key())     # colour images: what the difference's colours mean
        self.diff_key.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.diff_key.setVisible(False)
        self.diff_box.layout().addWidget(self.diff_key)
        self._show_difference_legend(False)
        for box, _ in boxes:
            box.setMinimumSize(120, 150)
            images.addWidget(box, 1)
        layout.addLayout(images, 1)
        self.path_box, self.path_items = self._path_strip()
        layout.addWidget(self.path_box)
        layout.addLayout(self._readout())
        layout.addLayout(self._buttons())
        return page

    def _controls(self) -> QFormLayout:
        form = QFormLayout()
        self.target_combo = QComboBox()
        self.target_combo.setToolTip("Causal class to move the image into (auto: the most likely class "
                                     "other than the image's own)")
        self.target_combo.currentIndexChanged.connect(self.request)
        self.alpha_slider = keyboard_slider()
        self.alpha_slider.setRange(0.0, 1.0)
        self.alpha_slider.setDecimals(2)
        self.alpha_slider.setSingleStep(0.05)
        self.alpha_slider.setValue(0.5)
        self.alpha_slider.setToolTip("α: 0 = reach the target class at any distance, 1 = stay close to the "
                                     "original (arrow keys: ±0.05)")
        self.alpha_slider.valueChanged.connect(self.request)
        self.search_combo = QComboBox()
        self.search_combo.addItem("data manifold", MANIFOLD)
        self.search_combo.addItem("patches", PATCHES)
        self.search_combo.addItem("pixels", PIXELS)
        self.search_combo.setToolTip("<p>Where the manipulator searches: the data manifold (a generative model of "
                                     "the images: changes that look like the data), patches (regions pasted from "
                                     "a real image of the target class: real pixels, the rest left as it was) or "
                                     "single pixels (the nearest image the net accepts, often a smudge a person "
                                     "would not accept).</p>")
        self.search_combo.currentIndexChanged.connect(self._search_changed)
        form.addRow("Target class", self.target_combo)
        form.addRow("Search", self.search_combo)
        form.addRow("α", self.alpha_slider)
        return form

    def _search_changed(self) -> None:
        if self.model is not None and self.search_combo.currentData() in self.model.searches:
            self.model.search = self.search_combo.currentData()
            self._image_changed()           # new search: nothing cached for the old one may show

    def _fill_searches(self) -> None:
        searches = self.model.searches if self.model is not None else (PIXELS,)
        combo = self.search_combo
        combo.blockSignals(True)
        for i in range(combo.count()):
            item = combo.model().item(i)
            item.setEnabled(combo.itemData(i) in searches)
        keep = combo.currentData() if combo.isEnabled() else None    # a person's choice outlives a new model
        combo.setCurrentIndex(combo.findData(keep if keep in searches else searches[-1]))
        combo.setEnabled(len(searches) > 1)
        combo.blockSignals(False)

    def _path_strip(self) -> tuple[QWidget, list]:
        """A strip of small images: the way from the original to the result on the data manifold."""
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        title = QLabel("path:")
        title.setToolTip("The image on its way from the original (left) to the manipulation (right), along the "
                         "data manifold")
        row.addWidget(title)
        items = []
        for _ in range(PATH_STEPS):
            frame, item = image_view()
            frame.setFixedSize(56, 56)
            row.addWidget(frame)
            items.append(item)
        row.addStretch(1)
        policy = box.sizePolicy()
        policy.setRetainSizeWhenHidden(True)      # the images above do not jump when the strip hides
        box.setSizePolicy(policy)
        box.setVisible(False)
        return box, items

    def _show_path(self, image: np.ndarray, key: tuple[int, float], result: ManipulationResult) -> None:
        show = result.codes is not None and self.model is not None and self.model.generative is not None
        self.path_box.setVisible(show)
        if show:
            path = self._paths.get(key)
            if path is None:                  # not decoded by a worker (e.g. set from outside)
                path = path_of(self.model, image, result)
            for item, step in zip(self.path_items, path):
                show_data_image(item, step)

    def _readout(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.original_label = QLabel()
        self.result_label = QLabel()
        self.distance_label = QLabel()
        for label in (self.original_label, self.result_label, self.distance_label):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)     # long readouts wrap; they must not widen the docks (and repaint all)
            row.addWidget(label, 1)
        return row

    def _buttons(self) -> QHBoxLayout:
        """Buttons over QActions (`send_action`, `selection_action`), which a menu may share."""
        row = QHBoxLayout()
        self.send_action = self._action("Send to oracle queue", "Ctrl+Return",
                                        "Ask the oracle about this manipulated image", self.send_current)
        self.selection_action = self._action(
            "Manipulate selection → queue", "Ctrl+Shift+Return", "Manipulate every selected image at this α "
            "(auto target: each image's most likely other class) and queue them", self.send_selection)
        self.send_button, self.selection_button = QToolButton(), QToolButton()
        for button, action in ((self.send_button, self.send_action), (self.selection_button, self.selection_action)):
            button.setDefaultAction(action)
            row.addWidget(button)
        self.status = QLabel()
        row.addWidget(self.status, 1)
        return row

    def _action(self, text: str, shortcut: str, tip: str, slot) -> QAction:
        action = make_action(self, text, tip, shortcut, slot)
        self.addAction(action)
        return action

    # ----- model and image -----
    def reload_model(self) -> None:
        """Copy the experiment's nets (state.experiment is never being trained when this runs)."""
        exp = self.state.experiment
        self.model = exp.manipulator_model() if exp is not None and exp.nets else None
        self._fill_searches()
        if self.model is not None:
            self.model.search = self.search_combo.currentData()
        self._fill_targets()
        self._image_changed()

    def _fill_targets(self) -> None:
        combo = self.target_combo
        keep = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("auto: most likely other class", AUTO)
        if self.model is not None:
            for k, level in enumerate(self.model.causal_levels):
                combo.addItem(f"C = {k}   (P(T=1|man) = {level:.2f})", k)
        at = combo.findData(keep)
        combo.setCurrentIndex(max(at, 0))
        combo.blockSignals(False)

    def _image_changed(self) -> None:
        self._cache.clear()
        self._paths.clear()
        self._gen += 1
        self._seq += 1                      # a search for the old image must not land
        self.result, self.result_key = None, None
        if self._tabbed_away():             # a hidden dock tab: catch up when it is shown
            self._dirty = True
            return
        image = self.state.current_image
        if self.model is None or image is None:
            self.probs = None
            self.message.setText(NO_MODEL if self.model is None else NO_IMAGE)
            self.stack.setCurrentIndex(0)
            return
        self.stack.setCurrentIndex(1)
        self.probs = self.model.predict(image)[0]
        show_data_image(self.original_item, image)
        k = int(self.probs.argmax())
        p_man = float(self.probs @ self.model.causal_levels)
        self.original_label.setText(unbroken(f"C(i) = {k}", f"P = {self.probs[k]:.2f}", f"P(T=1|man i) ≈ {p_man:.2f}"))
        self.request()

    def _tabbed_away(self) -> bool:
        return self.window().isVisible() and not self.isVisible()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty:
            self._dirty = False
            self._image_changed()

    # ----- the α slider -----
    @property
    def alpha(self) -> float:
        return round(float(self.alpha_slider.value()), 3)

    def target(self) -> int | None:
        """The causal class asked for (auto resolved for the current image)."""
        if self.probs is None:
            return None
        data = self.target_combo.currentData()
        return int(default_targets(self.probs)[0]) if data in (None, AUTO) else int(data)

    def request(self) -> None:
        """Show the manipulation for the current (target, α): from the cache or a new search."""
        target = self.target()
        if self.model is None or target is None or self.state.current_image is None:
            return
        key = (target, self.alpha)
        self._wanted_target = target        # read by the sweep worker: a plain int, no widget access
        if key in self._cache:
            self._seq += 1
            self._show(key, self._cache[key])
            return
        self._seq += 1
        seq = self._seq
        self.workers.start("manipulate", manipulate_one, self.model, self.state.current_image.copy(),
                           target, key[1], lambda: self._seq != seq,
                           on_return=lambda out, s=seq, k=key: self._arrived(s, k, out),
                           on_error=self._failed)

    @if_alive
    def _arrived(self, seq: int, key: tuple[int, float],
                 out: tuple[ManipulationResult, bool, np.ndarray | None]) -> None:
        result, cut_short, path = out
        if seq != self._seq or cut_short:
            return
        self._cache[key] = result
        self._paths[key] = path
        self._show(key, result)
        self._start_sweep(key[0])

    def _start_sweep(self, target: int) -> None:
        """Fill the cache for the slider's steps, nearest α first (not while a run trains)."""
        if not self.prefetch or self.workers.is_running("learning") or self.state.current_image is None:
            return
        todo = [float(a) for a in SWEEP_ALPHAS if (target, float(a)) not in self._cache]
        if not todo:
            return
        todo.sort(key=lambda a: abs(a - self.alpha))
        gen = self._gen
        self.workers.start("manipulate-sweep", sweep_alphas, self.model, self.state.current_image.copy(),
                           target, todo, lambda: self._gen != gen or self._wanted_target != target,
                           on_yield=lambda out, g=gen: self._swept(g, *out))

    @if_alive
    def _workers_changed(self, _description: str = "") -> None:
        """A training run stops the background sweep (the model changes under it); its end resumes it."""
        learning, was_learning = self.workers.is_running("learning"), self._learning
        self._learning = learning          # first: starting the sweep below changes the workers again
        if learning:
            self.workers.cancel("manipulate-sweep")
        elif was_learning and self.result_key is not None:
            self._start_sweep(self.result_key[0])

    @if_alive
    def _swept(self, gen: int, key: tuple[int, float], result: ManipulationResult,
               path: np.ndarray | None = None) -> None:
        if gen == self._gen and key not in self._cache:
            self._cache[key] = result
            self._paths[key] = path

    def _show(self, key: tuple[int, float], result: ManipulationResult) -> None:
        image = self.state.current_image
        new = result.images[0]
        self.result, self.result_key = result, key
        show_data_image(self.result_item, new)
        show_image(self.diff_item, difference_rgb(image, new), (0.0, 255.0))
        self._show_difference_legend(is_colour(image))
        self._show_path(image, key, result)
        self._describe(key[0], result)
        self.result_shown.emit(key[1])

    def _show_difference_legend(self, colour: bool) -> None:
        """Grey: the legend is the difference's tooltip; colour also shows its key under it."""
        self.diff_box.setToolTip(DIFFERENCE_LEGEND[colour])
        self.diff_key.setToolTip(DIFFERENCE_LEGEND[colour])
        self.diff_key.setVisible(colour)

    def _describe(self, target: int, result: ManipulationResult) -> None:
        c = int(result.predicted_class[0])
        ok = "reached" if c == target else "not reached"
        self.result_label.setText(f"C(ĵ) = {c}   P(C = {target}) = {result.p_target[0]:.2f}   "
                                  f"(target {target} {ok})")
        self.result_label.setToolTip(f"P(T=1 | man ĵ) of class {c}: {self.model.causal_levels[c]:.2f}")
        d = float(result.distance[0])
        self.distance_label.setText(f"Hamming distance: {d:.0f} pixels" if self.model.binary
                                    else f"L2 distance: {d:.2f}")

    @if_alive
    def _failed(self, exc: BaseException) -> None:
        self.status.setText(f"Manipulation failed: {exc}")
        self.workers.failed.emit(f"manipulate: {exc}")

    # ----- the oracle queue -----
    def send_current(self) -> None:
        """Queue the manipulation on screen as a one-image batch for the oracle."""
        if self.result is None or self.result_key is None or self.model is None:
            self.status.setText("No manipulation on screen yet.")
            return
        index = self.state.current_index if self.state.current_index is not None else -1
        batch = QueryBatch.manual(self.result, self.state.current_image[None], [self.result_key[0]],
                             [index], self.model.iteration)
        self._enqueue(batch)

    def send_selection(self) -> None:
        """Manipulate every selected image (in a worker) and queue them as one batch."""
        sel = np.asarray(self.state.selection, np.int64)
        if self.model is None or self.state.dataset is None or not len(sel):
            self.status.setText("Select images in the browser first.")
            return
        sel = sel[:MAX_SELECTION]
        self.selection_action.setEnabled(False)
        self.status.setText(f"Manipulating {len(sel)} images…")
        data = self.target_combo.currentData()
        self.workers.start("manipulate-selection", manipulate_many, self.model,
                           self.state.dataset.images[sel], AUTO if data is None else int(data),
                           self.alpha, sel, on_return=self._selection_done, on_error=self._selection_failed)

    @if_alive
    def _selection_done(self, out) -> None:
        result, originals, targets, index = out
        self.selection_action.setEnabled(True)
        if self.model is not None:
            self._enqueue(QueryBatch.manual(result, originals, targets, index, self.model.iteration))

    @if_alive
    def _selection_failed(self, exc: BaseException) -> None:
        self.selection_action.setEnabled(True)
        self._failed(exc)

    def _enqueue(self, batch) -> None:
        self.state.queue.add(batch)
        waiting = sum(len(b) for b in self.state.queue.waiting())
        self.status.setText(f"Queued {len(batch)} image(s); {waiting} waiting for the oracle.")
