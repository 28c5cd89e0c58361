"""Opening another data set while a person has a batch to answer: nothing of the old one is left
in the oracle queue, its tab title, the Oracle (label) panel or the answers exported."""
from __future__ import annotations

import csv

from PySide6.QtCore import Qt

from viscause_gui.gui.models.dialogs import Choice

WAIT_MS = 30_000


def test_nothing_of_the_old_data_set_lingers(qtbot, shown_window, tmp_path):
    window = shown_window
    learning, labelling = window.panels["learning"], window.panels["labelling"]
    learning.epochs_spin.setValue(2)
    learning.oracle_combo.setCurrentIndex(learning.oracle_combo.findData("human"))
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS):
        qtbot.mouseClick(learning.buttons["run1"], Qt.MouseButton.LeftButton)
    assert len(window.state.queue) == 1 and learning.tabs.tabText(1).startswith("Oracle queue (")
    qtbot.keyClick(labelling, Qt.Key.Key_Y)                      # one answer for the GRATING batch
    assert len(labelling.records()) == 1
    window.session.dialogs.ask_save = lambda title, text: Choice.DISCARD
    window.opener.open_builtin("digits8x8")
    qtbot.waitUntil(lambda: window.state.dataset.name == "digits8x8", timeout=WAIT_MS)
    assert len(window.state.queue) == 0 and learning.queue.pending_count() == 0
    assert learning.tabs.tabText(1) == "Oracle queue"
    assert labelling.current() is None and "No images wait" in labelling.where.text()
    assert learning.experiment is None and window.state.experiment is None
    window.session.exports.answers(tmp_path / "answers.csv")
    with open(tmp_path / "answers.csv") as f:
        rows = list(csv.DictReader(f))
    assert all(r["batch"] != "algorithm1:0" or r["status"] != "in force" for r in rows) or not rows
