"""The Classes panel: the observational partition beside the causal one, a map of the data, C x S.

- Two tables: observational classes (count, P(T=1|I), the oracle's answer, their causal
  class) and causal classes (count, P(T=1|man I)); over K > 2 outcomes each level is named by its
  most likely outcome, the whole distribution in the cell's tooltip (class_tables.py).
- A 2-D map: PCA of the causal net's hidden layer (pixels before a net exists) of at most
  5,000 images, colour = C, symbol = S; clicking a point selects that image.
- A table causal class x spurious class with counts and an example thumbnail per cell;
  clicking a cell selects its images.
The numbers come from `core.views`; the map is computed in a worker.
"""
from __future__ import annotations

import copy

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QTableWidgetItem, QVBoxLayout, QWidget

from viscause_gui.gui.models.summaries import CrossTable, DataMap, cross_table, data_map
from viscause_gui.gui.panels.class_tables import (CAUSAL_COLUMNS, OBS_COLUMNS, ClassView, fill_causal, fill_obs, gather,
                                                  make_table, name_level_columns)
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.actions import if_alive
from viscause_gui.gui.widgets.colors import class_brush, class_color, class_symbol
from viscause_gui.gui.widgets.images import thumbnail_icon
from viscause_gui.gui.widgets.plots import PlotWidget, cache_axes
from viscause_gui.gui.widgets.staged import StagedUpdates
from viscause_gui.gui.workers import WorkerPool

THUMB = 40
MAP_INTERVAL_MS = 1500          # at most one map per 1.5 s while a run retrains the net


