"""The oracle queue as a list (a widget the Learning panel shows as a tab): one row per waiting
image, answered with Yes / No buttons (over K > 2 outcomes: a list of the outcomes)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from viscause_gui.core.method.experiment import QueryBatch
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.images import thumbnail_icon

ICON_SIZE = QSize(56, 56)


class QueueView(QWidget):
    """The oracle queue as a list: one row per waiting image, answered with Yes / No buttons (over K > 2
    outcomes: a list of the outcomes).

    In the main window the answers go through the Oracle (label) panel (`use_oracle`), which
    journals each one before anything else happens. On its own (no such panel) the view
    keeps the answers of a batch until the batch is complete.
    """

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.oracle = None                               # a LabellingPanel, once use_oracle() is called
        self._partial: dict[int, np.ndarray] = {}       # id(batch) -> answers so far (NaN = none yet)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["image", "query", "target", "the oracle says"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setIconSize(ICON_SIZE)
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addWidget(self.table)
        self.rows: list[tuple[QueryBatch, int]] = []
        self._table_stale = False                       # rows changed while hidden: build the table when shown
        state.queue.changed.connect(self.refresh)
        self.refresh()

    def use_oracle(self, oracle) -> None:
        """Answer through `oracle` (the labelling panel: answer_item, still_open, `answered`)."""
        self.oracle = oracle
        oracle.answered.connect(self.refresh)
        self.refresh()

    def pending_count(self) -> int:
        return len(self.rows)

    def _open(self, batch: QueryBatch) -> np.ndarray:
        if self.oracle is not None:
            return self.oracle.still_open(batch)
        return ~np.isfinite(self._answers(batch))

    def refresh(self) -> None:
        batches = self.state.queue.waiting()
        live = {id(b) for b in batches}
        self._partial = {k: v for k, v in self._partial.items() if k in live}
        self.rows = [(b, int(i)) for b in batches for i in np.flatnonzero(self._open(b))]
        self._table_stale = not self.isVisible()
        if not self._table_stale:       # a hidden tab's table is built when shown: a shared batch of 600
            self._fill_table()          # images made and dropped 600 rows of buttons on the GUI thread
        how = ("choose the outcome T takes for each." if len(self.outcomes()) > 2
               else "Yes = T happens (1), No = it does not (0).")
        self.status.setText(f"{len(self.rows)} image(s) wait for the oracle: {how}" if self.rows
                            else "No queries wait for an answer.")

    def _fill_table(self) -> None:
        self.table.setRowCount(len(self.rows))
        for row, (batch, i) in enumerate(self.rows):
            self._fill_row(row, batch, i)

    def showEvent(self, event: QShowEvent) -> None:
        if self._table_stale:
            self._table_stale = False
            self._fill_table()
        super().showEvent(event)

    def _answers(self, batch: QueryBatch) -> np.ndarray:
        return self._partial.setdefault(id(batch), np.full(len(batch), np.nan))

    def _fill_row(self, row: int, batch: QueryBatch, i: int) -> None:
        image_item = QTableWidgetItem()
        image_item.setIcon(thumbnail_icon(batch.images[i], ICON_SIZE.width()))
        self.table.setItem(row, 0, image_item)
        self.table.setItem(row, 1, QTableWidgetItem(batch.describe(i)))
        target = "" if batch.targets is None else f"C = {int(batch.targets[i])}"
        self.table.setItem(row, 2, QTableWidgetItem(target))
        self.table.setCellWidget(row, 3, self._buttons(batch, i))
        self.table.setRowHeight(row, ICON_SIZE.height() + 6)

    def outcomes(self) -> tuple[str, ...]:
        """T's outcomes: the answering panel's, else the experiment's or the data set's."""
        if self.oracle is not None:
            return self.oracle.session.outcomes()
        exp, data = self.state.experiment, self.state.dataset
        return exp.outcomes if exp is not None else data.outcomes if data is not None else ("0", "1")

    def _buttons(self, batch: QueryBatch, i: int) -> QWidget:
        names = self.outcomes()
        if len(names) > 2:
            return self._outcome_choice(batch, i, names)
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(2, 0, 2, 0)
        for text, value in (("Yes", 1.0), ("No", 0.0)):
            button = QPushButton(text)
            button.setToolTip(f"The oracle says T = {int(value)} for this image")
            button.clicked.connect(lambda _=False, b=batch, k=i, v=value: self.answer(b, k, v))
            row.addWidget(button)
        return box

    def _outcome_choice(self, batch: QueryBatch, i: int, names: tuple[str, ...]) -> QComboBox:
        """Over K > 2 outcomes: a list of the outcomes; choosing one answers the image with its index."""
        choice = QComboBox()
        choice.addItem("answer…", None)
        for k, name in enumerate(names):
            choice.addItem(name, float(k))
        choice.setToolTip("The outcome T takes for this image")
        choice.activated.connect(lambda index, b=batch, k=i, c=choice: self._chosen(b, k, c.itemData(index)))
        return choice

    def _chosen(self, batch: QueryBatch, i: int, value: float | None) -> None:
        if value is not None:
            self.answer(batch, i, value)

    def answer(self, batch: QueryBatch, i: int, value: float) -> None:
        """Record one answer; a batch with every image answered goes to the queue's answer()."""
        if self.oracle is not None:
            self.oracle.answer_item(batch, i, value)     # journalled; it submits complete batches
            self.refresh()
            return
        answers = self._answers(batch)
        answers[i] = value
        if np.all(np.isfinite(answers)):
            try:
                self.state.queue.answer(batch, answers.copy(), self.state.experiment)
            except ValueError as exc:
                answers[:] = np.nan
                self.status.setText(f"Could not use the answers: {exc}")
                self.refresh()
                self.status.setText(f"Could not use the answers: {exc}. Answer the batch again.")
                return
        else:
            self.refresh()
