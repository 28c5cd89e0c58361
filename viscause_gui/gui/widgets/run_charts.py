"""The run's live charts: the training loss per epoch, MErr and MDist per iteration, and the iteration
table. The records shown are kept as records (`metrics` reads them, never the table's text)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from viscause_gui.core.method.experiment import IterationRecord
from viscause_gui.gui.widgets.colors import PEN_COLORS
from viscause_gui.gui.widgets.plots import line_plot, set_ranges_stepwise
from viscause_gui.gui.widgets.staged import StagedUpdates

MERR_TIP = ("MErr per Algorithm 2 iteration: the share of manipulated images whose causal class (by the oracle's "
            "answer) is not the target class.<br>With <i>active</i> queries it is measured on the manipulations "
            "the nets doubt most (those are the ones asked), so it reads higher than the error of a typical "
            "manipulation")
MDIST_TIP = ("MDist per Algorithm 2 iteration: the mean distance from an image to its manipulation (pixels "
             "flipped for binary images, L2 for grey ones)")


class RunCharts(QWidget):
    """Loss, MErr and MDist plots side by side; `table` (the Iterations tab) is laid out by the panel."""

    def __init__(self, last_iteration: Callable[[list[int]], int], parent: QWidget | None = None):
        super().__init__(parent)
        self.last_iteration = last_iteration            # the x axis' end: the run's goal
        self.records: list[IterationRecord] = []
        self.loss_x: list[int] = []
        self.train_losses: list[float] = []
        self.val_losses: list[float] = []
        self._plot_timer = QTimer(self)
        self._plot_timer.setSingleShot(True)
        self._plot_timer.setInterval(200)
        self._plot_timer.timeout.connect(self._draw_losses)
        # an iteration's end redraws the MErr and the MDist plot in two turns of the event loop, not one
        self._staged = StagedUpdates(parent=self)
        self._build()

    def _build(self) -> None:
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = line_plot("Training loss", "loss", "epoch (all iterations)")
        self.train_curve = self.loss_plot.plot([], [], pen=PEN_COLORS["train"], name="train")
        self.val_curve = self.loss_plot.plot([], [], pen=PEN_COLORS["val"], name="validation")
        self.merr_plot = line_plot("Manip. error", "MErr", "iteration", legend=False)
        self.merr_plot.setYRange(0, 1)
        self.merr_curve = self.merr_plot.plot([], [], pen=PEN_COLORS["merr"], symbol="o", symbolSize=6,
                                              symbolBrush=PEN_COLORS["merr"], name="MErr")
        self.mdist_plot = line_plot("Manip. distance", "MDist", "iteration", legend=False)
        self.mdist_curve = self.mdist_plot.plot([], [], pen=PEN_COLORS["mdist"], symbol="o", symbolSize=6,
                                                symbolBrush=PEN_COLORS["mdist"], name="MDist")
        self.loss_plot.setToolTip("Loss of the causal net per epoch, every training of the run one after another")
        self.merr_plot.setToolTip(MERR_TIP)
        self.mdist_plot.setToolTip(MDIST_TIP)
        for plot in (self.loss_plot, self.merr_plot, self.mdist_plot):
            row.addWidget(plot)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["iteration", "MErr", "MDist", "n train", "seconds"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

    # ----- losses -----
    def show_losses(self, train: list[float], val: list[float], now: bool) -> None:
        """The loss curves (the run's lists); mid-run at most 5 redraws a second."""
        self.train_losses, self.val_losses = train, val
        self.loss_x[:] = range(1, len(train) + 1)
        if now:
            self._plot_timer.stop()
            self._draw_losses()
        elif not self._plot_timer.isActive():
            self._plot_timer.start()

    def _draw_losses(self) -> None:
        self.train_curve.setData(self.loss_x, self.train_losses)
        self.val_curve.setData(self.loss_x, self.val_losses)
        top = max([v for v in self.train_losses + self.val_losses if np.isfinite(v)], default=1.0)
        set_ranges_stepwise(self.loss_plot, (0, len(self.loss_x)), (0, top))

    def finish_drawing(self) -> None:
        """The run is over: every plot shows everything now."""
        self._plot_timer.stop()
        self._draw_losses()
        self._staged.flush()

    # ----- iterations -----
    def add_record(self, record: IterationRecord, running: bool) -> None:
        self.records.append(record)
        row = self.table.rowCount()
        self.table.insertRow(row)
        values = [str(record.iteration), f"{record.merr:.3f}", f"{record.mdist:.2f}",
                  str(record.n_train), f"{record.seconds:.1f}"]
        for col, text in enumerate(values):
            item = QTableWidgetItem(text)
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, col, item)
        self.table.scrollToBottom()
        if running:                      # mid-run: each plot's repaint in a turn of its own
            self._staged.add("merr", self._draw_merr)
            self._staged.add("mdist", self._draw_mdist)
        else:
            self._redraw_metrics()

    def clear_records(self) -> None:
        self.records.clear()
        self.table.setRowCount(0)
        self._redraw_metrics()

    def png_writers(self) -> dict[str, Callable[[str], bool]]:
        """The plots a session exports, by name: each writes its plot, as on screen, to a PNG file."""
        return {name: (lambda path, plot=plot: plot.grab().save(path, "PNG"))
                for name, plot in (("loss", self.loss_plot), ("merr", self.merr_plot), ("mdist", self.mdist_plot))}

    def metrics(self) -> tuple[list[int], list[float], list[float]]:
        """(iterations, MErr, MDist) as shown in the table and plots."""
        return ([r.iteration for r in self.records], [float(r.merr) for r in self.records],
                [float(r.mdist) for r in self.records])

    def _redraw_metrics(self) -> None:
        self._staged.clear()
        self._draw_merr()
        self._draw_mdist()

    def _draw_merr(self) -> None:
        its, merr, _ = self.metrics()
        self.merr_curve.setData(its, merr)
        self.merr_plot.setXRange(0.5, self.last_iteration(its) + 0.5, padding=0)

    def _draw_mdist(self) -> None:
        its, _, mdist = self.metrics()
        self.mdist_curve.setData(its, mdist)
        set_ranges_stepwise(self.mdist_plot, None, (0, max(mdist, default=1.0)))
        self.mdist_plot.setXRange(0.5, self.last_iteration(its) + 0.5, padding=0)
