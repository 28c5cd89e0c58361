"""A teacher left presenter mode on and starts the app with a lesson (`viscause-gui --lesson
barometer`): the canvas is as large as when the lesson turns the mode on in a running app, F11
brings back every panel and the status bar that were shown before the mode (the Data panel, the
Oracle panel), and View → Reset layout never leaves an empty lesson bar."""
from __future__ import annotations

from PySide6.QtCore import Qt

from viscause_gui.core.lessons import find_lesson, load_lesson
from viscause_gui.gui.main_window import MainWindow

from .people import press

SCREEN = (1280, 720)
SLACK_PX = 16          # a line of the readout more or less (the bug: 90 px)
WAIT_MS = 30_000


def panels_shown(window) -> set[str]:
    """The panels the View menu shows as on (a tab behind another counts as shown)."""
    return {key for key, dock in window.docks.items() if dock.toggleViewAction().isChecked()}


def canvas_side(window) -> int:
    """The side of the square the canvas can show its image in."""
    view = window.canvas.view
    return min(view.width(), view.height())


def start_app(qtbot, settings, lesson: str | None = None) -> MainWindow:
    """As `viscause-gui [--lesson NAME]` starts: the window, shown, then the lesson."""
    window = MainWindow(settings=settings)
    window.messages = []
    window.show_message = lambda level, title, text: window.messages.append((level, title, text))
    qtbot.addWidget(window)
    window.resize(*SCREEN)
    window.show()
    qtbot.waitExposed(window)
    if lesson is not None:
        assert window.teaching.start_lesson(load_lesson(find_lesson(lesson)))
    settle(qtbot, window)
    return window


def settle(qtbot, window) -> None:
    """The readout under the canvas shows its model's numbers and the truth's lines (its height is final)."""
    readout = window.readout
    qtbot.waitUntil(lambda: readout.values["p_obs"].text().replace(".", "").isdigit()
                    and readout.truth_text("bars") != "", timeout=WAIT_MS)
    qtbot.wait(200)


def test_a_start_in_presenter_mode_looks_as_a_lesson_in_a_running_app_and_f11_brings_every_panel_back(
        qtbot, settings):
    first = start_app(qtbot, settings)
    shown_before = panels_shown(first)
    assert {"browser", "labelling"} <= shown_before and first.statusBar().isVisible()
    assert first.teaching.start_lesson(load_lesson(find_lesson("barometer")))     # it turns presenter mode on
    settle(qtbot, first)
    assert first.teaching.presenter.on
    side_in_a_running_app, shown_in_a_running_app = canvas_side(first), panels_shown(first)
    first.close()                                  # presenter mode stays on in the saved settings

    window = start_app(qtbot, settings, lesson="barometer")
    assert window.teaching.presenter.on
    assert panels_shown(window) == shown_in_a_running_app
    assert canvas_side(window) >= side_in_a_running_app - SLACK_PX, (canvas_side(window), side_in_a_running_app)
    press(qtbot, window, Qt.Key.Key_F11)
    assert not window.teaching.presenter.on
    assert panels_shown(window) - {"lesson", "confounding"} == shown_before
    assert window.docks["browser"].isVisible() and window.statusBar().isVisible()
    assert window.data_label.isVisible() and window.status_line.device_label.isVisible()


def test_reset_layout_never_leaves_an_empty_lesson_bar(qtbot, settings):
    window = start_app(qtbot, settings, lesson="barometer")
    bar = window.teaching.lesson_bar
    window.actions["reset_layout"].trigger()
    assert window.docks["lesson"].isVisible() and bar.title.text() == "Barometer"
    qtbot.mouseClick(bar.close_button, Qt.MouseButton.LeftButton)
    assert not window.docks["lesson"].isVisible()
    window.actions["reset_layout"].trigger()
    assert not window.docks["lesson"].isVisible()
    assert {"browser", "labelling", "learning"} <= panels_shown(window)
