"""Colour in the app, the way a person uses it: open a colour .npz, see colour thumbnails, pick
a colour with the eyedropper, paint a stroke with the mouse, undo it; choose a colour in the
dialog (two channels: red and green); and the same flows on grey data give what they gave
before colour existed (ink dark on white, ink 1 / paper 0, no colour tools)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QColorDialog

from viscause_gui.gui.controllers.drawing import background
from viscause_gui.gui.main_window import MainWindow
from viscause_gui.gui.panels.canvas import Canvas
from viscause_gui.gui.widgets.images import (difference_rgb, display, display_qimage, screen_colour,
                                            thumbnail_icon)

RED, GREEN, BLACK, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 0), (255, 255, 255)
WAIT_MS = 10_000


def squares(channels: int, n: int = 24) -> np.ndarray:
    """(n, 8, 8, C) on black: a 4 x 4 square, full red (channel 0) in even images, green (channel 1) in odd."""
    images = np.zeros((n, 8, 8, channels), np.float32)
    for i in range(n):
        images[i, 2:6, 2:6, i % 2] = 1.0
    return images


def open_npz(qtbot, window: MainWindow, tmp_path, images: np.ndarray, name: str = "colour") -> None:
    path = tmp_path / f"{name}.npz"
    np.savez(path, images=images)
    window.opener.open_path(path)
    qtbot.waitUntil(lambda: window.state.dataset.name.startswith(name), timeout=WAIT_MS)
    qtbot.wait(50)                                   # the views settle their range


def rgb_pixels(image: QImage) -> set[tuple[int, int, int]]:
    arr = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h = arr.width(), arr.height()
    data = np.frombuffer(arr.constBits(), np.uint8, arr.bytesPerLine() * h).reshape(h, arr.bytesPerLine())
    return {tuple(p) for p in data[:, :3 * w].reshape(-1, 3).tolist()}


def pixel_pos(canvas: Canvas, row: int, col: int):
    """Where pixel (row, col) is on the canvas' viewport."""
    return canvas.view.mapFromScene(canvas.item.mapToScene(QPointF(col + 0.5, row + 0.5)))


def click(qtbot, canvas: Canvas, row: int, col: int) -> None:
    qtbot.mouseClick(canvas.view.viewport(), Qt.MouseButton.LeftButton, pos=pixel_pos(canvas, row, col))


def drag_along_row(qtbot, canvas: Canvas, row: int, cols: range) -> None:
    left, viewport = Qt.MouseButton.LeftButton, canvas.view.viewport()
    qtbot.mousePress(viewport, left, pos=pixel_pos(canvas, row, cols[0]))
    for col in cols[1:]:
        qtbot.mouseMove(viewport, pos=pixel_pos(canvas, row, col))
    qtbot.mouseRelease(viewport, left, pos=pixel_pos(canvas, row, cols[-1]))


# ----------------------------------------------------------------- what the screen shows

def test_channels_map_to_red_green_blue():
    x = np.array([[[0.2, 0.4, 0.6, 0.8]]], np.float32)
    np.testing.assert_allclose(display(x[..., :2]), [[[0.2, 0.4, 0.0]]])       # C = 2: red, green
    np.testing.assert_allclose(display(x[..., :3]), [[[0.2, 0.4, 0.6]]])       # RGB
    np.testing.assert_allclose(display(x), [[[0.2, 0.4, 0.6]]])                # C > 3: the first three
    assert screen_colour([1.0, 0.5]).name() == "#ff8000"
    assert rgb_pixels(display_qimage(squares(3)[0])) == {RED, BLACK}
    assert rgb_pixels(display_qimage(squares(2)[1])) == {GREEN, BLACK}


def test_grey_shows_as_before():
    grey = np.array([[0.0, 1.0], [0.5, 0.25]], np.float32)
    np.testing.assert_array_equal(display(grey), 1.0 - grey)                     # ink dark on white
    assert display_qimage(grey).format() == QImage.Format.Format_Grayscale8
    assert [display_qimage(grey).pixelColor(c, r).red() for r in (0, 1) for c in (0, 1)] == [255, 0, 128, 191]
    before, after = np.zeros((1, 3), np.float32), np.array([[1.0, 0.0, 0.5]], np.float32)
    np.testing.assert_array_equal(difference_rgb(before, after)[0], [[255, 0, 0], [255, 255, 255], [255, 128, 128]])
    np.testing.assert_array_equal(difference_rgb(after, before)[0], [[0, 0, 255], [255, 255, 255], [128, 128, 255]])


