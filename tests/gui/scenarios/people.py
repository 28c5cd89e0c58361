"""What a person does in the scenario tests: answer the app's questions by clicking a button of
the message box on screen, open a built-in data set with Ctrl+B and its dialog, press keys."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox

from viscause_gui.gui.data_dialog import BuiltinDialog
from viscause_gui.gui.widgets import dialogs as dialogs_module

WAIT_MS = 30_000


class Person:
    """Clicks the buttons of the app's questions (Save / Discard / Cancel, Yes / No) in the order
    given with `will`; each question seen is kept in `seen` as (title, text, shown). A question
    nobody expected is answered Discard (or No) and kept in `unexpected`."""

    def __init__(self, qtbot, monkeypatch):
        self.qtbot = qtbot
        self.choices: list[str] = []
        self.seen: list[tuple[str, str, bool]] = []
        self.unexpected: list[str] = []
        monkeypatch.setattr(dialogs_module, "ANSWER_BOX", self._answer)

    def will(self, *choices: str) -> Person:
        self.choices.extend(choices)
        return self

    def titles(self) -> list[str]:
        return [title for title, _, _ in self.seen]

    def _answer(self, box: QMessageBox) -> None:
        self.seen.append((box.windowTitle(), box.text(), box.isVisible()))
        buttons = QMessageBox.StandardButton
        if self.choices:
            choice = self.choices.pop(0)
        else:
            self.unexpected.append(box.windowTitle())
            choice = "Discard" if box.button(buttons.Discard) is not None else "No"
        button = box.button(getattr(buttons, choice))
        assert button is not None, f"the question {box.windowTitle()!r} has no {choice} button"
        self.qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def open_builtin_with_ctrl_b(qtbot, window, name: str, **values) -> None:
    """Ctrl+B, pick `name` in the dialog (and options by their spin boxes' names), click OK."""

    def choose_and_click_ok() -> None:
        dialog = next((w for w in QApplication.topLevelWidgets() if isinstance(w, BuiltinDialog) and w.isVisible()),
                      None)
        if dialog is None:                     # not on screen yet (a busy machine): look again soon
            QTimer.singleShot(50, choose_and_click_ok)
            return
        dialog.combo.setCurrentIndex(dialog.combo.findData(name))
        for key, value in values.items():
            dialog.fields[key].setValue(value)
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)

    QTimer.singleShot(100, choose_and_click_ok)
    press(qtbot, window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)


def open_file_with_ctrl_o(qtbot, window, path: Path, timeout: int = WAIT_MS) -> None:
    """Ctrl+O and the file chosen in the dialog (stood in for); waits until the data set is open."""
    window.dialogs.open_file = lambda title, folder, filters: str(path)
    qtbot.keyClick(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.state.dataset is not None and window.state.dataset.name == path.stem,
                    timeout=timeout)


def press(qtbot, window, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A key on the main window, as a person presses it with the window in front (after a
    message box closed, the window is made the active one again first, as a click on it does)."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    qtbot.keyClick(window, key, modifier)


def choose_in_menu(qtbot, window, menu_title: str, item_text: str) -> None:
    """Click a menu of the menu bar, then one of its items, as a person does with the mouse."""
    bar = window.menuBar()
    entry = next(a for a in bar.actions() if a.text().replace("&", "") == menu_title)
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(entry).center())
    menu = entry.menu()
    qtbot.waitUntil(menu.isVisible, timeout=2_000)
    item = next(a for a in menu.actions() if a.text().replace("&", "") == item_text)
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(item).center())
    qtbot.waitUntil(lambda: not menu.isVisible(), timeout=2_000)
