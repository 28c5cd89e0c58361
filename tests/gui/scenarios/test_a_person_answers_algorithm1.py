"""A person answers Algorithm 1 with the human oracle, in the Oracle (label) panel with Y and N: the
run goes on by itself, and what was learned shows at once (the thumbnails' C and S badges, the C/S
filters, the readout's S). While the loop waits for the person, the status bar says so, not "idle"."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.gui.scenarios.people import open_builtin_with_ctrl_b
from viscause_gui.gui.panels.browser import INDEX_ROLE

pytestmark = pytest.mark.slow      # the main window trains the causal net

WAIT_MS = 60_000


def _shown(window, kind: str) -> list[int | None]:
    browser = window.panels["browser"]
    model = browser.model
    return [browser.shown.class_of(kind, model.index(r).data(INDEX_ROLE)) for r in range(model.rowCount())]


def _answer_the_waiting_batch_by_keys(qtbot, window) -> None:
    """Y where the exact model says T = 1 is likelier, N elsewhere, one key per image."""
    labelling, truth = window.panels["labelling"], window.state.truth.oracle()
    while labelling.current() is not None:
        batch, i = labelling.current()
        p = float(truth.answer(batch.images[i:i + 1])[0])
        qtbot.keyClick(labelling, Qt.Key.Key_Y if p > 0.5 else Qt.Key.Key_N)


def _start_algorithm1_with_the_human_oracle(qtbot, window) -> None:
    before = window.state.dataset
    open_builtin_with_ctrl_b(qtbot, window, "grating", n=500)
    qtbot.waitUntil(lambda: window.state.dataset is not before and window.state.dataset.name == "grating",
                    timeout=WAIT_MS)
    learning = window.panels["learning"]
    learning.epochs_spin.setValue(2)
    learning.retrain_spin.setValue(1)
    learning.oracle_combo.setCurrentIndex(learning.oracle_combo.findData("human"))
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(learning.buttons["run1"], Qt.MouseButton.LeftButton)
    assert blocker.args == ["human"]


def _status_bar_says_waiting(qtbot, window) -> None:
    n = len(window.state.queue[0])
    qtbot.waitUntil(lambda: f"waiting for your answers ({n} images)" in window.worker_label.text(), timeout=5_000)


def test_the_status_bar_says_the_loop_waits_for_a_person(qtbot, shown_window):
    window = shown_window
    _start_algorithm1_with_the_human_oracle(qtbot, window)
    _status_bar_says_waiting(qtbot, window)
    qtbot.mouseClick(window.panels["learning"].buttons["stop"], Qt.MouseButton.LeftButton)   # stop waiting
    qtbot.waitUntil(lambda: window.worker_label.text() == "stopped", timeout=5_000)      # Resume goes on


def test_answers_to_algorithm1_show_as_classes_at_once(qtbot, shown_window):
    window = shown_window
    _start_algorithm1_with_the_human_oracle(qtbot, window)
    learning = window.panels["learning"]
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS) as blocker:
        _answer_the_waiting_batch_by_keys(qtbot, window)        # the run goes on: the causal net trains
    assert blocker.args == ["goal"]
    learned = window.state.experiment.causal_labels
    assert learned is not None
    assert _shown(window, "causal") == learned.tolist()
    assert None not in _shown(window, "spurious")
    browser = window.panels["browser"]
    assert browser.filters["causal"].isEnabled() and browser.filters["spurious"].isEnabled()
    i = window.state.current_index
    spurious = window.state.spurious_classes()
    source = window.readout.values["source"].text()        # the image's learned classes, as the readout says
    assert f"C {learned[i]}" in source and f"S {spurious[i]}" in source
