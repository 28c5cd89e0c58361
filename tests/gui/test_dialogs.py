"""QtDialogs (gui/widgets/dialogs.py): the questions a controller asks, as message boxes. Enter takes
the default answer, Escape says No / Cancel; offscreen with no one to answer, nothing is shown."""
from __future__ import annotations

from PySide6.QtWidgets import QMainWindow, QMessageBox

from viscause_gui.gui.models.dialogs import Choice
from viscause_gui.gui.widgets import dialogs as dialogs_module
from viscause_gui.gui.widgets.dialogs import QtDialogs


def test_enter_gives_the_default_answer_and_escape_says_no(qtbot, monkeypatch):
    window = QMainWindow()
    qtbot.addWidget(window)
    seen = []

    def press_enter(box: QMessageBox) -> None:
        seen.append((box.windowTitle(), box.escapeButton() is box.button(QMessageBox.StandardButton.No)))
        box.defaultButton().click()

    monkeypatch.setattr(dialogs_module, "ANSWER_BOX", press_enter)
    dialogs = QtDialogs(window)
    assert dialogs.ask("Recover?", "…") is True
    assert dialogs.ask("Reuse earlier answers?", "…", default=False) is False
    assert seen == [("Recover?", True), ("Reuse earlier answers?", True)]
    assert dialogs.ask_save("Quit", "…") == Choice.SAVE


def test_offscreen_with_no_one_to_answer_nothing_is_asked(qtbot, monkeypatch):
    window = QMainWindow()
    qtbot.addWidget(window)
    monkeypatch.setattr(dialogs_module, "ANSWER_BOX", None)
    dialogs = QtDialogs(window)
    assert dialogs.ask("Recover?", "…") is None and dialogs.ask_save("Quit", "…") == Choice.UNANSWERED
