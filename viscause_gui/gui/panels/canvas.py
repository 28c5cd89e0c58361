"""Drawing canvas (pyqtgraph) with pen, eraser, h-bar / v-bar, noise, shift, invert, undo/redo,
and a live readout of what the models say about the image on it.

Every edit calls `state.set_current_image(image)`. The readout recomputes (debounced) when
the image, the causal nets or the observational model change.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QFormLayout, QFrame, QGridLayout, QGroupBox, QLabel, QSizePolicy, QSpinBox,
                               QToolBar, QVBoxLayout, QWidget)

from viscause_gui.gui.widgets.colors import class_color, text_color_on
from viscause_gui.core.method.readout import ObservationalModel
from viscause_gui.gui.widgets.plots import GraphicsLayoutWidget, make_action
from viscause_gui.gui.state import AppState

TOOLS = ("pen", "eraser", "hbar", "vbar")
HISTORY_LIMIT = 200
PUBLISH_MS = 30      # coalesce state updates while the pen moves
READOUT_MS = 40      # debounce of the readout

HELP_TEXT = (
    "<b>What the readout means</b><br>"
    "<b>P(T=1 | I)</b>: how likely the behaviour T is when this image is <i>observed</i> "
    "(learned from the data; hidden causes that come with the image count too).<br>"
    "<b>P(T=1 | man(I))</b>: how likely T is when we <i>set</i> the pixels to this image "
    "ourselves (an experiment); only the visual cause matters.<br>"
    "<b>C</b>: the causal class (images with equal P(T=1 | man(I))). "
    "<b>S</b>: the spurious class: which observational class inside C the image belongs to "
    "(predictive of T, but not a cause).<br>"
    "In GRATING the h-bar is the cause; the v-bar only correlates with T through a hidden variable."
)


# ----------------------------------------------------------------- image edits (pure numpy)

def disk(size: int) -> np.ndarray:
    """A boolean pen footprint of the given diameter in pixels."""
    r = (size - 1) / 2.0
    yy, xx = np.mgrid[:size, :size]
    return (yy - r) ** 2 + (xx - r) ** 2 <= r * r + 0.5


def stamp(image: np.ndarray, row: int, col: int, size: int, value: float) -> None:
    """Set a disk of pixels around (row, col) to value, in place (clipped at the borders)."""
    h, w = image.shape
    mask = disk(size)
    top, left = row - (size - 1) // 2, col - (size - 1) // 2
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + size, h), min(left + size, w)
    if r0 >= r1 or c0 >= c1:
        return
    sub = mask[r0 - top:r1 - top, c0 - left:c1 - left]
    image[r0:r1, c0:c1][sub] = value


def stroke(image: np.ndarray, start: tuple[int, int], end: tuple[int, int], size: int, value: float) -> None:
    """Stamp along the straight line from start to end (in place)."""
    steps = max(abs(end[0] - start[0]), abs(end[1] - start[1]), 1)
    for t in np.linspace(0.0, 1.0, steps + 1):
        stamp(image, int(round(start[0] + t * (end[0] - start[0]))),
              int(round(start[1] + t * (end[1] - start[1]))), size, value)


def fill_row(image: np.ndarray, row: int) -> np.ndarray:
    out = image.copy()
    if 0 <= row < out.shape[0]:
        out[row, :] = 1.0
    return out


def fill_col(image: np.ndarray, col: int) -> np.ndarray:
    out = image.copy()
    if 0 <= col < out.shape[1]:
        out[:, col] = 1.0
    return out


def add_noise(image: np.ndarray, amount: float, rng: np.random.Generator, binary: bool) -> np.ndarray:
    """Binary: flip each pixel with probability `amount`; grey: add N(0, amount²), clipped."""
    if binary:
        flips = rng.random(image.shape) < amount
        return np.where(flips, 1.0 - image, image).astype(np.float32)
    return np.clip(image + rng.normal(0.0, amount, image.shape), 0.0, 1.0).astype(np.float32)


def shift(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Cyclic shift (bars stay bars; the experiment uses the same invariance)."""
    return np.roll(image, (rows, cols), axis=(0, 1))


