"""Images on screen: the one place that turns an image into what the screen shows.

Grey images (H, W) hold ink (1.0 = ink) and are drawn dark on white. Colour images (H, W, C)
hold C channels last (1.0 = full intensity) and are drawn as RGB: C = 2 as red and green
(blue 0), C = 3 as RGB, C > 3 by their first three channels. Panels show images through
`display` (pyqtgraph, levels `LEVELS`), `display_qimage` / `thumbnail_icon` (Qt) and
`difference_rgb`, so grey and colour look alike everywhere.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from viscause_gui.gui.widgets.plots import GraphicsView

LEVELS = (0.0, 1.0)          # the levels of every `display` image
DIFFERENCE_LEGEND = {
    False: "Red: ink the manipulation added; blue: ink it removed",
    True: "Red: the pixel got brighter (intensity added over its channels); blue: darker (intensity "
          "removed); purple: its colour changed at about the same brightness. The stronger the colour, "
          "the larger the change (L2 over the channels)",
}


def is_colour(image: np.ndarray) -> bool:
    """Whether one image is colour: (H, W, C) with channels last; (H, W) is grey."""
    return np.ndim(image) == 3


def ink_display(image: np.ndarray) -> np.ndarray:
    """(H, W) image with 1 = ink -> float32 for display with levels (0, 1): ink dark on white."""
    return np.ascontiguousarray(1.0 - np.clip(np.asarray(image, np.float32), 0.0, 1.0))


def rgb_display(image: np.ndarray) -> np.ndarray:
    """(H, W, C) colour image -> (H, W, 3) float32 in [0, 1]: C = 2 red and green, C > 3 the first three."""
    x = np.clip(np.asarray(image, np.float32), 0.0, 1.0)[..., :3]
    if x.shape[-1] < 3:
        x = np.concatenate([x, np.zeros((*x.shape[:-1], 3 - x.shape[-1]), np.float32)], axis=-1)
    return np.ascontiguousarray(x)


def display(image: np.ndarray) -> np.ndarray:
    """What an ImageItem shows with levels LEVELS: grey ink dark on white, colour as RGB."""
    return rgb_display(image) if is_colour(image) else ink_display(image)


def screen_colour(values: np.ndarray) -> QColor:
    """The colour on screen of one pixel's channel values (C,) of a colour image."""
    r, g, b = np.round(rgb_display(np.asarray(values, np.float32)[None, None])[0, 0] * 255).astype(int)
    return QColor(int(r), int(g), int(b))


def channel_values(color: QColor, current: np.ndarray) -> np.ndarray:
    """A screen colour as the channel values (C,) of a colour image: the inverse of `screen_colour`.
    C = 2 takes red and green (blue has no channel); C > 3 sets the first three and keeps the rest
    of `current`."""
    rgb = np.array([color.redF(), color.greenF(), color.blueF()], np.float32)
    values = np.array(current, np.float32, copy=True)
    n = min(len(values), 3)
    values[:n] = rgb[:n]
    return values


