"""One class palette shared by every panel (class k always has the same colour and symbol), and the
colours of the plots' curves."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor

# Tableau 10: distinct, readable on white, colour-blind friendlier than pure hues.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def class_color(k: int, alpha: int = 255) -> QColor:
    """Colour of class k (wraps after ten classes), with the given opacity."""
    color = QColor(PALETTE[int(k) % len(PALETTE)])
    color.setAlpha(alpha)
    return color


def text_color_on(background: QColor) -> QColor:
    """Black or white, whichever reads better on the background."""
    luma = 0.299 * background.red() + 0.587 * background.green() + 0.114 * background.blue()
    return QColor("black") if luma > 150 else QColor("white")


SYMBOLS = ("o", "s", "t", "d", "+", "x", "star", "p", "h", "t1")


PEN_COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "merr": "#d62728", "mdist": "#2ca02c"}


def class_brush(k: int, alpha: int = 200) -> pg.QtGui.QBrush:
    return pg.mkBrush(class_color(k, alpha))


def class_symbol(s: int) -> str:
    return SYMBOLS[int(s) % len(SYMBOLS)]