def invert(image: np.ndarray) -> np.ndarray:
    return (1.0 - image).astype(np.float32)


class EditHistory:
    """Undo / redo as a stack of image copies."""

    def __init__(self, limit: int = HISTORY_LIMIT):
        self.limit = limit
        self.undo_stack: list[np.ndarray] = []
        self.redo_stack: list[np.ndarray] = []

    def push(self, image: np.ndarray) -> None:
        self.undo_stack.append(image.copy())
        del self.undo_stack[:-self.limit]
        self.redo_stack.clear()

    def undo(self, current: np.ndarray) -> np.ndarray | None:
        if not self.undo_stack:
            return None
        self.redo_stack.append(current.copy())
        return self.undo_stack.pop()

    def redo(self, current: np.ndarray) -> np.ndarray | None:
        if not self.redo_stack:
            return None
        self.undo_stack.append(current.copy())
        return self.redo_stack.pop()

    def clear(self) -> None:
        self.undo_stack.clear()
        self.redo_stack.clear()


# ----------------------------------------------------------------- the drawing item

class DrawImageItem(pg.ImageItem):
    """An ImageItem that turns left-button clicks and drags into canvas edits."""

    def __init__(self, canvas: "Canvas"):
        super().__init__(axisOrder="row-major")
        self.canvas = canvas

    @staticmethod
    def _pixel(pos) -> tuple[int, int]:
        return int(np.floor(pos.y())), int(np.floor(pos.x()))

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph API
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        ev.accept()
        self.canvas.press(*self._pixel(ev.pos()))
        self.canvas.release()

    def mouseDragEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph API
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        if ev.isStart():
            self.canvas.press(*self._pixel(ev.buttonDownPos()))
        self.canvas.move_to(*self._pixel(ev.pos()))
        if ev.isFinish():
            self.canvas.release()


# ----------------------------------------------------------------- the canvas

