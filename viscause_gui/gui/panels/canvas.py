"""Drawing canvas (pyqtgraph) with pen, eraser, h-bar / v-bar, noise, shift, invert, undo/redo: the view
of a CanvasController (controllers/canvas.py), which keeps the image, the tool, the pen and the undo
history and says what each click, drag and action does.

On colour data the pen, the bars and the eraser work in every channel: the pen paints the
chosen colour (the swatch opens a colour dialog, the eyedropper picks the colour under a
click), the eraser paints the data set's background (`controllers.drawing.background`: the
most common corner colour). Grey data has neither swatch nor eyedropper: ink is 1, paper 0.

Every edit reaches `state.set_current_image(image)` (a stroke's coalesced, PUBLISH_MS). The
readout (panels/readout.py, beside the canvas) recomputes when the image, the nets or the
observational model change.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QColor, QIcon, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import QColorDialog, QHBoxLayout, QSpinBox, QToolButton, QVBoxLayout, QWidget

from viscause_gui.gui.controllers.canvas import CanvasController
from viscause_gui.gui.controllers.drawing import PICKER, TOOLS
from viscause_gui.gui.help import HELP_TEXT
from viscause_gui.gui.models.actions import CANVAS_ACTIONS
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.actions import action_from_spec
from viscause_gui.gui.widgets.flow import FlowLayout
from viscause_gui.gui.widgets.images import LEVELS, channel_values, display, screen_colour
from viscause_gui.gui.widgets.plots import GraphicsLayoutWidget

PUBLISH_MS = 30      # coalesce state updates while the pen moves
INK_LUT = np.linspace(255, 0, 256).astype(np.uint8)     # grey: ink dark on white
COLOUR_ONLY = (PICKER, "colour")                       # actions that exist for colour data only
SHIFTS = {"left": (0, -1), "right": (0, 1), "up": (-1, 0), "down": (1, 0)}
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

    def __init__(self, drawing: CanvasController):
        super().__init__(axisOrder="row-major")
        self.drawing = drawing

    @staticmethod
    def _pixel(pos) -> tuple[int, int]:
        return int(np.floor(pos.y())), int(np.floor(pos.x()))

    def mouseClickEvent(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        ev.accept()
        self.drawing.press(*self._pixel(ev.pos()))
        self.drawing.release()

    def mouseDragEvent(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        if ev.isStart():
            self.drawing.press(*self._pixel(ev.buttonDownPos()))
        self.drawing.move_to(*self._pixel(ev.pos()))
        if ev.isFinish():
            self.drawing.release()


# ----------------------------------------------------------------- the canvas

class Canvas(QWidget):
    """The image being drawn and perturbed (`drawing`, its controller); tools and edit actions live in
    `actions`."""

    def __init__(self, state: AppState, settings: QSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.settings = settings
        self.drawing = CanvasController(state, self)
        self._publish_timer = QTimer(self, singleShot=True, interval=PUBLISH_MS)
        self._publish_timer.timeout.connect(self.publish)
        self.actions: dict[str, QAction] = {}
        self.size_box = self._make_size_box()
        self.item = DrawImageItem(self.drawing)
        self.view = self._make_view()
        self._make_actions()
        self._layout()
        self.show_colour_tools(False)
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
        self.item.setImage(self.drawing.image, levels=(0.0, 1.0), autoLevels=False)
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
        box.setValue(self.drawing.pen_size)
        box.setPrefix("size ")
        box.setToolTip("Pen and eraser diameter in pixels")
        return box

    def _make_actions(self) -> None:
        """The canvas's actions, as the action registry declares them (gui/models/actions.py:
        CANVAS_ACTIONS): its buttons and the main window's Edit menu."""
        drawing = self.drawing
        slots: dict[str, Callable[[], Any]] = {
            "undo": drawing.undo, "redo": drawing.redo, "revert": drawing.revert, "colour": self.choose_colour,
            "noise": drawing.add_noise, "invert": drawing.invert, "clear": drawing.clear,
            **{tool: (lambda n=tool: drawing.set_tool(n)) for tool in (*TOOLS, PICKER)},
            **{f"shift_{name}": (lambda dr=dr, dc=dc: drawing.shift(dr, dc)) for name, (dr, dc) in SHIFTS.items()}}
        for spec in CANVAS_ACTIONS:
            self.actions[spec.id] = action_from_spec(self, spec, slots[spec.id])
        group = QActionGroup(self)
        for tool in (*TOOLS, PICKER):            # one tool at a time
            group.addAction(self.actions[tool])
        self.actions[PICKER].setIconText("Pick")             # its toolbar button (the menu says Eyedropper)
        self.addAction(self.actions["colour"])     # its shortcut works without a toolbar button
        self.actions["pen"].setChecked(True)
        self.size_box.valueChanged.connect(self._size_changed)
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
        self.drawing.set_tool(tool if tool in TOOLS else "pen")

    def _save_settings(self) -> None:
        if self.settings is not None:
            self.settings.setValue("canvas/tool", self.drawing.tool)
            self.settings.setValue("canvas/pen_size", self.drawing.pen_size)

    def _size_changed(self, size: int) -> None:
        self.drawing.pen_size = size
        self._save_settings()

    def set_pen_size(self, size: int) -> None:
        """The pen and eraser diameter, as the size box shows it."""
        self.size_box.setValue(int(size))

    def choose_colour(self) -> None:
        """Ask for the pen colour in a colour dialog."""
        pen = self.drawing.pen_colour
        if not self.drawing.colour or pen is None:
            return
        color = QColorDialog.getColor(screen_colour(pen), self, "Pen colour")
        if color.isValid():
            self.drawing.set_pen_colour(channel_values(color, pen))

    # ----- CanvasView: what the controller shows -----
    def show_tool(self, tool: str, remember: bool) -> None:
        self.actions[tool].setChecked(True)
        if tool == PICKER:
            self.view.setCursor(Qt.CursorShape.CrossCursor)
        else:
            self.view.unsetCursor()
        if remember:
            self._save_settings()

    def show_pen_colour(self, values: np.ndarray) -> None:
        self.actions["colour"].setIcon(swatch_icon(screen_colour(values)))
        name = ", ".join(f"{v:.2f}" for v in values)
        self.swatch.setToolTip(f"Pen colour ({name}); click to choose another (C). Eyedropper: O")

    def show_edit(self, publish_now: bool) -> None:
        self.item.updateImage(self._screen(), levels=LEVELS, autoLevels=False)
        self._update_history_actions()
        if publish_now:
            self.publish()
        elif not self._publish_timer.isActive():
            self._publish_timer.start()

    def publish(self) -> None:
        """Hand the edited image to the app state (every panel sees it)."""
        self._publish_timer.stop()
        self.drawing.publish()

    def show_image(self, new_shape: bool) -> None:
        colour = self.drawing.colour
        if new_shape:
            self.item.setLookupTable(None if colour else INK_LUT)
        self.item.setImage(self._screen(), levels=LEVELS, autoLevels=False)
        if new_shape:
            h, w = self.drawing.image.shape[:2]
            self.border.setRect(0, 0, w, h)
            self.viewbox.autoRange(padding=0.02)
        self._update_history_actions()

    def show_colour_tools(self, colour: bool) -> None:
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

    # ----- internals -----
    def _screen(self) -> np.ndarray:
        """What the item shows: grey as it is (through INK_LUT), colour as RGB."""
        image = self.drawing.image
        return display(image) if self.drawing.colour else image

    def _update_history_actions(self) -> None:
        self.actions["undo"].setEnabled(bool(self.drawing.history.undo_stack))
        self.actions["redo"].setEnabled(bool(self.drawing.history.redo_stack))

    # the state's signals reach the controller through the widget's slots: Qt disconnects them with the widget
    def _on_dataset(self) -> None:
        self.drawing.dataset_changed()

    def _on_state_image(self) -> None:
        self.drawing.state_image_changed()
