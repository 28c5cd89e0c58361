"""File → Open sweep…: a sweep folder's table, its figures, and each cell's run folder (shown in the
system's file manager). A thin view of gui/models/sweep_view.py."""
from __future__ import annotations

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QColor, QDesktopServices, QPainter, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QDialogButtonBox, QHBoxLayout, QLabel,
                               QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from viscause_gui.core.store.rundir import ManipulationPairs
from viscause_gui.core.store.sweep import SweepError
from viscause_gui.gui.models.sweep_view import CELL_FIGURE_TITLE, CELL_MANIPULATIONS_TITLE, SweepView
from viscause_gui.gui.widgets.images import display_qimage

PAIR_GAP = 4          # pixels between the images of the manipulations' grid


class SweepDialog(QDialog):
    def __init__(self, view: SweepView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.setWindowTitle(f"Sweep: {view.folder.name}")
        self.summary = QLabel(f"{view.summary()}; folder {view.folder}")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = self._table()
        self.figures = QComboBox()
        self.figures.addItems(view.figure_titles())
        self.picture = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(320, 200)
        self.show_folder = QPushButton("Show run folder")
        self.show_folder.setToolTip("Open the chosen cell's run folder (an ordinary `viscause run` folder) in the "
                                    "file manager")
        self.show_folder.setEnabled(False)
        self._layout()
        self.figures.currentTextChanged.connect(lambda _t: self._show_figure())
        self.table.itemSelectionChanged.connect(self._on_row)
        self.table.cellDoubleClicked.connect(lambda _r, _c: self.open_cell_folder())
        self.show_folder.clicked.connect(lambda _c=False: self.open_cell_folder())
        self.resize(1000, 640)
        self._show_figure()

    def _table(self) -> QTableWidget:
        table = QTableWidget(len(self.view.rows), len(self.view.columns))
        table.setHorizontalHeaderLabels(self.view.columns)
        for r, row in enumerate(self.view.rows):
            for c, column in enumerate(self.view.columns):
                table.setItem(r, c, QTableWidgetItem(row.get(column) or ""))
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.resizeColumnsToContents()
        return table

    def _layout(self) -> None:
        figure_side = QWidget()
        column = QVBoxLayout(figure_side)
        column.addWidget(self.figures)
        column.addWidget(self.picture, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(figure_side)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.show_folder)
        bottom.addStretch(1)
        bottom.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)

    def selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def _on_row(self) -> None:
        row = self.selected_row()
        self.show_folder.setEnabled(row is not None and self.view.cell_folder(row) is not None)
        if self.figures.currentText() in (CELL_FIGURE_TITLE, CELL_MANIPULATIONS_TITLE):
            self._show_figure()

    def _show_figure(self) -> None:
        title = self.figures.currentText()
        if title == CELL_MANIPULATIONS_TITLE:
            self._show_manipulations()
            return
        path = self.view.figure(title, self.selected_row())
        if path is None:
            self.picture.setPixmap(QPixmap())
            self.picture.setText("no figure: choose a cell that has run" if title == CELL_FIGURE_TITLE
                                 else "no figure")
            return
        pixmap = QPixmap(str(path))
        self.picture.setText("")
        self.picture.setPixmap(pixmap.scaled(self.picture.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation))

    def _show_manipulations(self) -> None:
        """The chosen cell's last start images (top row) and their manipulations (below)."""
        try:
            pairs = self.view.manipulations(self.selected_row())
        except SweepError as exc:
            pairs, problem = None, str(exc)
        else:
            problem = "no manipulations: choose a cell that has run Algorithm 2"
        self.picture.setPixmap(QPixmap() if pairs is None else pairs_pixmap(pairs, self.picture.width()))
        self.picture.setText(problem if pairs is None else "")
        self.picture.setToolTip("" if pairs is None else f"iteration {pairs.iteration}: start images (top) and "
                                "their manipulations (bottom)")

    def open_cell_folder(self) -> bool:
        row = self.selected_row()
        folder = None if row is None else self.view.cell_folder(row)
        if folder is None or not folder.is_dir():
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def pairs_pixmap(pairs: ManipulationPairs, width: int) -> QPixmap:
    """Start images in the top row, each one's manipulation under it, as wide as `width` allows."""
    n = len(pairs.originals)
    side = max(16, min(96, (width - PAIR_GAP * (n + 1)) // max(n, 1)))
    pixmap = QPixmap(PAIR_GAP + n * (side + PAIR_GAP), PAIR_GAP + 2 * (side + PAIR_GAP))
    pixmap.fill(QColor("white"))
    painter = QPainter(pixmap)
    painter.setPen(QColor("#a0a0a0"))
    for i, (original, manipulated) in enumerate(zip(pairs.originals, pairs.manipulated)):
        x = PAIR_GAP + i * (side + PAIR_GAP)
        for row, image in enumerate((original, manipulated)):
            scaled = display_qimage(image).scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                                  Qt.TransformationMode.FastTransformation)
            y = PAIR_GAP + row * (side + PAIR_GAP)
            painter.drawImage(x, y, scaled)
            painter.drawRect(x - 1, y - 1, scaled.width() + 1, scaled.height() + 1)     # white images show too
    painter.end()
    return pixmap