class Canvas(QWidget):
    """The image being drawn and perturbed; tools and edit actions live in `actions`."""

    def __init__(self, state: AppState, settings: QSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.settings = settings
        self.image = np.zeros((10, 10), np.float32)
        self.binary = True
        self.history = EditHistory()
        self.rng = np.random.default_rng()
        self.noise_amount = 0.03
        self.tool = "pen"
        self._last: tuple[int, int] | None = None
        self._source_index: int | None = None
        self._publishing = False
        self._publish_timer = QTimer(self, singleShot=True, interval=PUBLISH_MS)
        self._publish_timer.timeout.connect(self.publish)
        self.actions: dict[str, QAction] = {}
        self.size_box = self._make_size_box()
        self.item = DrawImageItem(self)
        self.view = self._make_view()
        self._make_actions()
        self._layout()
        state.dataset_changed.connect(self._on_dataset)
        state.current_image_changed.connect(self._on_state_image)
        self._restore_settings()
        if state.dataset is not None:
            self._on_dataset()
        if state.current_image is not None:
            self._on_state_image()

    # ----- widgets -----
    def _make_view(self) -> GraphicsLayoutWidget:
        widget = GraphicsLayoutWidget(self)
        widget.setBackground("#f4f4f4")
        widget.setAcceptDrops(False)
        box = widget.addViewBox(lockAspect=True, invertY=True, enableMenu=False, enableMouse=False)
        box.addItem(self.item)
        self.item.setLookupTable(np.linspace(255, 0, 256).astype(np.uint8))  # ink dark on white
        self.item.setImage(self.image, levels=(0.0, 1.0), autoLevels=False)
        self.border = pg.QtWidgets.QGraphicsRectItem(0, 0, 10, 10)
        self.border.setPen(pg.mkPen("#888888", width=0))
        box.addItem(self.border)
        self.viewbox = box
        widget.setToolTip(HELP_TEXT)
        widget.setMinimumSize(160, 160)
        return widget

    def _make_size_box(self) -> QSpinBox:
        box = QSpinBox(self)
        box.setRange(1, 9)
        box.setValue(1)
        box.setPrefix("size ")
        box.setToolTip("Pen and eraser diameter in pixels")
        return box

    def _action(self, key: str, text: str, tip: str, shortcut: str | QKeySequence | None,
                slot: Callable[[], None] | None = None, checkable: bool = False) -> QAction:
        action = make_action(self, text, tip, shortcut, slot, checkable)
        self.actions[key] = action
        return action

    def _make_actions(self) -> None:
        group = QActionGroup(self)
        tools = {"pen": ("Pen", "Draw ink", "B"), "eraser": ("Eraser", "Erase ink", "E"),
                 "hbar": ("H-bar", "Click a row to fill it with ink (the GRATING cause)", "H"),
                 "vbar": ("V-bar", "Click a column to fill it with ink (the GRATING spurious correlate)", "V")}
        for name, (text, tip, key) in tools.items():
            action = self._action(name, text, tip, key, lambda n=name: self.set_tool(n), checkable=True)
            group.addAction(action)
        self._action("noise", "Noise", "Add noise (binary images: flip ~3% of the pixels)", "N", self.add_noise)
        arrows = {"left": ("←", 0, -1, "Alt+Left"), "right": ("→", 0, 1, "Alt+Right"),
                  "up": ("↑", -1, 0, "Alt+Up"), "down": ("↓", 1, 0, "Alt+Down")}
        for name, (text, dr, dc, key) in arrows.items():
            self._action(f"shift_{name}", text, f"Shift the image one pixel {name} (wraps around)", key,
                         lambda dr=dr, dc=dc: self.shift(dr, dc))
        self._action("invert", "Invert", "Swap ink and paper", "I", self.invert)
        self._action("clear", "Clear", "Erase everything", "Delete", self.clear)
        self._action("revert", "Revert", "Back to the data set image last opened", "Ctrl+R", self.revert)
        self._action("undo", "Undo", "Undo the last edit", "Ctrl+Z", self.undo)
        self._action("redo", "Redo", "Redo the last undone edit", "Ctrl+Shift+Z", self.redo)
        self.actions["redo"].setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.actions["pen"].setChecked(True)
        self.size_box.valueChanged.connect(self._save_settings)
        self._update_history_actions()

    def _layout(self) -> None:
        tools, edits = QToolBar(self), QToolBar(self)
        for bar in (tools, edits):
            bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for key in ("pen", "eraser", "hbar", "vbar"):
            tools.addAction(self.actions[key])
        tools.addWidget(self.size_box)
        tools.addSeparator()
        for key in ("undo", "redo", "revert"):
            tools.addAction(self.actions[key])
        for key in ("noise", "shift_left", "shift_up", "shift_down", "shift_right", "invert", "clear"):
            edits.addAction(self.actions[key])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(0)
        layout.addWidget(tools)
        layout.addWidget(edits)
        layout.addWidget(self.view, 1)

    # ----- settings -----
    def _restore_settings(self) -> None:
        if self.settings is None:
            return
        tool = str(self.settings.value("canvas/tool", "pen"))
        size = int(self.settings.value("canvas/pen_size", 1))
        self.size_box.setValue(size)
        self.set_tool(tool if tool in TOOLS else "pen")

    def _save_settings(self) -> None:
        if self.settings is not None:
            self.settings.setValue("canvas/tool", self.tool)
            self.settings.setValue("canvas/pen_size", self.pen_size)

    # ----- public API (also what the mouse calls) -----
    @property
    def pen_size(self) -> int:
        return self.size_box.value()

    def set_tool(self, name: str) -> None:
        if name not in TOOLS:
            raise ValueError(f"unknown tool {name!r}; one of {TOOLS}")
        self.tool = name
        self.actions[name].setChecked(True)
        self._save_settings()

    def set_pen_size(self, size: int) -> None:
        self.size_box.setValue(int(size))

    def press(self, row: int, col: int) -> None:
        """Start an edit at a pixel with the current tool."""
        self.history.push(self.image)
        self._last = (row, col)
        if self.tool == "hbar":
            self.image = fill_row(self.image, row)
        elif self.tool == "vbar":
            self.image = fill_col(self.image, col)
        else:
            stamp(self.image, row, col, self.pen_size, 1.0 if self.tool == "pen" else 0.0)
        self._changed(publish_now=False)

    def move_to(self, row: int, col: int) -> None:
        """Continue a pen / eraser stroke to a pixel."""
        if self._last is None or self.tool not in ("pen", "eraser") or (row, col) == self._last:
            return
        stroke(self.image, self._last, (row, col), self.pen_size, 1.0 if self.tool == "pen" else 0.0)
        self._last = (row, col)
        self._changed(publish_now=False)

    def release(self) -> None:
        self._last = None
        self.publish()

    def apply(self, edit: Callable[[np.ndarray], np.ndarray]) -> None:
        """Apply a whole-image edit (undoable)."""
        self.history.push(self.image)
        self.image = np.ascontiguousarray(edit(self.image), dtype=np.float32)
        self._changed(publish_now=True)

    def add_noise(self) -> None:
        self.apply(lambda img: add_noise(img, self.noise_amount if self.binary else 0.1, self.rng, self.binary))

    def shift(self, rows: int, cols: int) -> None:
        self.apply(lambda img: shift(img, rows, cols))

    def invert(self) -> None:
        self.apply(invert)

    def clear(self) -> None:
        self.apply(np.zeros_like)

    def revert(self) -> None:
        index = self.state.current_index if self.state.current_index is not None else self._source_index
        if index is not None and self.state.dataset is not None and index < len(self.state.dataset):
            self.apply(lambda img: self.state.dataset.images[index].copy())

    def undo(self) -> None:
        image = self.history.undo(self.image)
        if image is not None:
            self.image = image
            self._changed(publish_now=True)

    def redo(self) -> None:
        image = self.history.redo(self.image)
        if image is not None:
            self.image = image
            self._changed(publish_now=True)

    def publish(self) -> None:
        """Hand the edited image to the app state (every panel sees it)."""
        self._publish_timer.stop()
        self._publishing = True
        try:
            self.state.set_current_image(self.image.copy())
        finally:
            self._publishing = False

    # ----- internals -----
    def _changed(self, publish_now: bool) -> None:
        self.item.updateImage(self.image, levels=(0.0, 1.0), autoLevels=False)
        self._update_history_actions()
        if publish_now:
            self.publish()
        elif not self._publish_timer.isActive():
            self._publish_timer.start()

    def _update_history_actions(self) -> None:
        self.actions["undo"].setEnabled(bool(self.history.undo_stack))
        self.actions["redo"].setEnabled(bool(self.history.redo_stack))

    def _on_dataset(self) -> None:
        ds = self.state.dataset
        self.binary = bool(ds.is_binary) if ds is not None else True
        self._source_index = None

    def _on_state_image(self) -> None:
        if self._publishing or self.state.current_image is None:
            return
        image = np.asarray(self.state.current_image, np.float32)
        if self.state.current_index is None and image.shape == self.image.shape and np.array_equal(image, self.image):
            return
        self._source_index = self.state.current_index
        self.history.clear()
        self._show_new(image.copy())

    def _show_new(self, image: np.ndarray) -> None:
        shape_changed = image.shape != self.image.shape
        self.image = image
        self.item.setImage(self.image, levels=(0.0, 1.0), autoLevels=False)
        if shape_changed:
            h, w = image.shape
            self.border.setRect(0, 0, w, h)
            self.viewbox.autoRange(padding=0.02)
        self._update_history_actions()


# ----------------------------------------------------------------- the readout

class PredictionReadout(QFrame):
    """What the observational model, the causal nets and (GRATING) the truth say about the image."""

    SECTIONS = {
        "observational": ("Observational model", (("p_obs", "P(T=1 | I)"), ("obs_class", "obs. class"))),
        "causal": ("Causal model", (("causal", "C(i)"), ("p_causal", "P(T=1 | man(I))"), ("spurious", "S(i)"))),
        "truth": ("Truth (GRATING)", (("truth_bars", "bars"), ("truth_p_obs", "P(T=1 | I)"),
                                      ("truth_p_causal", "P(T=1 | man(I))"))),
        "data": ("Data", (("source", "image"),)),
    }

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.obs_model: ObservationalModel | None = None
        self.obs_status = "no observational model yet"
        self.values: dict[str, QLabel] = {}
        self.groups: dict[str, QGroupBox] = {}
        self._spurious_table: dict[tuple[int, int], int] = {}
        self._timer = QTimer(self, singleShot=True, interval=READOUT_MS)
        self._timer.timeout.connect(self.refresh)
        self._layout()
        self.setToolTip(HELP_TEXT)
        state.current_image_changed.connect(self.schedule)
        state.model_changed.connect(self.schedule)
        state.classes_changed.connect(self._on_classes)
        state.dataset_changed.connect(self._on_dataset)
        self._on_classes()

    def _make_group(self, key: str) -> QGroupBox:
        title, rows = self.SECTIONS[key]
        group = QGroupBox(title, self)
        form = QFormLayout(group)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setContentsMargins(6, 4, 6, 4)
        for name, label in rows:
            value = QLabel("—")
            value.setTextFormat(Qt.TextFormat.RichText)
            value.setWordWrap(True)
            value.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            self.values[name] = value
            form.addRow(label + ":", value)
        group.setToolTip(HELP_TEXT)
        self.groups[key] = group
        return group

    def _layout(self) -> None:
        grid = QGridLayout(self)
        grid.setContentsMargins(2, 2, 2, 2)
        for i, key in enumerate(("observational", "truth", "causal", "data")):
            grid.addWidget(self._make_group(key), i % 2, i // 2)
        hint = QLabel("Hover over the readout for what C, S, P(T=1 | I) and P(T=1 | man(I)) mean; "
                      "F1 explains the method.")
        hint.setWordWrap(True)
        hint.setStyleSheet("QLabel { color: #555; }")
        grid.addWidget(hint, 2, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)

    # ----- inputs -----
    def set_obs_model(self, model: ObservationalModel | None, status: str = "") -> None:
        self.obs_model = model
        self.obs_status = status or ("ready" if model is not None else "no observational model yet")
        self.schedule()

    def schedule(self) -> None:
        """Recompute soon (several changes in a burst give one update)."""
        self._timer.start()

    def _on_dataset(self) -> None:
        self.obs_model = None
        self.obs_status = "training…"
        self.schedule()

    def _on_classes(self) -> None:
        obs, causal, spurious = (self.state.obs_classes(), self.state.causal_classes(),
                                 self.state.spurious_classes())
        self._spurious_table = {}
        if obs is not None and causal is not None and spurious is not None:
            triples = np.unique(np.stack([obs, causal, spurious], axis=1), axis=0)
            self._spurious_table = {(int(o), int(c)): int(s) for o, c, s in triples}
        self.schedule()

    # ----- output -----
    def refresh(self) -> None:
        image = self.state.current_image
        if image is None:
            for label in self.values.values():
                label.setText("—")
            return
        obs_class = self._show_observational(image)
        causal = self._show_causal(image)
        self._show_spurious(obs_class, causal)
        self._show_truth(image)
        self._show_source()

    def _set(self, key: str, text: str, color_class: int | None = None, extra: str = "") -> None:
        """Show text; a class number is shown as a chip in the class colour."""
        if color_class is not None:
            bg = class_color(color_class)
            text = (f"<span style='background-color:{bg.name()}; color:{text_color_on(bg).name()};'>"
                    f"&nbsp;<b>{text}</b>&nbsp;</span>")
        self.values[key].setText(text + extra)

    def _show_observational(self, image: np.ndarray) -> int | None:
        model = self.obs_model
        if model is None or image.shape != model.in_shape:
            self._set("p_obs", self.obs_status)
            self._set("obs_class", self._data_class("obs") or "—")
            return self._data_class_value("obs")
        pred = model.predict(image[None])
        self._set("p_obs", f"{pred.p_t[0]:.2f}")
        k = int(pred.obs_class[0])
        if k < 0:
            self._set("obs_class", "unknown")
            return None
        self._set("obs_class", f"{k}", k)
        return k

    def _show_causal(self, image: np.ndarray) -> int | None:
        exp = self.state.experiment
        if exp is None or not exp.nets:
            self._set("causal", "not trained yet")
            self._set("p_causal", "not trained yet")
            return None
        try:
            probs = exp.predict_causal(image[None])[0]
        except Exception as exc:  # noqa: BLE001 - a net for another image size, a net mid-update
            self._set("causal", f"unavailable ({type(exc).__name__})")
            self._set("p_causal", "—")
            return None
        c = int(np.argmax(probs))
        self._set("causal", f"{c}", c, f"&nbsp; (p = {probs[c]:.2f})")
        self._set("p_causal", f"{float(probs @ exp.causal_levels):.2f}")
        return c

    def _show_spurious(self, obs_class: int | None, causal: int | None) -> None:
        if obs_class is None or causal is None:
            self._set("spurious", "needs obs. class and C")
            return
        s = self._spurious_table.get((obs_class, causal))
        if s is None:
            self._set("spurious", f"new (obs {obs_class} never seen with C = {causal})")
        else:
            self._set("spurious", f"{s}", s)

    def _show_truth(self, image: np.ndarray) -> None:
        model = self.state.grating
        visible = model is not None and image.shape == (model.size, model.size)
        self.groups["truth"].setEnabled(visible)
        if not visible:
            for key in ("truth_bars", "truth_p_obs", "truth_p_causal"):
                self._set(key, "only for GRATING")
            return
        from viscause_gui.core.experiments.grating import has_hbar, has_vbar
        h, v = bool(has_hbar(image[None])[0]), bool(has_vbar(image[None])[0])
        self._set("truth_bars", f"h-bar {'yes' if h else 'no'} · v-bar {'yes' if v else 'no'}")
        self._set("truth_p_obs", f"{float(model.p_obs(image[None])[0]):.2f}")
        self._set("truth_p_causal", f"{float(model.p_causal(image[None])[0]):.2f}")

    def _show_source(self) -> None:
        i = self.state.current_index
        if i is None or self.state.dataset is None:
            self._set("source", "edited on the canvas")
            return
        parts = [f"#{i}"]
        for kind, name in (("obs", "obs"), ("causal", "C"), ("spurious", "S")):
            k = self._data_class_value(kind)
            if k is not None:
                parts.append(f"{name} {k}")
        ds = self.state.dataset
        if ds.t is not None:
            parts.append(f"T {int(ds.t[i])}")
        if ds.labels is not None:
            parts.append(f"label {ds.labels[i]}")
        self._set("source", " · ".join(parts))

    def _data_class_value(self, kind: str) -> int | None:
        i = self.state.current_index
        arr = {"obs": self.state.obs_classes, "causal": self.state.causal_classes,
               "spurious": self.state.spurious_classes}[kind]()
        return None if i is None or arr is None else int(arr[i])

    def _data_class(self, kind: str) -> str | None:
        k = self._data_class_value(kind)
        return None if k is None else f"{k} (from the data)"


class CanvasPanel(QWidget):
    """Canvas above its readout: the central widget of the main window."""

    def __init__(self, state: AppState, settings: QSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.canvas = Canvas(state, settings, self)
        self.readout = PredictionReadout(state, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.readout, 0)
