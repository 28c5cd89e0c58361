"""A person is the oracle of a behaviour with ten outcomes, in the main window: opens the data set, picks
the Human oracle, runs Algorithm 1 and answers every representative from the keyboard in the Oracle
(label) panel (one undone and given again); the experiment learns ten causal classes and the Classes
panel names the outcome of each."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from viscause_gui.core.data.dataset import Dataset

pytestmark = pytest.mark.slow          # the main window, Algorithm 1 and a training

WAIT_MS = 120_000
NAMES = tuple(str(d) for d in range(10))


def row_marked(n: int = 200) -> Dataset:
    """10x10 images with one full row: the row says which of ten outcomes T takes (t = obs_class = row)."""
    t = np.arange(n) % 10
    images = np.random.default_rng(0).random((n, 10, 10)).astype(np.float32) * 0.2
    images[np.arange(n), t, :] = 1.0
    return Dataset(images=images, t=t, obs_class=t, meta={"outcomes": list(NAMES)}, name="rows")


def test_a_person_answers_algorithm1_over_ten_outcomes_from_the_keyboard(qtbot, shown_window, tmp_path):
    window = shown_window
    path = tmp_path / "rows.npz"
    row_marked().save_npz(str(path))
    window.opener.open_path(path)
    qtbot.waitUntil(lambda: window.state.dataset is not None and window.state.dataset.name == "rows",
                    timeout=WAIT_MS)
    learning, label = window.panels["learning"], window.panels["labelling"]
    learning.oracle_combo.setCurrentIndex(learning.oracle_combo.findData("human"))
    learning.epochs_spin.setValue(2)
    qtbot.mouseClick(learning.buttons["run1"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: label.current() is not None, timeout=WAIT_MS)
    shown = plain(label.question.text())
    assert "Which of the 10 outcomes of T" in shown and "7 = 7" in shown
    label.setFocus()
    batch, _ = label.current()
    assert len(batch) == 50                                         # five representatives of each of ten classes

    def outcome_shown() -> int:
        b, i = label.current()
        return int(np.argmax(b.images[i].sum(axis=1)))

    qtbot.keyClicks(label, str((outcome_shown() + 1) % 10))         # a slip, undone
    qtbot.keyClick(label, Qt.Key.Key_Backspace)
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS):
        while label.current() is not None:
            qtbot.keyClicks(label, str(outcome_shown()))
    exp = window.state.experiment
    assert exp is not None and exp.n_outcomes == 10
    levels = np.asarray(exp.causal_levels)
    assert levels.shape == (10, 10) and np.allclose(levels, np.eye(10)[np.argmax(levels, axis=1)])
    classes = window.panels["classes"]
    classes.refresh()
    table = classes.causal_table
    shown = sorted(table.item(r, 2).text() for r in range(table.rowCount()))
    assert shown == sorted(f"mostly '{d}' (1.00)" for d in NAMES), shown


def plain(rich: str) -> str:
    """A label's rich text as a person reads it."""
    from PySide6.QtGui import QTextDocument

    document = QTextDocument()
    document.setHtml(rich)
    return document.toPlainText()
