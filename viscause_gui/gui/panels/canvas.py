"""Drawing canvas (pyqtgraph) with pen, eraser, h-bar / v-bar, noise, shift, invert, undo/redo,
and a live readout of what the models say about the image on it.

On colour data the pen, the bars and the eraser work in every channel: the pen paints the
chosen colour (the swatch opens a colour dialog, the eyedropper picks the colour under a
click), the eraser paints the data set's background (`controllers.drawing.background`: the
most common corner colour). Grey data has neither swatch nor eyedropper: ink is 1, paper 0.

Every edit calls `state.set_current_image(image)`. The readout recomputes (debounced) when
the image, the causal nets or the observational model change.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QColor, QIcon, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import QColorDialog, QHBoxLayout, QSpinBox, QToolButton, QVBoxLayout, QWidget

from viscause_gui.gui.controllers.drawing import (PICKER, TOOLS, EditHistory, Value, add_noise, background, fill_col,
                                                  fill_row, invert, pixel, shift, stamp, stroke)
from viscause_gui.gui.help import HELP_TEXT
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.actions import make_action
from viscause_gui.gui.widgets.flow import FlowLayout
from viscause_gui.gui.widgets.images import LEVELS, channel_values, display, is_colour, screen_colour
from viscause_gui.gui.widgets.plots import GraphicsLayoutWidget

PUBLISH_MS = 30      # coalesce state updates while the pen moves
INK_LUT = np.linspace(255, 0, 256).astype(np.uint8)     # grey: ink dark on white
COLOUR_ONLY = (PICKER, "colour")                       # actions that exist for colour data only
TOOL_TIPS = {   # grey, colour
    "pen": ("Draw ink", "Paint with the pen colour (the swatch)"),
    "eraser": ("Erase ink", "Paint the background colour (the most common corner colour of the data)"),
    "hbar": ("Click a row to fill it with ink (the GRATING cause)", "Click a row to fill it with the pen colour"),
    "vbar": ("Click a column to fill it with ink (the GRATING spurious correlate)",
             "Click a column to fill it with the pen colour"),
    PICKER: ("", "Click a pixel to paint with its colour (then back to the pen)"),
    "invert": ("Swap ink and paper", "Replace every colour by its complement (1 − value in each channel)"),
    "clear": ("Erase everything", "Paint everything in the background colour"),
}


def swatch_icon(color: QColor, size: int = 16) -> QIcon:
    """A square of the colour in a dark frame (a white or black pen still shows on any toolbar)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(color)
    painter = QPainter(pixmap)
    painter.setPen(QColor("#505050"))
    painter.drawRect(0, 0, size - 1, size - 1)
    painter.end()
    return QIcon(pixmap)


# ----------------------------------------------------------------- the drawing item

