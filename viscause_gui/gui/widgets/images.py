"""Images on screen: ink drawn dark on white, difference images, image views, thumbnails."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from viscause_gui.gui.widgets.plots import GraphicsView


def ink_display(image: np.ndarray) -> np.ndarray:
    """(H, W) image with 1 = ink -> float32 for display with levels (0, 1): ink dark on white."""
    return np.ascontiguousarray(1.0 - np.clip(np.asarray(image, np.float32), 0.0, 1.0))


def difference_rgb(original: np.ndarray, manipulated: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 on white: red where ink was added, blue where ink was removed."""
    d = np.clip(np.asarray(manipulated, np.float32) - np.asarray(original, np.float32), -1.0, 1.0)
    add, rem = np.clip(d, 0, 1), np.clip(-d, 0, 1)
    rgb = np.empty((*d.shape, 3), np.float32)
    rgb[..., 0] = 1.0 - rem
    rgb[..., 1] = 1.0 - add - rem
    rgb[..., 2] = 1.0 - add
    return np.ascontiguousarray(np.round(rgb * 255).astype(np.uint8))


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


def ink_qimage(image: np.ndarray) -> QImage:
    """Grey QImage of an ink image (ink dark on white)."""
    grey = np.ascontiguousarray(np.round(ink_display(image) * 255).astype(np.uint8))
    h, w = grey.shape
    return QImage(grey.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


def thumbnail_icon(image: np.ndarray, size: int = 40) -> QIcon:
    """The image scaled to size (nearest pixels), with a grey frame so blank images show."""
    pixmap = QPixmap.fromImage(ink_qimage(image)).scaled(
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
