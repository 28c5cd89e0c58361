"""Thumbnails of a data set's images with what was learned of each: a list view's delegate.

Each cell is the image scaled nearest-neighbour (grey or colour, as `display_qimage` shows it; a small
LRU cache of QImages), framed in the colour of its causal class C, with badges for the observational
class (o), C and the spurious class S once they are known. The Data browser's grid paints with it;
it reads the images and classes from a ShownImages (gui/models) and the data set index of a cell from
the view model's INDEX_ROLE.
"""
from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from viscause_gui.gui.models.shown_images import CLASS_KINDS, ShownImages
from viscause_gui.gui.widgets.colors import class_color, text_color_on
from viscause_gui.gui.widgets.images import display_qimage

INDEX_ROLE = Qt.ItemDataRole.UserRole + 1      # a cell's data set index
BADGE_PREFIX = {"obs": "o", "causal": "C", "spurious": "S"}
PAD = 3
BADGE_H = 14
COMPACT_BELOW = 48   # thumbnails smaller than this get digit-only badges


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints a thumbnail (nearest-neighbour, cached; grey or colour as `display_qimage` shows it)
    with a C-coloured border and class badges."""

    def __init__(self, shown: ShownImages, thumb: int = 64, cache_size: int = 4096, parent=None):
        super().__init__(parent)
        self.shown = shown
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
        assert self.shown.images is not None
        img = display_qimage(self.shown.images[i]).scaled(
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
        self._paint_border(painter, QRect(x, y, img.width(), img.height()), self.shown.class_of("causal", i))
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
        known = tuple((kind, k) for kind in CLASS_KINDS if (k := self.shown.class_of(kind, i)) is not None)
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
