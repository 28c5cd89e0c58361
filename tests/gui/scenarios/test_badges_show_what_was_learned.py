"""A person opens GRATING through "Open built-in…" (Ctrl+B): before anything is learned the
thumbnails show no causal class C nor spurious class S (the generator's truth is not a learned
class; the tooltip names it as truth); after Algorithm 1 they show the learned ones."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from viscause_gui.gui.data_dialog import BuiltinDialog
from viscause_gui.gui.main_window import MainWindow
from viscause_gui.gui.panels.browser import INDEX_ROLE

pytestmark = pytest.mark.slow      # Algorithms 1 and 2 run in the main window

WAIT_MS = 30_000


def _open_grating_with_the_dialog(qtbot, window: MainWindow) -> None:
    def choose_and_click_ok() -> None:
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, BuiltinDialog) and w.isVisible())
        dialog.combo.setCurrentIndex(dialog.combo.findData("grating"))
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)

    before = window.state.dataset
    QTimer.singleShot(200, choose_and_click_ok)
    qtbot.keyClick(window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.state.dataset is not before and window.state.dataset.name == "grating",
                    timeout=WAIT_MS)


def _shown(window: MainWindow, kind: str) -> list[int | None]:
    browser = window.panels["browser"]
    model = browser.model
    return [browser.shown.class_of(kind, model.index(r).data(INDEX_ROLE)) for r in range(model.rowCount())]


def test_grating_thumbnails_show_only_learned_classes(qtbot, shown_window):
    window = shown_window
    _open_grating_with_the_dialog(qtbot, window)
    browser, data = window.panels["browser"], window.state.dataset
    assert data.causal_class is not None                          # the generator knows the truth…
    assert set(_shown(window, "causal")) == {None}                # …but nothing was learned yet
    assert set(_shown(window, "spurious")) == {None}
    assert _shown(window, "obs") == data.obs_class.tolist()        # the observational class is data
    assert not browser.filters["causal"].isEnabled() and not browser.filters["spurious"].isEnabled()
    tip = browser.model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert "causal class C =" not in tip and "truth" in tip
    assert " C " not in window.readout.values["source"].text()

    learning = window.panels["learning"]
    learning.epochs_spin.setValue(2)
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS):
        qtbot.mouseClick(learning.buttons["run1"], Qt.MouseButton.LeftButton)
    learned = window.state.experiment.causal_labels
    assert learned is not None
    assert _shown(window, "causal") == learned.tolist()
    assert None not in _shown(window, "spurious")
    assert browser.filters["causal"].isEnabled()
    assert "causal class C =" in browser.model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert np.all(np.isin(_shown(window, "causal"), np.unique(learned)))
