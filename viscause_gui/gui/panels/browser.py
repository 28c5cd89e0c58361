"""Thumbnail grid of the data set: virtualised, painted on demand, smooth at 60,000 images.

The model exposes one row per visible image (index filtering: `rows` maps view rows to data
set indices); the delegate paints each thumbnail from the numpy image through a small LRU
cache of QImages, with a border in the colour of the causal class C and badges for the
observational class (o), C and the spurious class S once they are known. C and S are the
learned classes only; a data set's own causal class (e.g. GRATING's generator truth) is named
as truth in the tooltip, never drawn as a badge.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
from PySide6.QtCore import (QAbstractListModel, QItemSelection, QItemSelectionModel, QModelIndex, QPersistentModelIndex,
                            QRect, QSize, Qt, Signal)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QLabel, QListView, QSpinBox, QStyle,
                               QStyledItemDelegate, QStyleOptionViewItem, QVBoxLayout, QWidget)

from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.colors import class_color, text_color_on
from viscause_gui.gui.widgets.images import display_qimage

INDEX_ROLE = Qt.ItemDataRole.UserRole + 1
CLASS_KINDS = ("obs", "causal", "spurious")
BADGE_PREFIX = {"obs": "o", "causal": "C", "spurious": "S"}
KIND_NAMES = {"obs": "Obs", "causal": "C", "spurious": "S"}
PAD = 3
BADGE_H = 14
COMPACT_BELOW = 48   # thumbnails smaller than this get digit-only badges


def selection_runs(rows: np.ndarray) -> list[tuple[int, int]]:
    """Sorted rows as (first, last) runs of consecutive rows."""
    rows = np.unique(np.asarray(rows, np.int64))
    if not len(rows):
        return []
    breaks = np.flatnonzero(np.diff(rows) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(rows) - 1]])
    return [(int(rows[s]), int(rows[e])) for s, e in zip(starts, ends)]


class ThumbnailModel(QAbstractListModel):
    """One row per shown image; role INDEX_ROLE gives the data set index."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.images: np.ndarray | None = None
        self.rows = np.zeros(0, np.int64)
        self.classes: dict[str, np.ndarray | None] = dict.fromkeys(CLASS_KINDS)
        self.labels: np.ndarray | None = None
        self.given_causal: np.ndarray | None = None    # the data set's own (true) causal class

    # ----- content -----
    def set_images(self, images: np.ndarray | None, labels: np.ndarray | None = None) -> None:
        self.beginResetModel()
        self.images, self.labels = images, labels
        self.rows = np.arange(0 if images is None else len(images), dtype=np.int64)
        self.classes = dict.fromkeys(CLASS_KINDS)
        self.given_causal = None
        self.endResetModel()

    def set_classes(self, obs: np.ndarray | None, causal: np.ndarray | None,
                    spurious: np.ndarray | None) -> None:
        """New classes change what the delegate paints, not the rows: the view repaints what it
        shows (BrowserPanel). dataChanged over every row made Qt ask rowCount() once per row,
        ~50 ms per 10,000 images on the GUI thread."""
        self.classes = {"obs": obs, "causal": causal, "spurious": spurious}

    def set_rows(self, rows: np.ndarray) -> None:
        self.beginResetModel()
        self.rows = np.asarray(rows, np.int64)
        self.endResetModel()

    # ----- lookups -----
    def dataset_index(self, row: int) -> int:
        return int(self.rows[row])

    def rows_of(self, indices: np.ndarray) -> np.ndarray:
        """View rows of the given data set indices that are shown (rows is sorted)."""
        indices = np.asarray(indices, np.int64)
        if not len(self.rows):
            return np.zeros(0, np.int64)
        pos = np.clip(np.searchsorted(self.rows, indices), 0, len(self.rows) - 1)
        return pos[self.rows[pos] == indices]

    def class_of(self, kind: str, i: int) -> int | None:
        arr = self.classes.get(kind)
        return None if arr is None else int(arr[i])

    # ----- QAbstractListModel -----
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        i = int(self.rows[index.row()])
        if role == INDEX_ROLE:
            return i
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(i)
        return None

    def _tooltip(self, i: int) -> str:
        parts = [f"image #{i}"]
        names = {"obs": "observational class", "causal": "causal class C", "spurious": "spurious class S"}
        for kind in CLASS_KINDS:
            k = self.class_of(kind, i)
            if k is not None:
                parts.append(f"{names[kind]} = {k}")
        if self.given_causal is not None:
            parts.append(f"truth (given by the data set, not learned): C = {self.given_causal[i]}")
        if self.labels is not None:
            parts.append(f"label = {self.labels[i]}")
        return "\n".join(parts)


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints a thumbnail (nearest-neighbour, cached; grey or colour as `display_qimage` shows it)
    with a C-coloured border and class badges."""

    def __init__(self, model: ThumbnailModel, thumb: int = 64, cache_size: int = 4096, parent=None):
        super().__init__(parent)
        self.model = model
        self.thumb = thumb
        self.cache_size = cache_size
        self._cache: OrderedDict[int, QImage] = OrderedDict()
        self._badge_rows: dict[tuple, QPixmap] = {}
        self._font = QFont()
        self._font.setPixelSize(10)
        self._font.setBold(True)

    def set_thumb_size(self, size: int) -> None:
        self.thumb = int(size)
        self.clear_cache()

    def clear_cache(self) -> None:
        self._cache.clear()

    def thumbnail(self, i: int) -> QImage:
        """The scaled thumbnail of data set image i (LRU cached)."""
        img = self._cache.get(i)
        if img is not None:
            self._cache.move_to_end(i)
            return img
        assert self.model.images is not None
        img = display_qimage(self.model.images[i]).scaled(
            self.thumb, self.thumb, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)
        self._cache[i] = img
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return img

    def badge_row_width(self) -> int:
        """Width of a full badge row 'o0 C0 S0' (cells are at least this wide, unless compact)."""
        metrics = QFontMetrics(self._font)
        return sum(metrics.horizontalAdvance(f"{p}0") + 6 for p in BADGE_PREFIX.values()) + 4

    def cell_width(self) -> int:
        full = self.badge_row_width()
        return max(self.thumb, full if self.thumb >= COMPACT_BELOW else 0) + 2 * PAD

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:
        return QSize(self.cell_width(), self.thumb + 3 * PAD + BADGE_H)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        i = index.data(INDEX_ROLE)
        if i is None:
            return
        rect: QRect = option.rect
        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, option.palette.color(QPalette.ColorRole.Highlight))
        img = self.thumbnail(i)
        x = rect.x() + (rect.width() - img.width()) // 2
        y = rect.y() + PAD + (self.thumb - img.height()) // 2
        painter.drawImage(x, y, img)
        self._paint_border(painter, QRect(x, y, img.width(), img.height()), self.model.class_of("causal", i))
        self._paint_badges(painter, rect, i)
        painter.restore()

    def _paint_border(self, painter: QPainter, rect: QRect, causal: int | None) -> None:
        color = QColor("#c8c8c8") if causal is None else class_color(causal)
        pen = painter.pen()
        pen.setColor(color)
        pen.setWidth(1 if causal is None else 2)
        painter.setPen(pen)
        painter.drawRect(rect.adjusted(0, 0, -1, -1))

    def _paint_badges(self, painter: QPainter, rect: QRect, i: int) -> None:
        known = tuple((kind, k) for kind in CLASS_KINDS if (k := self.model.class_of(kind, i)) is not None)
        if not known:
            return
        ratio = painter.device().devicePixelRatioF()
        row = self._badge_row(known, rect.width() - 2 * PAD, ratio)
        width = round(row.width() / ratio)
        painter.setClipRect(rect)
        painter.drawPixmap(rect.x() + max(PAD, (rect.width() - width) // 2), rect.y() + 2 * PAD + self.thumb, row)

    def _badge_row(self, known: tuple[tuple[str, int], ...], room: int, ratio: float) -> QPixmap:
        """The badges 'o1 C0 S1' of a class combination, drawn once (a few dozen combinations
        exist, while a page repaints hundreds of cells: each cell then draws one pixmap)."""
        key = (known, room, ratio)
        row = self._badge_rows.get(key)
        if row is not None:
            return row
        metrics = QFontMetrics(self._font)
        texts = [f"{BADGE_PREFIX[kind]}{k}" for kind, k in known]
        widths = [metrics.horizontalAdvance(t) + 6 for t in texts]
        if sum(widths) + 2 * (len(widths) - 1) > room:   # small cells: digits only
            texts = [str(k) for _, k in known]
            widths = [metrics.horizontalAdvance(t) + 4 for t in texts]
        total = sum(widths) + 2 * (len(widths) - 1)
        row = QPixmap(round(total * ratio), round(BADGE_H * ratio))
        row.setDevicePixelRatio(ratio)
        row.fill(Qt.GlobalColor.transparent)
        painter = QPainter(row)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setFont(self._font)
        x = 0
        for (_, k), text, w in zip(known, texts, widths):
            box = QRect(x, 0, w, BADGE_H)
            color = class_color(k)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawRoundedRect(box, 3, 3)
            painter.setPen(text_color_on(color))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
            x += w + 2
        painter.end()
        self._badge_rows[key] = row
        return row


class BrowserPanel(QWidget):
    """Filter combos, a thumbnail size box and the grid; selection goes through AppState."""

    filter_changed = Signal()

    def __init__(self, state: AppState, parent: QWidget | None = None, thumb: int = 64):
        super().__init__(parent)
        self.state = state
        self.model = ThumbnailModel(self)
        self.delegate = ThumbnailDelegate(self.model, thumb, parent=self)
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
        return self.model.rows.copy()

    # ----- state -> view -----
    def _on_dataset(self) -> None:
        ds = self.state.dataset
        self.delegate.clear_cache()
        self.model.set_images(None if ds is None else ds.images, None if ds is None else ds.labels)
        self._update_count()

    def _on_classes(self) -> None:
        obs, causal = self.state.obs_classes(), self.state.causal_classes()
        spurious = self.state.spurious_classes()
        self.model.given_causal = self.state.given_causal_classes()
        self.model.set_classes(obs, causal, spurious)
        self.view.viewport().update()         # borders and badges of the thumbnails on screen
        for kind, arr in zip(CLASS_KINDS, (obs, causal, spurious)):
            self._fill_combo(self.filters[kind], arr)
        self._apply_filter()

    def _fill_combo(self, combo: QComboBox, arr: np.ndarray | None) -> None:
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("all", -1)
        for k in ([] if arr is None else np.unique(arr).tolist()):
            combo.addItem(str(k), int(k))
        combo.setCurrentIndex(max(0, combo.findData(current if current is not None else -1)))
        combo.setEnabled(arr is not None)
        combo.blockSignals(False)

    def _apply_filter(self) -> None:
        n = 0 if self.model.images is None else len(self.model.images)
        mask = np.ones(n, bool)
        for kind, combo in self.filters.items():
            value, arr = combo.currentData(), self.model.classes.get(kind)
            if value is not None and value >= 0 and arr is not None:
                mask &= arr == value
        rows = np.flatnonzero(mask)
        if len(rows) != len(self.model.rows) or not np.array_equal(rows, self.model.rows):
            self.model.set_rows(rows)
            self._on_state_selection()
        self._update_count()
        self.filter_changed.emit()

    def _update_count(self) -> None:
        n = 0 if self.model.images is None else len(self.model.images)
        shown = len(self.model.rows)
        self.count_label.setText(f"{n:,} images" if shown == n else f"{shown:,} of {n:,}")

    def _on_state_selection(self) -> None:
        if self._syncing:
            return
        rows = self.model.rows_of(self.state.selection)
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
        indices = self.model.rows[np.unique(np.concatenate(rows))] if rows else np.zeros(0, np.int64)
        current = self.view.selectionModel().currentIndex()
        if current.isValid() and self.view.selectionModel().isSelected(current):
            first = self.model.dataset_index(current.row())
            indices = np.concatenate([[first], indices[indices != first]])
        self._syncing = True
        try:
            self.state.select(indices)
        finally:
            self._syncing = False