def test_colour_difference_red_brighter_blue_darker_purple_recoloured():
    before = np.zeros((1, 3, 3), np.float32)
    before[0, 2] = [1.0, 0.0, 0.0]
    after = before.copy()
    after[0, 0] = 1.0                    # black -> white: brighter
    before[0, 1] = 1.0                   # white -> black: darker
    after[0, 2] = [0.0, 1.0, 0.0]        # red -> green: the colour changed, not the brightness
    diff = difference_rgb(before, after)[0]
    assert tuple(diff[0]) == RED and tuple(diff[1]) == (0, 0, 255)
    r, g, b = diff[2]
    assert r == b and g < r < 255        # purple


def test_the_eraser_paints_the_most_common_corner_colour():
    assert background(np.zeros((3, 4, 4))) == 0.0                                # grey: no ink
    np.testing.assert_array_equal(background(squares(3)), [0, 0, 0])           # Colored-MNIST-like: black
    white = 1.0 - squares(3)
    np.testing.assert_array_equal(background(white), [1, 1, 1])                # photos on white


# ----------------------------------------------------------------- a person with colour data

@pytest.mark.parametrize("channels", [3, 2])
def test_colour_thumbnails_eyedropper_stroke_and_undo(qtbot, shown_window, tmp_path, channels):
    window = shown_window
    open_npz(qtbot, window, tmp_path, squares(channels))
    assert f"× 8 × 8 × {channels}" in window.data_label.text()
    colours = rgb_pixels(window.browser.view.viewport().grab().toImage())
    assert {RED, GREEN} <= colours                                   # both squares' colours, unmixed

    canvas = window.canvas
    window.state.select([1])                                         # the green square
    qtbot.waitUntil(lambda: canvas.drawing.image.shape == (8, 8, channels), timeout=WAIT_MS)
    assert canvas.item.image.shape == (8, 8, 3)                      # shown as RGB
    assert canvas.actions["picker"].isVisible() and canvas.swatch.isVisible()
    np.testing.assert_array_equal(canvas.drawing.pen_colour, np.ones(channels))   # the complement of black

    qtbot.keyClick(canvas.view, Qt.Key.Key_O)                        # the eyedropper
    assert canvas.drawing.tool == "picker"
    click(qtbot, canvas, 3, 3)                                       # on the green square
    qtbot.waitUntil(lambda: canvas.drawing.tool == "pen", timeout=WAIT_MS)
    green = np.eye(channels, dtype=np.float32)[1]
    np.testing.assert_array_equal(canvas.drawing.pen_colour, green)
    assert window.state.current_index == 1                          # picking edits nothing

    before = canvas.drawing.image.copy()
    canvas.set_pen_size(1)
    drag_along_row(qtbot, canvas, 0, range(0, 8))
    qtbot.waitUntil(lambda: np.array_equal(canvas.drawing.image[0], np.tile(green, (8, 1))), timeout=WAIT_MS)
    np.testing.assert_array_equal(canvas.drawing.image[1:], before[1:])      # only row 0
    np.testing.assert_array_equal(canvas.item.image[0], np.tile([0, 1, 0], (8, 1)))     # painted green
    np.testing.assert_array_equal(window.state.current_image, canvas.drawing.image)
    assert GREEN in rgb_pixels(canvas.view.grab().toImage())

    qtbot.keyClick(canvas.view, Qt.Key.Key_E)                        # the eraser paints black
    click(qtbot, canvas, 3, 3)
    qtbot.waitUntil(lambda: not canvas.drawing.image[3, 3].any(), timeout=WAIT_MS)
    qtbot.keyClick(canvas.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(canvas.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: np.array_equal(canvas.drawing.image, before), timeout=WAIT_MS)
    np.testing.assert_array_equal(window.state.current_image, before)


@pytest.mark.parametrize("channels, chosen, expected", [
    (3, QColor(0, 0, 255), [0, 0, 1]),
    (2, QColor(255, 0, 0), [1, 0]),              # two channels: the dialog's red and green
    (4, QColor(0, 255, 0), [0, 1, 0, 1]),        # a fourth channel keeps its value
])
def test_the_swatch_chooses_the_pen_colour(qtbot, shown_window, tmp_path, monkeypatch, channels, chosen, expected):
    window = shown_window
    open_npz(qtbot, window, tmp_path, squares(channels, n=4))
    canvas = window.canvas
    qtbot.waitUntil(lambda: canvas.drawing.colour, timeout=WAIT_MS)
    asked = []
    monkeypatch.setattr(QColorDialog, "getColor",
                        staticmethod(lambda initial, *a: asked.append(initial.name()) or chosen))
    qtbot.mouseClick(canvas.swatch, Qt.MouseButton.LeftButton)
    assert asked == [screen_colour(np.ones(channels)).name()]       # it starts from the pen colour
    np.testing.assert_array_equal(canvas.drawing.pen_colour, expected)
    icon = canvas.swatch.icon().pixmap(16, 16).toImage()
    assert icon.pixelColor(8, 8).name() == screen_colour(expected).name()
    canvas.drawing.set_tool("hbar")
    click(qtbot, canvas, 7, 0)
    qtbot.waitUntil(lambda: np.array_equal(canvas.drawing.image[7], np.tile(expected, (8, 1))), timeout=WAIT_MS)


def test_grey_data_keeps_todays_tools(qtbot, shown_window, tmp_path):
    window = shown_window
    grey = np.zeros((6, 8, 8), np.float32)
    grey[:, 2:6, 2:6] = 0.5
    open_npz(qtbot, window, tmp_path, grey, name="grey")
    assert window.data_label.text().endswith("× 8 × 8")
    canvas = window.canvas
    assert not canvas.drawing.colour and canvas.drawing.pen_colour is None
    assert not canvas.actions["picker"].isVisible() and not canvas.actions["colour"].isEnabled()
    assert not canvas.swatch.isVisible()
    np.testing.assert_array_equal(canvas.item.image, canvas.drawing.image)        # through the ink lookup table
    assert canvas.item.lut is not None
    assert rgb_pixels(window.browser.view.viewport().grab().toImage()) >= {(128, 128, 128), WHITE}
    qtbot.keyClick(canvas.view, Qt.Key.Key_O)                           # no eyedropper on grey
    assert canvas.drawing.tool == "pen"
    canvas.set_pen_size(1)
    drag_along_row(qtbot, canvas, 0, range(0, 8))
    qtbot.waitUntil(lambda: np.all(canvas.drawing.image[0] == 1.0), timeout=WAIT_MS)
    qtbot.keyClick(canvas.view, Qt.Key.Key_E)
    click(qtbot, canvas, 3, 3)
    qtbot.waitUntil(lambda: canvas.drawing.image[3, 3] == 0.0, timeout=WAIT_MS)
    assert canvas.drawing.image.sum() == 8 + 0.5 * 15
    canvas.actions["clear"].trigger()
    assert not canvas.drawing.image.any() and canvas.drawing.image.shape == (8, 8)
    icon = thumbnail_icon(grey[0], 8).pixmap(8, 8).toImage()
    assert icon.pixelColor(3, 3).red() == 128 and icon.pixelColor(1, 1).red() == 255


def test_colour_then_grey_then_colour(qtbot, shown_window, tmp_path):
    """Switching data sets switches the tools: the eyedropper ends with colour, ink comes back."""
    window = shown_window
    canvas = window.canvas
    open_npz(qtbot, window, tmp_path, squares(3, n=4))
    canvas.drawing.set_tool("picker")
    assert canvas.view.cursor().shape() == Qt.CursorShape.CrossCursor
    open_npz(qtbot, window, tmp_path, squares(3, n=4)[..., 0], name="grey")
    assert canvas.drawing.tool == "pen" and not canvas.drawing.colour and canvas.item.lut is not None
    assert canvas.view.cursor().shape() == Qt.CursorShape.ArrowCursor
    np.testing.assert_array_equal(canvas.item.image, canvas.drawing.image)
    with pytest.raises(ValueError):
        canvas.drawing.set_tool("picker")
    open_npz(qtbot, window, tmp_path, squares(2, n=4), name="two")
    assert canvas.item.lut is None and canvas.item.image.shape == (8, 8, 3)
    np.testing.assert_array_equal(canvas.drawing.pen_colour, [1, 1])
