"""The Manipulator panel: slide α and watch the manipulator move the current image into a target causal class.

Shows the current image, its manipulation towards a chosen causal class, their difference
(red = ink added, blue = ink removed; on colour images red = brighter, blue = darker, purple =
colour changed), C of the result and the distance. The panel is the view of a
ManipulationController (controllers/manipulation.py), which runs the searches in workers on a
private copy of the causal nets, lets a newer α or target supersede an older search, caches the
results per (target, α) and sends them to the oracle queue.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QStackedWidget, QToolButton, QVBoxLayout,
                               QWidget)

from viscause_gui.core.method.manipulator import ManipulationResult
from viscause_gui.core.method.manipulator_model import MANIFOLD, PATCHES, PIXELS, ManipulatorModel
from viscause_gui.gui.controllers.manipulation import AUTO, NO_MODEL, PATH_STEPS, Choice, Key, ManipulationController
from viscause_gui.gui.models.outcome_text import distribution, level_tooltip, many, most_likely, target_name
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.actions import if_alive, make_action, while_alive
from viscause_gui.gui.widgets.images import (DIFFERENCE_LEGEND, difference_key, difference_rgb, image_box, image_view,
                                             is_colour, message_label, show_data_image, show_image)
from viscause_gui.gui.widgets.plain_text import plain_label, plain_tooltip
from viscause_gui.gui.widgets.sliders import keyboard_slider
from viscause_gui.gui.workers import WorkerPool


def unbroken(*parts: str) -> str:
    """Readout parts that wrap between each other, never inside one ("P(T=1|" / "man i)")."""
    # no-break spaces, and a word joiner after "|", where Qt's line breaking would break otherwise
    return "   ".join(part.replace(" ", "\u00a0").replace("|", "|\u2060") for part in parts)


class ManipulatorPanel(QWidget):
    """The α slider over the learned manipulator (`manipulation`, its controller); sends results to the
    oracle queue."""

    result_shown = Signal(float)     # α of the manipulation now on screen

    def __init__(self, state: AppState, workers: WorkerPool, parent: QWidget | None = None):
        super().__init__(parent)
        self.state, self.workers = state, workers
        self.manipulation = ManipulationController(state, self, _PanelWorkers(self))
        self._build()
        state.model_changed.connect(self._reload_model)
        state.dataset_changed.connect(self._reload_model)
        state.current_image_changed.connect(self._image_changed)
        workers.busy_changed.connect(self._workers_changed)
        self.manipulation.reload_model()

    # ----- what lessons use -----
    @property
    def model(self) -> ManipulatorModel | None:
        return self.manipulation.model

    @property
    def alpha(self) -> float:
        return round(float(self.alpha_slider.value()), 3)

    def request(self) -> None:
        """Show the manipulation for the target and α chosen now."""
        self.manipulation.request()

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
        self.search_combo.currentIndexChanged.connect(lambda _index: self.manipulation.search_changed())
        form.addRow("Target class", self.target_combo)
        form.addRow("Search", self.search_combo)
        form.addRow("α", self.alpha_slider)
        return form

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

    def _readout(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.original_label = plain_label(QLabel())
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
                                        "Ask the oracle about this manipulated image", self.manipulation.send_current)
        self.selection_action = self._action(
            "Manipulate selection → queue", "Ctrl+Shift+Return", "Manipulate every selected image at this α "
            "(auto target: each image's most likely other class) and queue them", self.manipulation.send_selection)
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

    def choose_target(self, causal_class: int) -> bool:
        """Aim at this causal class, as a person picking it in the Target list (a lesson's setting); False if
        the current model has no such class."""
        at = self.target_combo.findData(int(causal_class))
        if at >= 0:
            self.target_combo.setCurrentIndex(at)
        return at >= 0

    # ----- ManipulatorView: what the controller asks and shows -----
    def chosen(self) -> Choice:
        return Choice(self.target_combo.currentData(), self.alpha, self.search_combo.currentData())

    def tabbed_away(self) -> bool:
        return self.window().isVisible() and not self.isVisible()

    def show_model(self, model: ManipulatorModel | None) -> None:
        """The searches the model can run (a person's choice outlives a new model) and its causal classes."""
        searches = model.searches if model is not None else (PIXELS,)
        combo = self.search_combo
        combo.blockSignals(True)
        for i in range(combo.count()):
            combo.model().item(i).setEnabled(combo.itemData(i) in searches)
        keep = combo.currentData() if combo.isEnabled() else None
        combo.setCurrentIndex(combo.findData(keep if keep in searches else searches[-1]))
        combo.setEnabled(len(searches) > 1)
        combo.blockSignals(False)
        combo = self.target_combo
        keep = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("auto: most likely other class", AUTO)
        if model is not None:
            names = self._outcomes()
            for k, level in enumerate(model.causal_levels):
                combo.addItem(target_name(k, level, names), k)
                combo.setItemData(combo.count() - 1, plain_tooltip(level_tooltip(level, names)) or None,
                                  Qt.ItemDataRole.ToolTipRole)
        combo.setCurrentIndex(max(combo.findData(keep), 0))
        combo.blockSignals(False)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.stack.setCurrentIndex(0)

    def show_original(self, image: np.ndarray, probs: np.ndarray, p_man: float | np.ndarray) -> None:
        self.stack.setCurrentIndex(1)
        show_data_image(self.original_item, image)
        k = int(probs.argmax())
        names = self._outcomes()
        answer = (f"P(T|man i): {most_likely(p_man, names)}" if many(names) and names is not None
                  else f"P(T=1|man i) ≈ {float(p_man):.2f}")
        self.original_label.setText(unbroken(f"C(i) = {k}", f"P = {probs[k]:.2f}", answer))
        self.original_label.setToolTip(plain_tooltip(level_tooltip(p_man, names)))

    def _outcomes(self) -> tuple[str, ...] | None:
        """The names of T's outcomes (None: no data set)."""
        data = self.state.dataset
        return None if data is None else data.outcome_names

    def show_result(self, image: np.ndarray, key: Key, result: ManipulationResult, path: np.ndarray | None) -> None:
        new = result.images[0]
        show_data_image(self.result_item, new)
        show_image(self.diff_item, difference_rgb(image, new), (0.0, 255.0))
        self._show_difference_legend(is_colour(image))
        self.path_box.setVisible(path is not None)
        for item, step in zip(self.path_items, [] if path is None else path):
            show_data_image(item, step)
        self._describe(key[0], result)
        self.result_shown.emit(key[1])

    def show_status(self, text: str) -> None:
        self.status.setText(text)

    def show_selection_running(self, running: bool) -> None:
        self.selection_action.setEnabled(not running)

    def _show_difference_legend(self, colour: bool) -> None:
        """Grey: the legend is the difference's tooltip; colour also shows its key under it."""
        self.diff_box.setToolTip(DIFFERENCE_LEGEND[colour])
        self.diff_key.setToolTip(DIFFERENCE_LEGEND[colour])
        self.diff_key.setVisible(colour)

    def _describe(self, target: int, result: ManipulationResult) -> None:
        model = self.manipulation.model
        assert model is not None, "a result comes from a model"
        c = int(result.predicted_class[0])
        ok = "reached" if c == target else "not reached"
        self.result_label.setText(f"C(ĵ) = {c}   P(C = {target}) = {result.p_target[0]:.2f}   "
                                  f"(target {target} {ok})")
        names = self._outcomes()
        level = model.causal_levels[c]
        self.result_label.setToolTip(plain_tooltip(f"P(T | man ĵ) of class {c}: {distribution(level, names)}"
                                                   if many(names) and names is not None
                                                   else f"P(T=1 | man ĵ) of class {c}: {level:.2f}"))
        d = float(result.distance[0])
        self.distance_label.setText(f"Hamming distance: {d:.0f} pixels" if model.binary
                                    else f"L2 distance: {d:.2f}")

    # ----- signals (slots of the panel: Qt disconnects them when it is deleted) -----
    def _reload_model(self) -> None:
        self.manipulation.reload_model()

    def _image_changed(self) -> None:
        self.manipulation.image_changed()

    @if_alive
    def _workers_changed(self, _description: str = "") -> None:
        self.manipulation.workers_changed()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.manipulation.shown()


class _PanelWorkers:
    """The app's WorkerPool as the controller's Workers: a callback does nothing once the panel is gone (a
    worker's result is a queued event and may arrive after the window closed)."""

    def __init__(self, panel: ManipulatorPanel):
        self.panel = panel

    def start(self, key: str, func: Callable[..., Any], *args: Any, on_yield: Callable[..., Any] | None = None,
              on_return: Callable[..., Any] | None = None,
              on_error: Callable[[BaseException], Any] | None = None) -> Any:
        def alive(callback: Callable[..., Any] | None) -> Callable[..., Any] | None:
            return None if callback is None else while_alive(self.panel, callback)
        return self.panel.workers.start(key, func, *args, on_yield=alive(on_yield), on_return=alive(on_return),
                                        on_error=alive(on_error))

    def cancel(self, key: str) -> None:
        self.panel.workers.cancel(key)

    def is_running(self, key: str) -> bool:
        return self.panel.workers.is_running(key)

    def report_failure(self, message: str) -> None:
        self.panel.workers.failed.emit(message)
