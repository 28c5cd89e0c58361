"""Small pyqtgraph / Qt helpers shared by the manipulator, learning and classes panels."""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np
import shiboken6
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QColor, QIcon, QImage, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QLabel, QVBoxLayout, QWidget

from viscause_gui.core.runtime.foreground import foreground_busy
from viscause_gui.gui.widgets.colors import PALETTE

def if_alive(method: Callable[..., Any]) -> Callable[..., Any]:
    """For worker callbacks: do nothing once the widget's C++ object is gone.

    A worker's result is a queued event; connected through a lambda it has no receiver that
    Qt could disconnect, so it may arrive after the window closed and deleted the widget.
    """
    @functools.wraps(method)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        if not shiboken6.isValid(self):
            return None
        return method(self, *args, **kwargs)
    return wrapper


class _AnnouncesRepaints:
    """Repaints are the GUI thread's heaviest work, and Qt starts them from a timer, unannounced:
    tell background loops (core.foreground) to give way until the event loop rests again."""

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        foreground_busy()
        super().paintEvent(event)


class GraphicsView(_AnnouncesRepaints, pg.GraphicsView):
    pass


class PlotWidget(_AnnouncesRepaints, pg.PlotWidget):
    pass


class GraphicsLayoutWidget(_AnnouncesRepaints, pg.GraphicsLayoutWidget):
    pass


SYMBOLS = ("o", "s", "t", "d", "+", "x", "star", "p", "h", "t1")
PEN_COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "merr": "#d62728", "mdist": "#2ca02c"}


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


def image_box(title: str) -> tuple[QWidget, pg.ImageItem]:
    """A titled, aspect-locked, non-interactive view holding one row-major ImageItem."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    caption = QLabel(title)
    caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
    caption.setWordWrap(True)             # a narrow dock wraps it rather than growing to fit it
    view = pg.ViewBox(lockAspect=True, invertY=True, enableMouse=False)
    view.setMenuEnabled(False)
    view.setBackgroundColor("#d9d9d9")      # shows where a white image ends
    canvas = GraphicsView(background="w")
    canvas.setCentralItem(view)
    item = pg.ImageItem(axisOrder="row-major")
    view.addItem(item)
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


def class_qcolor(k: int, alpha: int = 255) -> QColor:
    color = QColor(PALETTE[int(k) % len(PALETTE)])
    color.setAlpha(alpha)
    return color


def class_brush(k: int, alpha: int = 200) -> pg.QtGui.QBrush:
    return pg.mkBrush(class_qcolor(k, alpha))


def class_symbol(s: int) -> str:
    return SYMBOLS[int(s) % len(SYMBOLS)]


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


def make_action(parent: QObject, text: str, tip: str, shortcut: str | QKeySequence | None = None,
                slot: Callable[[], Any] | None = None, checkable: bool = False) -> QAction:
    """A QAction whose tooltip and status tip say what it does and name its shortcut."""
    action = QAction(text, parent)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
        tip = f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
    action.setToolTip(tip)
    action.setStatusTip(tip)
    action.setCheckable(checkable)
    if slot is not None:
        action.triggered.connect(slot)
    return action


def message_label(text: str) -> QLabel:
    """A centred, wrapped message for a panel that has nothing to show yet."""
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet("color: #505050; font-size: 13px; padding: 12px;")
    return label


def cache_axes(plot: PlotWidget) -> None:
    """Keep each axis (ticks, labels, grid) as a pixmap, redrawn only when the axis changes.

    pyqtgraph replays an axis's tick text on every repaint of its plot: ~11 ms per plot on
    2 cores, most of a repaint, and it adds up while training updates the curves.
    """
    for name in ("left", "bottom", "right", "top"):
        plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k at or above value (> 0)."""
    if not np.isfinite(value) or value <= 0:
        return 1.0
    power = 10.0 ** np.floor(np.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * power >= value * (1 - 1e-9):
            return float(step * power)
    return float(10 * power)


def set_ranges_stepwise(plot: PlotWidget, x: tuple[float, float] | None, y: tuple[float, float] | None) -> None:
    """Show [lo, nice_ceiling(hi)] on each axis given: a growing curve changes the axes (and
    their cached pictures) only now and then instead of on every redraw."""
    if x is not None:
        plot.setXRange(x[0], nice_ceiling(x[1]), padding=0)
    if y is not None:
        plot.setYRange(y[0], nice_ceiling(y[1]), padding=0)


def line_plot(title: str, left: str, bottom: str, legend: bool = True) -> PlotWidget:
    plot = PlotWidget(title=title)
    plot.setBackground("w")
    plot.showGrid(x=True, y=True, alpha=0.3)
    plot.setLabel("left", left)
    plot.setLabel("bottom", bottom)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).enableAutoSIPrefix(False)
    cache_axes(plot)
    if legend:
        plot.addLegend(offset=(-5, 5))
    plot.setMouseEnabled(x=False, y=False)
    plot.setMinimumHeight(140)
    return plot
