"""The CCT explorer over a T with K outcomes, as a person uses it: the outcomes spin box from the
keyboard, a slider per outcome moved by keys, the table and relation read, the nearest exception
clicked, and a preset taking the explorer back to a binary T."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from viscause_gui.core.method.cct import OutcomeModel, cct
from viscause_gui.gui.panels.cct_explorer import CctExplorerPanel


@pytest.fixture
def panel(qtbot):
    panel = CctExplorerPanel()
    qtbot.addWidget(panel)
    panel.resize(1100, 800)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def shown_row(panel: CctExplorerPanel, h: int, i: int) -> list[float]:
    return [panel.sliders[("t", h, i, k)].value() for k in range(panel.explorer.n_outcomes)]


def table_text(panel: CctExplorerPanel, row: int, col: int) -> str:
    return panel.table.item(row, col).text()


def labels(panel: CctExplorerPanel) -> set[str]:
    return {label.text() for label in panel.slider_area.widget().findChildren(QLabel)}


def test_three_outcomes_from_the_keyboard_then_a_slider_moved_by_keys(qtbot, panel):
    panel.choose_preset("Supplement B, model 2")
    assert "coarsens the observational one" in panel.relation.text()
    panel.outcomes_spin.setFocus()
    qtbot.keyClick(panel.outcomes_spin, Qt.Key.Key_Up)
    assert panel.outcomes_spin.value() == 3 and panel.preset.currentText() == "(your own)"
    assert {"T = 0", "T = 1", "T = 2", "P(T | H=1, I=2)"} <= labels(panel)
    assert "P(T=1 | H=0, I=0)" not in labels(panel)
    assert shown_row(panel, 0, 0)[2] == 0                      # the new outcome starts at 0: same model
    assert panel.status.text().startswith("T has 3 outcomes: the new ones start at probability 0")
    assert "coarsens the observational one" in panel.relation.text()
    assert "total variation" in panel.tol_spin.toolTip()
    assert "rescales the others proportionally" in panel.sliders[("t", 0, 0, 2)].toolTip()
    assert table_text(panel, 0, 2).startswith("(") and "over (0, 1, 2)" in panel.table.horizontalHeaderItem(2).text()

    before = shown_row(panel, 1, 2)
    inner = panel.sliders[("t", 1, 2, 2)]._slider
    inner.setFocus()
    for _ in range(3):
        qtbot.keyClick(inner, Qt.Key.Key_PageUp)                # +0.01 each: P(T=2 | H=1, I=2) = 0.03
    row = shown_row(panel, 1, 2)
    assert row[2] == pytest.approx(0.03, abs=1e-4) and sum(row) == pytest.approx(1, abs=1e-3)
    assert row[0] / row[1] == pytest.approx(before[0] / before[1], rel=1e-3)
    assert shown_row(panel, 0, 2) == [pytest.approx(v) for v in panel.explorer.p_t[0, 2]]

    want = cct(OutcomeModel(panel.explorer.model().p_h, panel.explorer.p_i_given_h, panel.explorer.p_t), 1e-3)
    for i in range(3):
        shown = [float(v) for v in table_text(panel, i, 3).strip("()").split(",")]
        assert np.allclose(shown, want["p_causal"][i], atol=6e-4)
    cells = " ".join("{" + ", ".join(map(str, cell)) + "}" for cell in want["causal_partition"])
    assert f"Causal partition: <b>{cells}</b>" in panel.relation.text()


def test_nearest_exception_over_outcomes_then_a_preset_is_binary_again(qtbot, panel):
    panel.choose_preset("Supplement B, model 2")
    panel.outcomes_spin.setFocus()
    qtbot.keyClick(panel.outcomes_spin, Qt.Key.Key_Up)
    qtbot.keyClick(panel.outcomes_spin, Qt.Key.Key_Up)
    assert panel.outcomes_spin.value() == 4
    inner = panel.sliders[("t", 0, 1, 3)]._slider
    inner.setFocus()
    qtbot.keyClick(inner, Qt.Key.Key_End)                      # all of (H=0, I=1) on the last outcome
    assert shown_row(panel, 0, 1) == pytest.approx([0, 0, 0, 1])
    qtbot.mouseClick(panel.exception_button, Qt.MouseButton.LeftButton)
    assert "Nearest exception" in panel.status.text() and "equal P(T | I)" in panel.status.text()
    assert "(a CCT exception)" in panel.relation.text()
    for h in range(2):
        for i in range(3):
            assert sum(shown_row(panel, h, i)) == pytest.approx(1, abs=1e-3)

    panel.preset.setFocus()
    qtbot.keyClick(panel.preset, Qt.Key.Key_Down)              # (your own) -> Supplement B, model 1
    assert panel.preset.currentText() == "Supplement B, model 1"
    assert panel.outcomes_spin.value() == 2 and ("t", 0, 0) in panel.sliders
    assert "P(T=1 | H=0, I=0)" in labels(panel) and "T = 0" not in labels(panel)
    assert panel.table.horizontalHeaderItem(2).text() == "P(T=1 | I=i)"
    assert "neither partition coarsens the other" in panel.relation.text()
