"""A busy sign for the status bar that costs the GUI thread almost nothing.

An indeterminate QProgressBar animates at the screen's rate: while training ran it repainted
the status bar ~60 times a second (about 500 repaints in an 8 s run), and each wake-up of the
event loop also made the background loops give way (core.runtime.foreground). This sign turns
a few times a second and keeps its size, so showing or hiding it never lays the bar out again.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget

FRAMES = ("◐", "◓", "◑", "◒")
FRAME_MS = 250             # 4 frames a second


class BusySign(QLabel):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("", parent)
        self._frame = 0
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._turn)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setFixedWidth(self.fontMetrics().horizontalAdvance(FRAMES[0]) * 2)
        self.setToolTip("Background work is running")

    @property
    def busy(self) -> bool:
        return self._timer.isActive()

    def set_busy(self, busy: bool) -> None:
        if busy == self.busy:
            return
        if busy:
            self._timer.start()
            self.setText(FRAMES[self._frame])
        else:
            self._timer.stop()
            self.setText("")

    def _turn(self) -> None:
        self._frame = (self._frame + 1) % len(FRAMES)
        self.setText(FRAMES[self._frame])