class ClassesPanel(QWidget):
    map_ready = Signal()

    def __init__(self, state: AppState, workers: WorkerPool, parent: QWidget | None = None):
        super().__init__(parent)
        self.state, self.workers = state, workers
        self.view: ClassView | None = None
        self.table_data: CrossTable | None = None
        self.map: DataMap | None = None
        self._map_seq = 0
        self._scatters: dict[tuple[int, int], pg.ScatterPlotItem] = {}
        self._pending = False
        self._key: tuple = ()
        self._map_dirty = False
        self._map_timer = QTimer(self)
        self._map_timer.setSingleShot(True)
        self._map_timer.setInterval(MAP_INTERVAL_MS)
        self._map_timer.timeout.connect(self._map_timer_done)
        # while Algorithm 2 runs, the C x S table (a pass over the data set and a thumbnail per
        # cell) fills in a later turn of the event loop than the class tables
        self._staged = StagedUpdates(interval_ms=20, parent=self)
        self._build()
        for signal in (state.dataset_changed, state.classes_changed, state.model_changed):
            signal.connect(self.schedule_refresh)
        state.selection_changed.connect(self._show_selection)
        workers.busy_changed.connect(self._workers_changed)
        self.refresh()

    # ----- layout -----
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.header = QLabel()
        self.header.setWordWrap(True)
        layout.addWidget(self.header)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self._partition_tables())
        split.addWidget(self._map_widget())
        split.addWidget(self._cross_widget())
        split.setSizes([190, 300, 170])
        layout.addWidget(split, 1)

    def _partition_tables(self) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        self.obs_table = make_table(OBS_COLUMNS, fit=True)
        self.obs_table.setToolTip("Observational classes: images with the same P(T=1 | I); 'answer' is "
                                  "the oracle's P(T=1 | man(I)) for the class (Algorithm 1), C its causal class")
        self.causal_table = make_table(CAUSAL_COLUMNS, fit=True)
        self.causal_table.setToolTip("Causal classes: images with the same P(T=1 | man(I))")
        for title, table in (("Observational partition", self.obs_table), ("Causal partition", self.causal_table)):
            col = QVBoxLayout()
            col.addWidget(QLabel(f"<b>{title}</b>"))
            col.addWidget(table)
            row.addLayout(col)
        return box

    def _map_widget(self) -> QWidget:
        self.plot = PlotWidget()
        self.plot.setBackground("w")
        self.plot.setMinimumHeight(200)
        self.plot.setLabel("bottom", "PC 1")
        self.plot.setLabel("left", "PC 2")
        cache_axes(self.plot)
        self.legend = self.plot.addLegend(offset=(-5, 5), brush=pg.mkBrush(255, 255, 255, 210))
        self.selected_item = pg.ScatterPlotItem(size=13, pen=pg.mkPen("k", width=2), brush=None, symbol="o")
        self.selected_item.setZValue(10)
        self.plot.addItem(self.selected_item)
        self.plot.setToolTip("Each point is an image: colour = causal class C, symbol = spurious class S. "
                             "Click a point to select the image.")
        return self.plot

    def _cross_widget(self) -> QWidget:
        box = QWidget()
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(QLabel("<b>Causal class C × spurious class S</b> (click a cell to select its images)"))
        self.cross = make_table([])
        self.cross.setIconSize(QSize(THUMB, THUMB))
        self.cross.cellClicked.connect(self.select_cell)
        col.addWidget(self.cross)
        return box

    # ----- refresh -----
    def schedule_refresh(self) -> None:
        """Coalesce the several signals one change emits into one refresh."""
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self.refresh)

    def refresh(self) -> None:
        self._pending = False
        key = self._classes_key()
        if self.view is not None and len(key) == len(self._key) and all(a is b for a, b in zip(key, self._key)):
            self._request_map()             # only the net changed (a retraining): tables stay
            return
        self._key = key
        self.view = gather(self.state)
        self.header.setText(self._header_text())
        names = self.view.outcomes
        name_level_columns(self.obs_table, "obs", names)
        name_level_columns(self.causal_table, "causal", names)
        fill_obs(self.obs_table, self.view.obs_summary, names)
        fill_causal(self.causal_table, self.view.causal_summary, names)
        if self.workers.is_running("learning"):
            self._staged.add("cross", self._fill_cross)
        else:
            self._staged.clear()
            self._fill_cross()
        self._request_map()

    def _classes_key(self) -> tuple:
        """The objects the tables depend on (compared by identity: arrays are replaced, not edited)."""
        exp, data = self.state.experiment, self.state.dataset
        source = exp.data if exp is not None else data
        return (data, self.state.truth, None if source is None else source.obs_class,
                None if source is None else source.p_obs, self.state.causal_classes(),
                None if exp is None else exp.causal_levels, None if exp is None else exp.obs_answers)

    def _header_text(self) -> str:
        v = self.view
        if self.state.dataset is None:
            return "Load a data set to see its classes."
        if v.obs is None:
            return ("No observational classes yet: they come with the data set or are estimated from "
                    "samples of T when Algorithm 1 starts.")
        return f"Causal classes: {v.causal_source}."

    def _fill_cross(self) -> None:
        v = self.view
        self.table_data = None
        if v.causal is None or v.spurious is None:
            self.cross.setRowCount(0)
            self.cross.setColumnCount(0)
            return
        t = self.table_data = cross_table(v.causal, v.spurious)
        self.cross.setRowCount(len(t.causal_classes))
        self.cross.setColumnCount(len(t.spurious_classes))
        self.cross.setHorizontalHeaderLabels([f"S = {s}" for s in t.spurious_classes])
        self.cross.setVerticalHeaderLabels([f"C = {c}" for c in t.causal_classes])
        self.cross.verticalHeader().setVisible(True)
        images = self.state.dataset.images
        for r in range(len(t.causal_classes)):
            for c in range(len(t.spurious_classes)):
                self.cross.setItem(r, c, self._cross_item(t, r, c, images))
            self.cross.setRowHeight(r, THUMB + 8)

    @staticmethod
    def _cross_item(t: CrossTable, r: int, c: int, images: np.ndarray) -> QTableWidgetItem:
        item = QTableWidgetItem(str(int(t.counts[r, c])))
        if t.examples[r, c] >= 0:
            item.setIcon(thumbnail_icon(images[t.examples[r, c]], THUMB))
        item.setToolTip(f"C = {t.causal_classes[r]}, S = {t.spurious_classes[c]}: {t.counts[r, c]} images")
        item.setBackground(QBrush(class_color(int(t.causal_classes[r]), 40)))
        return item

    # ----- the map -----
    def _request_map(self) -> None:
        """Throttled: the first request runs now, later ones within the interval once after it.

        Not while the learning worker trains (its end sets the experiment again, which redraws):
        the map's worker and drawing would only slow training and the GUI thread down.
        """
        if self._tabbed_away() or self._map_timer.isActive() or self.workers.is_running("learning"):
            self._map_dirty = True
            return
        self._compute_map()

    def _tabbed_away(self) -> bool:
        return self.window().isVisible() and not self.isVisible()

    def _map_timer_done(self) -> None:
        if self._map_dirty and not self._tabbed_away() and not self.workers.is_running("learning"):
            self._compute_map()

    def _workers_changed(self, _description: str = "") -> None:
        """A map put off while the learning worker ran is drawn once it has ended."""
        if self._map_dirty and not self._map_timer.isActive():
            self._map_timer_done()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._map_dirty and not self._map_timer.isActive():
            self._compute_map()

    def _compute_map(self) -> None:
        self._map_dirty = False
        self._map_seq += 1
        data = self.state.dataset
        if data is None:
            self.map = None
            self._clear_map()
            return
        self._map_timer.start()
        exp = self.state.experiment
        nets = [copy.deepcopy(n) for n in exp.nets] if exp is not None and exp.nets else None
        seq = self._map_seq
        self.workers.start("classes-map", data_map, data.images, nets,
                           on_return=lambda m, s=seq, d=data: self._map_arrived(s, m, d))

    @if_alive
    def _map_arrived(self, seq: int, result: DataMap, data=None) -> None:
        if seq != self._map_seq or self.view is None or data is not self.state.dataset:
            return                          # outdated, or of a data set no longer loaded
        self.map = result
        self.plot.setTitle(f"{result.source} · {len(result.index)} images")
        self._draw_map()
        self.map_ready.emit()

    def _clear_map(self) -> None:
        for item in self._scatters.values():
            self.plot.removeItem(item)
        self._scatters.clear()
        self.legend.clear()
        self.selected_item.setData([], [])

    def _draw_map(self) -> None:
        """One scatter item per (C, S) group, reused between maps (setData is cheap)."""
        groups = self._groups()
        if set(groups) != set(self._scatters):
            self._clear_map()
            for key in groups:
                self._add_group(key)
        m = self.map
        for key, rows in groups.items():
            self._scatters[key].setData(x=m.xy[rows, 0], y=m.xy[rows, 1], data=m.index[rows])
        self._show_selection()

    def _groups(self) -> dict[tuple[int, int], np.ndarray]:
        m, v = self.map, self.view
        if v.causal is None:
            return {(-1, 0): np.arange(len(m.index))}
        c = v.causal[m.index]
        s = v.spurious[m.index] if v.spurious is not None else np.zeros(len(m.index), np.int64)
        return {(int(a), int(b)): np.flatnonzero((c == a) & (s == b))
                for a, b in sorted(set(zip(c.tolist(), s.tolist())))}

    def _add_group(self, key: tuple[int, int]) -> None:
        c, s = key
        brush = class_brush(c, 170) if c >= 0 else pg.mkBrush(120, 120, 120, 150)
        item = pg.ScatterPlotItem(size=7, pen=None, brush=brush, symbol=class_symbol(s),
                                  name="all images" if c < 0 else f"C = {c}, S = {s}")
        item.sigClicked.connect(self._point_clicked)
        self.plot.addItem(item)
        self._scatters[key] = item

    def _point_clicked(self, item, points, event=None) -> None:
        if len(points):
            self.state.select([int(points[0].data())])

    def _show_selection(self) -> None:
        if self.map is None:
            return
        sel = np.asarray(self.state.selection, np.int64)
        hit = np.flatnonzero(np.isin(self.map.index, sel[:5000]))
        self.selected_item.setData(x=self.map.xy[hit, 0], y=self.map.xy[hit, 1])

    # ----- the C x S table -----
    def select_cell(self, row: int, col: int) -> None:
        """Select every image of cell (causal class row, spurious class col)."""
        if self.table_data is None:
            return
        self.state.select(self.table_data.members(row, col))
