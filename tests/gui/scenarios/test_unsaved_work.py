"""Work is never dropped without asking: quitting, opening another data set and starting a new
experiment over a trained one ask first; Cancel keeps everything, Save saves, Discard goes on."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from viscause_gui.gui.main_window import MainWindow
from viscause_gui.gui.models.dialogs import Choice

pytestmark = pytest.mark.slow      # each test trains in the main window first

WAIT_MS = 30_000


@pytest.fixture
def trained(qtbot, shown_window) -> MainWindow:
    window = shown_window
    learning = window.panels["learning"]
    learning.epochs_spin.setValue(2)
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS):
        qtbot.mouseClick(learning.buttons["run1"], Qt.MouseButton.LeftButton)
    assert learning.experiment is not None and learning.experiment.nets
    window.asked = []
    return window


def _answer(window: MainWindow, choice: Choice) -> None:
    """The person's answer to Save / Discard / Cancel (the window's dialogs; the question's title is the action)."""
    window.session.dialogs.ask_save = lambda title, text: (window.asked.append(title), choice)[1]


def test_quit_with_unsaved_work_asks_and_cancel_keeps_the_window(qtbot, trained):
    _answer(trained, Choice.CANCEL)
    assert not trained.close() and trained.isVisible()
    assert trained.asked == ["Quit"]
    _answer(trained, Choice.DISCARD)
    assert trained.close()


def test_quit_and_save_writes_the_session(qtbot, trained, tmp_path):
    trained.session.dialogs.save_file = lambda title, folder, filters: str(tmp_path / "s")   # Save as: "s"
    _answer(trained, Choice.SAVE)
    assert trained.close()
    assert (tmp_path / "s.vcsession").stat().st_size > 1000


def test_opening_another_data_set_asks_first(qtbot, trained):
    before = trained.state.dataset
    _answer(trained, Choice.CANCEL)
    trained.opener.open_builtin("digits8x8")
    qtbot.wait(200)
    assert trained.state.dataset is before and trained.asked == ["Open another data set"]
    _answer(trained, Choice.DISCARD)
    trained.opener.open_builtin("digits8x8")
    qtbot.waitUntil(lambda: trained.state.dataset.name == "digits8x8", timeout=WAIT_MS)


def test_run_algorithm1_over_a_trained_experiment_asks(qtbot, trained):
    learning = trained.panels["learning"]
    exp = learning.experiment
    learning.confirm_new_experiment = lambda e: False
    qtbot.mouseClick(learning.buttons["run1"], Qt.MouseButton.LeftButton)
    assert not learning.running and learning.experiment is exp and "kept" in learning.status.text()


def test_nothing_to_lose_nothing_asked(qtbot, settings):
    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    window.session.dialogs.ask_save = lambda title, text: pytest.fail("asked with nothing to lose")
    assert window.close()
