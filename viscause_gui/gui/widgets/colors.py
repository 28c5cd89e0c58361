"""One class palette shared by every panel: class k always has the same colour."""
from __future__ import annotations

from PySide6.QtGui import QColor

# Tableau 10: distinct, readable on white, colour-blind friendlier than pure hues.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def class_color(k: int) -> QColor:
    """Colour of class k (wraps after ten classes)."""
    return QColor(PALETTE[int(k) % len(PALETTE)])


def text_color_on(background: QColor) -> QColor:
    """Black or white, whichever reads better on the background."""
    luma = 0.299 * background.red() + 0.587 * background.green() + 0.114 * background.blue()
    return QColor("black") if luma > 150 else QColor("white")
