"""A small bar chart of two answers over T's K outcomes: P(T | I) beside P(T | man(I)), one pair per outcome."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg

from viscause_gui.gui.models.outcome_text import distribution
from viscause_gui.gui.widgets.plain_text import plain_tooltip
from viscause_gui.gui.widgets.plots import PlotWidget, cache_axes

SERIES = (("P(T | I)", (52, 101, 164)), ("P(T | man(I))", (230, 126, 34)))   # observed, manipulated
BAR_WIDTH = 0.38
MAX_TICK_CHARS = 12      # a long outcome name is cut on the axis (whole in the tooltip)


class OutcomeBars(PlotWidget):
    """P(T | I) and P(T | man(I)) of one image as bars over the outcomes (a series without a value: no bars)."""

    def __init__(self) -> None:
        super().__init__()
        self.setBackground("w")
        self.setMouseEnabled(x=False, y=False)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.setYRange(0, 1, padding=0.02)
        self.getAxis("left").setTicks([[(v, f"{v:g}") for v in (0, 0.5, 1)]])
        cache_axes(self)
        self.addLegend(offset=(-5, 2), labelTextSize="8pt")
        self.setMinimumHeight(120)
        self.setMaximumHeight(170)
        self.names: tuple[str, ...] = ()
        self.values: dict[str, np.ndarray | None] = {name: None for name, _ in SERIES}
        self.bars: dict[str, pg.BarGraphItem] = {}
        for name, colour in SERIES:
            item = pg.BarGraphItem(x=[], height=[], width=BAR_WIDTH, brush=pg.mkBrush(*colour), pen=None, name=name)
            self.addItem(item)
            self.bars[name] = item

    def show_answers(self, names: Sequence[str], observed: np.ndarray | None, manipulated: np.ndarray | None
                     ) -> None:
        """The bars of one image; None (or a row with NaN) for an answer not known."""
        names = tuple(names)
        if names != self.names:
            self.names = names
            ticks = [(k, n if len(n) <= MAX_TICK_CHARS else n[:MAX_TICK_CHARS - 1] + "…") for k, n in enumerate(names)]
            self.getAxis("bottom").setTicks([ticks])
            self.setXRange(-0.6, len(names) - 0.4, padding=0)
        tips = []
        for i, ((name, _), value) in enumerate(zip(SERIES, (observed, manipulated))):
            row = None if value is None else np.asarray(value, np.float64).reshape(-1)
            if row is not None and (len(row) != len(names) or not np.isfinite(row).all()):
                row = None
            self.values[name] = row
            x = np.arange(len(names)) + (i - 0.5) * BAR_WIDTH
            self.bars[name].setOpts(x=x if row is not None else [], height=row if row is not None else [])
            tips.append(f"{name}: {'unknown' if row is None else distribution(row, names)}")
        self.setToolTip(plain_tooltip("\n".join(tips)))
