"""Plot widgets that tell background loops when they repaint, and plot helpers (axes, ranges)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem

from viscause_gui.core.system.foreground import foreground_busy


class _AnnouncesRepaints:
    """Repaints are the GUI thread's heaviest work, and Qt starts them from a timer, unannounced:
    tell background loops (core.foreground) to give way until the event loop rests again."""

    def paintEvent(self, event) -> None:
        foreground_busy()
        super().paintEvent(event)


class GraphicsView(_AnnouncesRepaints, pg.GraphicsView):
    pass


class PlotWidget(_AnnouncesRepaints, pg.PlotWidget):
    pass


class GraphicsLayoutWidget(_AnnouncesRepaints, pg.GraphicsLayoutWidget):
    pass


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