def _change(original: np.ndarray, manipulated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel (added, removed) in [0, 1]. Grey: the ink added or removed. Colour: with m the L2
    change over the channels (RMS) and s the signed mean change, added = (m + s) / 2 and removed =
    (m - s) / 2 (|s| <= m): all of m is 'added' when every channel grew, half of each when only the
    colour changed."""
    d = np.asarray(manipulated, np.float32) - np.asarray(original, np.float32)
    if not is_colour(d):
        d = np.clip(d, -1.0, 1.0)
        return np.clip(d, 0, 1), np.clip(-d, 0, 1)
    m = np.sqrt(np.mean(np.clip(d, -1.0, 1.0) ** 2, axis=-1))
    s = np.clip(np.mean(d, axis=-1), -m, m)
    return np.clip((m + s) / 2, 0, 1), np.clip((m - s) / 2, 0, 1)


def _paint_change(add: np.ndarray, rem: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 on white: red for what was added, blue for what was removed."""
    rgb = np.empty((*np.shape(add), 3), np.float32)
    rgb[..., 0] = 1.0 - rem
    rgb[..., 1] = 1.0 - add - rem
    rgb[..., 2] = 1.0 - add
    return np.ascontiguousarray(np.round(rgb * 255).astype(np.uint8))


def difference_rgb(original: np.ndarray, manipulated: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 on white: red where ink (intensity) was added, blue where it was removed,
    purple where a colour changed (see DIFFERENCE_LEGEND)."""
    return _paint_change(*_change(original, manipulated))


def difference_key() -> str:
    """Rich text under a colour difference view: its three colours (at full change) and their meaning."""
    meaning = {"brighter": (1.0, 0.0), "darker": (0.0, 1.0), "colour": (0.5, 0.5)}
    parts = []
    for text, (add, rem) in meaning.items():
        r, g, b = _paint_change(np.float32(add), np.float32(rem)).tolist()
        parts.append(f"<span style='color:#{r:02x}{g:02x}{b:02x}'>&#9632;</span>&nbsp;{text}")
    return " ".join(parts)


def image_view() -> tuple[GraphicsView, pg.ImageItem]:
    """An aspect-locked, non-interactive view holding one row-major ImageItem."""
    view = pg.ViewBox(lockAspect=True, invertY=True, enableMouse=False)
    view.setMenuEnabled(False)
    view.setBackgroundColor("#d9d9d9")      # shows where a white image ends
    canvas = GraphicsView(background="w")
    canvas.setCentralItem(view)
    item = pg.ImageItem(axisOrder="row-major")
    view.addItem(item)
    return canvas, item


def image_box(title: str) -> tuple[QWidget, pg.ImageItem]:
    """A titled image_view."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    caption = QLabel(title)
    caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
    caption.setWordWrap(True)             # a narrow dock wraps it rather than growing to fit it
    canvas, item = image_view()
    layout.addWidget(caption)
    layout.addWidget(canvas, 1)
    return box, item


def show_image(item: pg.ImageItem, image: np.ndarray, levels: tuple[float, float]) -> None:
    """Set the image with fixed levels; a same-shaped image only updates the pixels."""
    old = item.image
    if old is not None and old.shape == image.shape and old.dtype == image.dtype:
        item.updateImage(image, levels=levels)
    else:
        item.setImage(image, levels=levels, autoLevels=False)
        view = item.getViewBox()
        if view is not None:
            view.autoRange(padding=0.02)



def show_data_image(item: pg.ImageItem, image: np.ndarray) -> None:
    """Show a data image (grey or colour) as the screen shows it (`display`)."""
    show_image(item, display(image), LEVELS)


def ink_qimage(image: np.ndarray) -> QImage:
    """Grey QImage of an ink image (ink dark on white)."""
    grey = np.ascontiguousarray(np.round(ink_display(image) * 255).astype(np.uint8))
    h, w = grey.shape
    return QImage(grey.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


def display_qimage(image: np.ndarray) -> QImage:
    """The QImage of an image as the screen shows it: grey as `ink_qimage`, colour as RGB."""
    if not is_colour(image):
        return ink_qimage(image)
    rgb = np.ascontiguousarray(np.round(rgb_display(image) * 255).astype(np.uint8))
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def thumbnail_icon(image: np.ndarray, size: int = 40) -> QIcon:
    """The image scaled to size (nearest pixels), with a grey frame so blank images show."""
    pixmap = QPixmap.fromImage(display_qimage(image)).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)
    painter = QPainter(pixmap)
    painter.setPen(QColor("#9a9a9a"))
    painter.drawRect(0, 0, pixmap.width() - 1, pixmap.height() - 1)
    painter.end()
    return QIcon(pixmap)


def message_label(text: str) -> QLabel:
    """A centred, wrapped message for a panel that has nothing to show yet."""
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet("color: #505050; font-size: 13px; padding: 12px;")
    return label
