"""A person is the oracle for digits: chooses "T = 1 for label 7", runs Algorithm 1, clicks the
Oracle (label) tab and answers with the keyboard. The journal must hold the right T."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTabBar

from viscause_gui.core.store.journal import read_journal
from viscause_gui.gui.main_window import MainWindow

WAIT_MS = 30_000


@pytest.fixture
def window(qtbot, shown_window) -> MainWindow:
    window = shown_window
    window.opener.open_builtin("digits8x8")
    qtbot.waitUntil(lambda: window.state.dataset.name == "digits8x8", timeout=WAIT_MS)
    return window


def _type_into(qtbot, spin, value: int) -> None:
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, str(value))
    qtbot.keyClick(spin, Qt.Key.Key_Return)


def _pick_tab(qtbot, window: MainWindow, title: str) -> None:
    for bar in window.findChildren(QTabBar):
        for i in range(bar.count()):
            if bar.tabText(i).replace("&", "") == title:
                qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(i).center())
                return
    raise AssertionError(f"no tab {title!r}")


def _choose_human_oracle(qtbot, learning) -> None:
    learning.oracle_combo.setCurrentIndex(learning.oracle_combo.findData("human"))
    assert learning.oracle_combo.currentData() == "human"


def _run_algorithm1_for_a_person(qtbot, window: MainWindow) -> None:
    learning = window.panels["learning"]
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(learning.buttons["run1"], Qt.MouseButton.LeftButton)
    assert blocker.args == ["human"]


def test_digit_keys_are_scored_against_the_label_chosen_in_the_learning_panel(qtbot, window):
    learning, labelling = window.panels["learning"], window.panels["labelling"]
    _type_into(qtbot, learning.label_spin, 7)
    _choose_human_oracle(qtbot, learning)
    _run_algorithm1_for_a_person(qtbot, window)
    _pick_tab(qtbot, window, "Oracle (label)")
    assert "show a 7" in labelling.question.text()
    shown = labelling.current()
    focus = QApplication.focusWidget()          # where the person's next key goes: no click on the image first
    assert focus is labelling or labelling.isAncestorOf(focus), focus
    qtbot.keyClick(focus, Qt.Key.Key_7)
    qtbot.waitUntil(lambda: len(labelling.records()) == 1, timeout=2000)
    record = labelling.records()[0]
    assert record.value == 1.0 and record.label == 7 and record.index == shown[1]
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_3)
    qtbot.waitUntil(lambda: len(labelling.records()) == 2, timeout=2000)
    assert labelling.records()[1].value == 0.0 and labelling.records()[1].label == 3
    on_disk = read_journal(labelling.journal.path).records
    assert [(r.value, r.label) for r in on_disk] == [(1.0, 7), (0.0, 3)]


def test_a_new_label_after_a_first_run_gives_new_classes(qtbot, window):
    learning = window.panels["learning"]
    data = window.state.dataset
    _type_into(qtbot, learning.label_spin, 7)
    _choose_human_oracle(qtbot, learning)
    _run_algorithm1_for_a_person(qtbot, window)
    assert ((data.obs_class == 1) == (data.labels == 7)).all()
    _type_into(qtbot, learning.label_spin, 3)
    assert window.state.positive_label == 3
    _run_algorithm1_for_a_person(qtbot, window)
    assert ((data.obs_class == 1) == (data.labels == 3)).all()
    assert window.state.experiment.data.obs_class.sum() == (data.labels == 3).sum()


def test_a_label_no_image_has_is_refused_in_one_line(qtbot, window):
    learning = window.panels["learning"]
    _type_into(qtbot, learning.label_spin, 42)
    qtbot.mouseClick(learning.buttons["run1"], Qt.MouseButton.LeftButton)
    assert not learning.running
    assert "has the label 42" in learning.status.text() and "its labels: 0, 1" in learning.status.text()
