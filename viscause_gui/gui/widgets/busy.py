"""A busy sign for the status bar that costs the GUI thread almost nothing.

An indeterminate QProgressBar animates at the screen's rate: while training ran it repainted
the status bar ~60 times a second (about 500 repaints in an 8 s run), and each wake-up of the
event loop also made the background loops give way (core.system.foreground). This sign turns
a few times a second and paints only itself: a fixed size and no text, so a new frame never
lays out the status bar or the window again (a QLabel's new text did: ~18 ms each under load).
"""
from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

FRAME_MS = 250             # 4 frames a second
STEPS = 8                  # positions of the arc


class BusySign(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._frame = 0
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._turn)
        side = max(12, self.fontMetrics().height())
        self.setFixedSize(QSize(side, side))
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)   # the window behind is not repainted
        self.setToolTip("Background work is running")

    @property
    def busy(self) -> bool:
        return self._timer.isActive()

    def set_busy(self, busy: bool) -> None:
        if busy == self.busy:
            return
        if busy:
            self._timer.start()
        else:
            self._timer.stop()
        self.update()

    def _turn(self) -> None:
        self._frame = (self._frame + 1) % STEPS
        self.update()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Window))
        if self.busy:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(self.palette().color(QPalette.ColorRole.WindowText), 2))
            box = QRectF(self.rect()).adjusted(2, 2, -2, -2)
            painter.drawArc(box, -self._frame * (5760 // STEPS), 4320)    # three quarters, turning
        painter.end()