class DrawImageItem(pg.ImageItem):
    """An ImageItem that turns left-button clicks and drags into canvas edits."""

    def __init__(self, canvas: Canvas):
        super().__init__(axisOrder="row-major")
        self.canvas = canvas

    @staticmethod
    def _pixel(pos) -> tuple[int, int]:
        return int(np.floor(pos.y())), int(np.floor(pos.x()))

    def mouseClickEvent(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        ev.accept()
        self.canvas.press(*self._pixel(ev.pos()))
        self.canvas.release()

    def mouseDragEvent(self, ev) -> None:
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
        self.background: Value = 0.0            # what the eraser paints (grey: no ink)
        self.pen_colour: np.ndarray | None = None   # colour data: the pen's channel values (C,)
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
        self._show_colour_tools(False)
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
        self.item.setLookupTable(INK_LUT)
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
        tools = {"pen": ("Pen", "B"), "eraser": ("Eraser", "E"), "hbar": ("H-bar", "H"), "vbar": ("V-bar", "V"),
                 PICKER: ("Eyedropper", "O")}
        for name, (text, key) in tools.items():
            action = self._action(name, text, TOOL_TIPS[name][0], key, lambda n=name: self.set_tool(n),
                                  checkable=True)
            group.addAction(action)
        self.actions[PICKER].setIconText("Pick")             # its toolbar button (the menu says Eyedropper)
        self._action("colour", "Colour…", "Choose the pen colour (2 channels: its red and green)", "C",
                     self.choose_colour)
        self.addAction(self.actions["colour"])     # its shortcut works without a toolbar button
        self._action("noise", "Noise", "Add noise (binary images: flip ~3% of the pixels)", "N", self.add_noise)
        arrows = {"left": ("←", 0, -1, "Alt+Left"), "right": ("→", 0, 1, "Alt+Right"),
                  "up": ("↑", -1, 0, "Alt+Up"), "down": ("↓", 1, 0, "Alt+Down")}
        for name, (text, dr, dc, key) in arrows.items():
            self._action(f"shift_{name}", text, f"Shift the image one pixel {name} (wraps around)", key,
                         lambda dr=dr, dc=dc: self.shift(dr, dc))
        self._action("invert", "Invert", TOOL_TIPS["invert"][0], "I", self.invert)
        self._action("clear", "Clear", TOOL_TIPS["clear"][0], "Delete", self.clear)
        self._action("revert", "Revert", "Back to the data set image last opened", "Ctrl+R", self.revert)
        self._action("undo", "Undo", "Undo the last edit", "Ctrl+Z", self.undo)
        self._action("redo", "Redo", "Redo the last undone edit", "Ctrl+Shift+Z", self.redo)
        self.actions["redo"].setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.actions["pen"].setChecked(True)
        self.size_box.valueChanged.connect(self._save_settings)
        self._update_history_actions()
        self.swatch = self._make_swatch()

    def _make_swatch(self) -> QToolButton:
        """The pen colour as a button (it opens the colour dialog)."""
        button = QToolButton(self)
        button.setDefaultAction(self.actions["colour"])
        button.setAutoRaise(True)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)    # narrow: the tools fit 1366 px
        return button

    def _layout(self) -> None:
        self.buttons: dict[str, QToolButton] = {}
        groups = [self._tool_group("canvas_tools", ("pen", "eraser", "hbar", "vbar", self.size_box)),
                  self._tool_group("canvas_history", ("undo", "redo", "revert")),
                  self._tool_group("canvas_edits", ("noise", "shift_left", "shift_up", "shift_down", "shift_right",
                                                    "invert", "clear", self.swatch, PICKER))]
        self._colour_items = [self.swatch, self.buttons[PICKER]]     # colour data only
        bars = QWidget(self)
        rows = FlowLayout(bars)           # as many rows as the canvas's width needs: no tool hidden
        for group in groups:
            rows.addWidget(group)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(0)
        layout.addWidget(bars)
        layout.addWidget(self.view, 1)

    def _tool_group(self, name: str, items: tuple[str | QWidget, ...]) -> QWidget:
        """A row of tool buttons (an action's key) and widgets that stays whole. (No toolbar: a toolbar
        hid tools behind its » button, and in presenter mode its » stayed over a tool it had room for.)"""
        group = QWidget(self)
        group.setObjectName(name)
        row = QHBoxLayout(group)
        row.setContentsMargins(0, 1, 8, 1)
        row.setSpacing(1)
        for item in items:
            row.addWidget(self._tool_button(item) if isinstance(item, str) else item)
        return group

    def _tool_button(self, key: str) -> QToolButton:
        button = QToolButton(self)
        button.setDefaultAction(self.actions[key])
        button.setAutoRaise(True)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.buttons[key] = button
        return button

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

    @property
    def colour(self) -> bool:
        """Whether the image on the canvas is a colour image (H, W, C)."""
        return is_colour(self.image)

    def set_tool(self, name: str) -> None:
        if name not in TOOLS and not (name == PICKER and self.colour):
            raise ValueError(f"unknown tool {name!r}; one of {TOOLS} (and {PICKER!r} for colour images)")
        self.tool = name
        self.actions[name].setChecked(True)
        if name == PICKER:
            self.view.setCursor(Qt.CursorShape.CrossCursor)
        else:
            self.view.unsetCursor()
        if name != PICKER:                     # the eyedropper is a moment's tool, not remembered
            self._save_settings()

    def set_pen_colour(self, values) -> None:
        """The pen's colour as channel values (C,) in [0, 1] (colour images only)."""
        values = np.clip(np.asarray(values, np.float32).reshape(-1), 0.0, 1.0)
        if not self.colour or values.shape != self.image.shape[2:]:
            raise ValueError(f"a pen colour has one value per channel of the image {self.image.shape}")
        self.pen_colour = values
        self.actions["colour"].setIcon(swatch_icon(screen_colour(values)))
        name = ", ".join(f"{v:.2f}" for v in values)
        self.swatch.setToolTip(f"Pen colour ({name}); click to choose another (C). Eyedropper: O")

    def choose_colour(self) -> None:
        """Ask for the pen colour in a colour dialog."""
        if not self.colour or self.pen_colour is None:
            return
        color = QColorDialog.getColor(screen_colour(self.pen_colour), self, "Pen colour")
        if color.isValid():
            self.set_pen_colour(channel_values(color, self.pen_colour))

    def pick(self, row: int, col: int) -> None:
        """The eyedropper: the pen takes the colour of a pixel, and the pen is the tool again."""
        value = pixel(self.image, row, col)
        if value is not None and self.colour:
            self.set_pen_colour(value)
            self.set_tool("pen")

    def _ink(self) -> Value:
        """What the pen and the bars paint: ink (grey) or the pen colour."""
        return self.pen_colour if self.colour and self.pen_colour is not None else 1.0

    def set_pen_size(self, size: int) -> None:
        self.size_box.setValue(int(size))

    def press(self, row: int, col: int) -> None:
        """Start an edit at a pixel with the current tool (the eyedropper picks its colour instead)."""
        if self.tool == PICKER:
            self.pick(row, col)
            return
        self.history.push(self.image)
        self._last = (row, col)
        if self.tool == "hbar":
            self.image = fill_row(self.image, row, self._ink())
        elif self.tool == "vbar":
            self.image = fill_col(self.image, col, self._ink())
        else:
            stamp(self.image, row, col, self.pen_size, self._ink() if self.tool == "pen" else self.background)
        self._changed(publish_now=False)

    def move_to(self, row: int, col: int) -> None:
        """Continue a pen / eraser stroke to a pixel."""
        if self._last is None or self.tool not in ("pen", "eraser") or (row, col) == self._last:
            return
        stroke(self.image, self._last, (row, col), self.pen_size,
               self._ink() if self.tool == "pen" else self.background)
        self._last = (row, col)
        self._changed(publish_now=False)

    def release(self) -> None:
        """End an edit (a click of the eyedropper edited nothing and publishes nothing)."""
        edited = self._last is not None
        self._last = None
        if edited:
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
        self.apply(self._blank)

    def _blank(self, image: np.ndarray) -> np.ndarray:
        out = np.empty_like(image)
        out[...] = self.background
        return out

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
    def _screen(self) -> np.ndarray:
        """What the item shows: grey as it is (through INK_LUT), colour as RGB."""
        return display(self.image) if self.colour else self.image

    def _changed(self, publish_now: bool) -> None:
        self.item.updateImage(self._screen(), levels=LEVELS, autoLevels=False)
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
        self.background = background(ds.images) if ds is not None else 0.0
        self._source_index = None

    def _show_colour_tools(self, colour: bool) -> None:
        """The swatch and the eyedropper for colour images; grey keeps ink and paper."""
        for key in COLOUR_ONLY:
            self.actions[key].setVisible(colour)
            self.actions[key].setEnabled(colour)
        for item in self._colour_items:
            item.setVisible(colour)
        for key, (grey_tip, colour_tip) in TOOL_TIPS.items():
            action = self.actions[key]
            shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            tip = f"{colour_tip if colour else grey_tip} ({shortcut})"
            action.setToolTip(tip)
            action.setStatusTip(tip)
        if not colour and self.tool == PICKER:
            self.set_tool("pen")

    def _colour_mode(self, image: np.ndarray) -> None:
        """A new image: colour tools and a pen colour that fits its channels (the complement of the
        background: white on black), or ink on grey."""
        colour = is_colour(image)
        self.item.setLookupTable(None if colour else INK_LUT)
        if not colour:
            self.pen_colour = None
        elif self.pen_colour is None or self.pen_colour.shape != image.shape[2:]:
            bg = np.broadcast_to(np.asarray(self.background, np.float32), image.shape[2:])
            self.set_pen_colour(1.0 - bg)
        self._show_colour_tools(colour)

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
        if shape_changed:
            self._colour_mode(image)
        self.item.setImage(self._screen(), levels=LEVELS, autoLevels=False)
        if shape_changed:
            h, w = image.shape[:2]
            self.border.setRect(0, 0, w, h)
            self.viewbox.autoRange(padding=0.02)
        self._update_history_actions()


# ----------------------------------------------------------------- the readout

