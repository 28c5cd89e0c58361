"""The drawing canvas as a person uses it: tool buttons, keys, the mouse, undo / redo shortcuts, the readout
(what each edit does to the image: tests/controllers/test_canvas_controller.py)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.gui.main_window import CanvasPanel
from viscause_gui.gui.panels.canvas import Canvas
from viscause_gui.gui.state import AppState


@pytest.fixture
def state() -> AppState:
    st = AppState()
    model = GratingModel()
    st.set_dataset(model.sample(200, 0))
    return st


@pytest.fixture
def canvas(qtbot, state, settings) -> Canvas:
    widget = Canvas(state, settings)
    qtbot.addWidget(widget)
    widget.actions["clear"].trigger()
    return widget


def test_opens_the_selected_image(canvas, state):
    state.select([5])
    np.testing.assert_array_equal(canvas.drawing.image, state.dataset.images[5])


def test_undo_redo_shortcuts(canvas):
    assert canvas.actions["undo"].shortcut().toString() == "Ctrl+Z"
    assert "Ctrl+Shift+Z" in [s.toString() for s in canvas.actions["redo"].shortcuts()]
    canvas.drawing.set_tool("hbar")
    canvas.drawing.press(2, 0)
    canvas.drawing.release()
    canvas.actions["undo"].trigger()
    assert canvas.drawing.image.sum() == 0
    canvas.actions["redo"].trigger()
    assert canvas.drawing.image.sum() == 10


def test_mouse_drag_draws(qtbot, state, settings):
    panel = _shown_panel(qtbot, state, settings)
    canvas = panel.canvas
    canvas.actions["clear"].trigger()
    canvas.drawing.set_tool("hbar")
    view = canvas.view
    scene_pos = canvas.item.mapToScene(QPointF(4.5, 6.5))     # x = column, y = row
    pos = view.mapFromScene(scene_pos)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: canvas.drawing.image.sum() == 10, timeout=2000)
    assert np.all(canvas.drawing.image[6] == 1.0)


def test_readout_truth_follows_the_drawing(qtbot, state, settings):
    panel = CanvasPanel(state, settings)
    qtbot.addWidget(panel)
    canvas, readout = panel.canvas, panel.readout
    canvas.actions["clear"].trigger()
    canvas.drawing.set_tool("hbar")
    canvas.drawing.press(2, 0)
    canvas.drawing.release()
    qtbot.waitUntil(lambda: "h-bar yes" in readout.truth_text("bars"), timeout=2000)
    assert readout.truth_box.title() == "Truth (GRATING)" and readout.truth_box.isVisibleTo(panel)
    assert readout.truth_text("P(T=1 | man(I))") == "0.85"    # 0.1 + 0.3 * 0.5 + 0.6
    assert readout.truth_text("P(T=1 | I)") == "0.70"       # no v-bar: H1 = 0
    assert "not trained" in readout.values["causal"].text()
    assert "edited" in readout.values["source"].text()


def test_readout_on_grey_data_hides_truth(qtbot, settings):
    st = AppState()
    st.set_dataset(Dataset(images=np.random.default_rng(0).random((20, 6, 6)).astype(np.float32)))
    panel = CanvasPanel(st, settings)
    qtbot.addWidget(panel)
    assert not panel.canvas.drawing.binary
    panel.readout.refresh()
    assert not panel.readout.truth_box.isEnabled() and not panel.readout.truth_box.isVisibleTo(panel)
    assert "no observational model" in panel.readout.values["p_obs"].text() or \
        "training" in panel.readout.values["p_obs"].text()


def test_mouse_drag_with_the_pen_draws_a_stroke(qtbot, state, settings):
    panel = CanvasPanel(state, settings)
    qtbot.addWidget(panel)
    panel.resize(600, 600)
    panel.show()
    qtbot.waitExposed(panel)
    canvas = panel.canvas
    canvas.actions["clear"].trigger()
    canvas.drawing.set_tool("pen")
    canvas.set_pen_size(1)
    qtbot.wait(50)
    view = canvas.view

    def at(row: float, col: float):
        return view.mapFromScene(canvas.item.mapToScene(QPointF(col, row)))

    left = Qt.MouseButton.LeftButton
    qtbot.mousePress(view.viewport(), left, pos=at(5.5, 0.5))
    for col in range(1, 10):
        qtbot.mouseMove(view.viewport(), pos=at(5.5, col + 0.5))
    qtbot.mouseRelease(view.viewport(), left, pos=at(5.5, 9.5))
    qtbot.waitUntil(lambda: canvas.drawing.image[5].sum() >= 8, timeout=2000)
    assert canvas.drawing.image.sum() == canvas.drawing.image[5].sum()        # only row 5 got ink
    np.testing.assert_array_equal(state.current_image, canvas.drawing.image)


def _click_on_pixel(qtbot, canvas: Canvas, row: int, col: int) -> None:
    scene_pos = canvas.item.mapToScene(QPointF(col + 0.5, row + 0.5))     # x = column, y = row
    qtbot.mouseClick(canvas.view.viewport(), Qt.MouseButton.LeftButton, pos=canvas.view.mapFromScene(scene_pos))


def _shown_panel(qtbot, state, settings) -> CanvasPanel:
    panel = CanvasPanel(state, settings)
    qtbot.addWidget(panel)
    panel.resize(600, 600)
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.wait(50)                      # the view box settles its range after the resize
    return panel


def _draw_an_hbar_by_clicking(qtbot, canvas: Canvas, row: int) -> None:
    canvas.actions["clear"].trigger()
    qtbot.mouseClick(_tool_button(canvas, "hbar"), Qt.MouseButton.LeftButton)
    _click_on_pixel(qtbot, canvas, row, 0)
    qtbot.waitUntil(lambda: canvas.drawing.image.sum() == 10, timeout=2000)


def _tool_button(canvas: Canvas, key: str):
    """The tool button a person clicks for the action `key`."""
    from PySide6.QtWidgets import QToolButton
    for button in canvas.findChildren(QToolButton):
        if button.defaultAction() is canvas.actions[key]:
            return button
    raise AssertionError(f"no tool button for {key}")


@pytest.mark.parametrize("key, row, col, expected", [
    ("hbar", 6, 4, lambda img: np.all(img[6] == 1.0) and img.sum() == 10),
    ("vbar", 6, 4, lambda img: np.all(img[:, 4] == 1.0) and img.sum() == 10),
])
def test_clicking_a_tool_button_changes_what_the_next_click_draws(qtbot, state, settings, key, row, col, expected):
    panel = _shown_panel(qtbot, state, settings)
    canvas = panel.canvas
    canvas.actions["clear"].trigger()
    qtbot.mouseClick(_tool_button(canvas, key), Qt.MouseButton.LeftButton)
    assert canvas.drawing.tool == key and canvas.actions[key].isChecked()
    _click_on_pixel(qtbot, canvas, row, col)
    qtbot.waitUntil(lambda: expected(canvas.drawing.image), timeout=2000)


def test_the_eraser_button_and_key_erase(qtbot, state, settings):
    panel = _shown_panel(qtbot, state, settings)
    canvas = panel.canvas
    _draw_an_hbar_by_clicking(qtbot, canvas, 3)
    qtbot.mouseClick(_tool_button(canvas, "eraser"), Qt.MouseButton.LeftButton)
    assert canvas.drawing.tool == "eraser"
    _click_on_pixel(qtbot, canvas, 3, 5)
    qtbot.waitUntil(lambda: canvas.drawing.image[3, 5] == 0.0, timeout=2000)
    qtbot.keyClick(canvas.view, Qt.Key.Key_B)                  # back to the pen by its key
    assert canvas.drawing.tool == "pen"
    qtbot.keyClick(canvas.view, Qt.Key.Key_V)
    assert canvas.drawing.tool == "vbar"


def test_shift_buttons_shift_by_one_pixel(qtbot, state, settings):
    panel = _shown_panel(qtbot, state, settings)
    canvas = panel.canvas
    _draw_an_hbar_by_clicking(qtbot, canvas, 3)
    qtbot.mouseClick(_tool_button(canvas, "shift_down"), Qt.MouseButton.LeftButton)
    drawing = canvas.drawing
    assert np.all(drawing.image[4] == 1.0) and drawing.image.sum() == 10
    qtbot.mouseClick(_tool_button(canvas, "shift_right"), Qt.MouseButton.LeftButton)
    assert np.all(drawing.image[4] == 1.0) and drawing.image.sum() == 10     # a full row shifted right is itself
