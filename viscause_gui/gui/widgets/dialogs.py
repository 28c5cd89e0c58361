"""QtDialogs: the `Dialogs` protocol (gui/models/dialogs.py) as message boxes and file dialogs.

Questions are modal QMessageBoxes. Offscreen no one can answer them: each returns "no one could
answer", unless `ANSWER_BOX` (tests) is set: it gets the box, shown and modal, and clicks a
button as a person would.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from viscause_gui.gui.models.dialogs import Choice

Buttons = QMessageBox.StandardButton

#: Offscreen, a question is not shown and takes its unattended answer; tests set this to a
#: callable that gets the QMessageBox, shown and modal, and clicks one of its buttons.
ANSWER_BOX: Callable[[QMessageBox], None] | None = None


class QtDialogs:
    """Dialogs over a main window: its `show_message` (non-blocking boxes) and status bar."""

    def __init__(self, window: QMainWindow):
        self.window = window

    def message(self, level: str, title: str, text: str) -> None:
        self.window.show_message(str(level), title, text)   # type: ignore[attr-defined]

    def status(self, text: str, ms: int = 5000) -> None:
        self.window.statusBar().showMessage(text, ms)

    def ask(self, title: str, text: str, default: bool = True) -> bool | None:
        box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=self.window)
        box.setStandardButtons(Buttons.Yes | Buttons.No)
        box.setDefaultButton(Buttons.Yes if default else Buttons.No)
        box.setEscapeButton(Buttons.No)
        answer = _exec(box)
        return None if answer is None else answer == Buttons.Yes

    def ask_save(self, title: str, text: str) -> Choice:
        box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=self.window)
        box.setStandardButtons(Buttons.Save | Buttons.Discard | Buttons.Cancel)
        box.setDefaultButton(Buttons.Save)
        box.setEscapeButton(Buttons.Cancel)
        clicked = _exec(box)
        if clicked is None:
            return Choice.UNANSWERED
        return {Buttons.Save: Choice.SAVE, Buttons.Discard: Choice.DISCARD}.get(clicked, Choice.CANCEL)

    def open_file(self, title: str, folder: str, filters: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.window, title, folder, filters)
        return path or None

    def open_folder(self, title: str, folder: str) -> str | None:
        return QFileDialog.getExistingDirectory(self.window, title, folder) or None

    def save_file(self, title: str, folder: str, filters: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.window, title, folder, filters)
        return path or None


def _exec(box: QMessageBox) -> Any:
    """Show `box` modally and return the button clicked; offscreen with no one to answer
    (`ANSWER_BOX` unset) it is not shown and None is returned."""
    answerer = ANSWER_BOX
    if QGuiApplication.platformName() in ("offscreen", "minimal"):
        if answerer is None:
            return None
        QTimer.singleShot(0, lambda: answerer(box))
    box.exec()
    return box.standardButton(box.clickedButton()) if box.clickedButton() is not None else Buttons.Cancel
