"""Thumbnail grid of the data set: virtualised, painted on demand, smooth at 60,000 images.

The images, what is known of each and which pass the class filters are a Qt-free ShownImages
(gui/models/shown_images.py); the Qt model here exposes one row per shown image (its `rows` map
view rows to data set indices), and the delegate (widgets/thumbnails.py) paints each thumbnail with
its causal class's border and class badges. The panel is the view: filter combos, the thumbnail size
and the selection, which goes both ways through AppState.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import (QAbstractListModel, QItemSelection, QItemSelectionModel, QModelIndex, QPersistentModelIndex,
                            Qt, Signal)
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QLabel, QListView, QSpinBox, QVBoxLayout,
                               QWidget)

from viscause_gui.gui.models.shown_images import CLASS_KINDS, ShownImages, selection_runs
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.thumbnails import INDEX_ROLE, ThumbnailDelegate

KIND_NAMES = {"obs": "Obs", "causal": "C", "spurious": "S"}


class ThumbnailModel(QAbstractListModel):
    """The grid's Qt model over a ShownImages: one row per shown image; role INDEX_ROLE gives the data set
    index. New classes change what the delegate paints, not the rows: the panel repaints what the view
    shows (dataChanged over every row made Qt ask rowCount() once per row, ~50 ms per 10,000 images on
    the GUI thread)."""

    def __init__(self, shown: ShownImages, parent=None):
        super().__init__(parent)
        self.shown = shown

    def set_images(self, images: np.ndarray | None, labels: np.ndarray | None = None) -> None:
        self.beginResetModel()
        self.shown.set_images(images, labels)
        self.endResetModel()

    def set_rows(self, rows: np.ndarray) -> None:
        self.beginResetModel()
        self.shown.rows = np.asarray(rows, np.int64)
        self.endResetModel()

    # ----- QAbstractListModel -----
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.shown.rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        rows = self.shown.rows
        if not index.isValid() or index.row() >= len(rows):
            return None
        i = int(rows[index.row()])
        if role == INDEX_ROLE:
            return i
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.shown.tooltip(i)
        return None


class BrowserPanel(QWidget):
    """Filter combos, a thumbnail size box and the grid; selection goes through AppState."""

    filter_changed = Signal()

    def __init__(self, state: AppState, parent: QWidget | None = None, thumb: int = 64):
        super().__init__(parent)
        self.state = state
        self.shown = ShownImages()
        self.model = ThumbnailModel(self.shown, self)
        self.delegate = ThumbnailDelegate(self.shown, thumb, parent=self)
        self.view = self._make_view()
        self.filters: dict[str, QComboBox] = {k: self._make_combo(k) for k in CLASS_KINDS}
        self.size_box = self._make_size_box(thumb)
        self.count_label = QLabel()
        self._syncing = False
        self._layout()
        self.view.selectionModel().selectionChanged.connect(self._on_view_selection)
        state.dataset_changed.connect(self._on_dataset)
        state.classes_changed.connect(self._on_classes)
        state.selection_changed.connect(self._on_state_selection)
        if state.dataset is not None:
            self._on_dataset()
            self._on_classes()

    # ----- widgets -----
    def _make_view(self) -> QListView:
        view = QListView(self)
        view.setViewMode(QListView.ViewMode.IconMode)
        view.setMovement(QListView.Movement.Static)
        view.setResizeMode(QListView.ResizeMode.Adjust)
        view.setWrapping(True)
        view.setUniformItemSizes(True)
        view.setLayoutMode(QListView.LayoutMode.SinglePass)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setSpacing(1)
        view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        view.setModel(self.model)
        view.setItemDelegate(self.delegate)
        view.setToolTip("")
        view.setStyleSheet("QListView { background: white; }")
        return view

    def _make_combo(self, kind: str) -> QComboBox:
        combo = QComboBox(self)
        combo.setToolTip({"obs": "Show only images of this observational class (same P(T=1|I))",
                          "causal": "Show only images of this causal class C (same P(T=1|man(I)))",
                          "spurious": "Show only images of this spurious class S (within its C)"}[kind])
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        combo.setMinimumContentsLength(3)
        combo.currentIndexChanged.connect(self._apply_filter)
        return combo

    def _make_size_box(self, thumb: int) -> QSpinBox:
        box = QSpinBox(self)
        box.setRange(24, 160)
        box.setSingleStep(8)
        box.setValue(thumb)
        box.setSuffix(" px")
        box.setToolTip("Thumbnail size")
        box.valueChanged.connect(self._apply_thumb_size)
        return box

    def _layout(self) -> None:
        filters, info = QHBoxLayout(), QHBoxLayout()
        for kind in CLASS_KINDS:
            filters.addWidget(QLabel(KIND_NAMES[kind] + ":"))
            filters.addWidget(self.filters[kind])
        filters.addStretch(1)
        info.addWidget(self.count_label)
        info.addStretch(1)
        info.addWidget(self.size_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(filters)
        layout.addLayout(info)
        layout.addWidget(self.view)

    # ----- public -----
    def set_thumb_size(self, size: int) -> None:
        """Thumbnail edge in pixels (through the size box, so listeners hear of it)."""
        self.size_box.setValue(int(size))

    def _apply_thumb_size(self, size: int) -> None:
        self.delegate.set_thumb_size(size)
        self.view.doItemsLayout()

    def set_filter(self, kind: str, value: int | None) -> None:
        """Show only images whose class `kind` equals value (None: all)."""
        combo = self.filters[kind]
        combo.setCurrentIndex(max(0, combo.findData(-1 if value is None else int(value))))

    def visible_indices(self) -> np.ndarray:
        return self.shown.rows.copy()

    # ----- state -> view -----
    def _on_dataset(self) -> None:
        ds = self.state.dataset
        self.delegate.clear_cache()
        self.model.set_images(None if ds is None else ds.images, None if ds is None else ds.labels)
        self._update_count()

    def _on_classes(self) -> None:
        state = self.state
        self.shown.set_classes(state.obs_classes(), state.causal_classes(), state.spurious_classes(),
                               state.given_causal_classes())
        self.view.viewport().update()         # borders and badges of the thumbnails on screen
        for kind in CLASS_KINDS:
            self._fill_combo(self.filters[kind], self.shown.choices(kind))
        self._apply_filter()

    def _fill_combo(self, combo: QComboBox, choices: list | None) -> None:
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("all", -1)
        for k in choices or []:
            combo.addItem(str(k), int(k))
        combo.setCurrentIndex(max(0, combo.findData(current if current is not None else -1)))
        combo.setEnabled(choices is not None)
        combo.blockSignals(False)

    def _apply_filter(self) -> None:
        rows = self.shown.filtered({kind: combo.currentData() for kind, combo in self.filters.items()})
        if len(rows) != len(self.shown.rows) or not np.array_equal(rows, self.shown.rows):
            self.model.set_rows(rows)
            self._on_state_selection()
        self._update_count()
        self.filter_changed.emit()

    def _update_count(self) -> None:
        self.count_label.setText(self.shown.count_text())

    def _on_state_selection(self) -> None:
        if self._syncing:
            return
        rows = self.shown.rows_of(self.state.selection)
        selection = QItemSelection()
        for first, last in selection_runs(rows):
            selection.select(self.model.index(first), self.model.index(last))
        self._syncing = True
        try:
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
            self.view.selectionModel().select(selection, flags)
            if len(rows):
                first = self.model.index(int(rows[0]))
                self.view.selectionModel().setCurrentIndex(first, QItemSelectionModel.SelectionFlag.NoUpdate)
                self.view.scrollTo(first)
        finally:
            self._syncing = False

    # ----- view -> state -----
    def _on_view_selection(self, *_args) -> None:
        if self._syncing:
            return
        rows = [np.arange(r.top(), r.bottom() + 1) for r in self.view.selectionModel().selection()]
        indices = self.shown.rows[np.unique(np.concatenate(rows))] if rows else np.zeros(0, np.int64)
        current = self.view.selectionModel().currentIndex()
        if current.isValid() and self.view.selectionModel().isSelected(current):
            first = self.shown.dataset_index(current.row())
            indices = np.concatenate([[first], indices[indices != first]])
        self._syncing = True
        try:
            self.state.select(indices)
        finally:
            self._syncing = False
