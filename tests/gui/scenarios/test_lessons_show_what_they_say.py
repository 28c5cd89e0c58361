"""A lesson's text and the run it shows agree: a person steps through "Learning to manipulate" as
shipped (Help → Lessons, then PgDown) and the MErr series its runs record is what its text says."""
from __future__ import annotations

import itertools

from PySide6.QtCore import Qt

from .people import press

WAIT_MS = 60_000


def _next_step(qtbot, window) -> None:
    controller = window.teaching.controller
    qtbot.waitUntil(lambda: not controller.busy, timeout=WAIT_MS)
    press(qtbot, window, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: not controller.busy, timeout=WAIT_MS)


def test_merr_falls_towards_zero_in_learning_to_manipulate(qtbot, shown_window):
    window = shown_window
    window.actions["lesson_learning_to_manipulate"].trigger()           # Help → Lessons → Learning to manipulate
    controller = window.teaching.controller
    qtbot.waitUntil(lambda: controller.lesson is not None and not controller.busy, timeout=WAIT_MS)
    _next_step(qtbot, window)                                           # Algorithm 2, one iteration
    _next_step(qtbot, window)                                           # four more
    claim = window.teaching.lesson_bar.text.text()
    assert "MErr falls towards zero" in claim
    merr = [record.merr for record in window.state.experiment.history]
    assert len(merr) == 5
    falls = all(later <= earlier + 0.02 for earlier, later in itertools.pairwise(merr))
    assert falls and merr[-1] <= 0.05 and merr[-1] < merr[0] / 4, f"the lesson says {claim!r}; MErr went {merr}"
    window.teaching.controller.close()
