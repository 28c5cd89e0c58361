"""Spread several redraws over several turns of the event loop.

Qt repaints every widget that changed in one turn together: when an iteration of Algorithm 2
ends, its table row, the MErr plot and the MDist plot all changed, and their repaints (10–40 ms
each on a busy 2-core machine) ran back to back in one stall of the GUI. `StagedUpdates` applies
one change per turn instead, `interval_ms` apart, so that the repaint of each is done (and the
event loop has served everything else, e.g. a key press) before the next begins.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QProgressBar


class StagedUpdates(QObject):
    """A queue of named updates, run one per timer shot; a newer update of the same name
    replaces the waiting one (it would redraw the same thing)."""

    def __init__(self, interval_ms: int = 30, parent: QObject | None = None):
        super().__init__(parent)
        self._pending: dict[str, Callable[[], None]] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._run_next)

    def add(self, name: str, update: Callable[[], None]) -> None:
        """Run `update` in a later turn (the first waiting one runs `interval_ms` from now)."""
        self._pending.pop(name, None)
        self._pending[name] = update
        if not self._timer.isActive():
            self._timer.start()

    def pending(self) -> list[str]:
        return list(self._pending)

    def flush(self) -> None:
        """Run every waiting update now (e.g. a run ended: what it shows must be complete)."""
        self._timer.stop()
        while self._pending:
            self._run_one()

    def clear(self) -> None:
        self._timer.stop()
        self._pending.clear()

    def _run_next(self) -> None:
        if self._pending:
            self._run_one()
        if self._pending:
            self._timer.start()

    def _run_one(self) -> None:
        name = next(iter(self._pending))
        self._pending.pop(name)()


class ProgressBar(QProgressBar):
    """A QProgressBar whose setValue schedules a repaint instead of painting at once.

    Qt's QProgressBar::setValue calls QWidget::repaint(): the window's dirty regions are painted
    and flushed right there, inside the slot that reported the progress, apart from the event
    loop's own repaint of the same turn. In digit mode a training event's slot took 44 ms in that
    call (benchmarks/diag_gui_timeline.py). With updates off for the call, the new value is an
    ordinary update() that Qt paints with everything else when the event loop gets to it.
    """

    def setValue(self, value: int) -> None:
        if value == self.value():
            return
        self.setUpdatesEnabled(False)
        try:
            super().setValue(value)
        finally:
            self.setUpdatesEnabled(True)        # re-enabling updates calls update()
