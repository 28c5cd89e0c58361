"""An autosave protects against a crash; it is never a save the person chose (issue 21, finding 7).

A new user trains (F4), the one-minute autosave runs (here: its interval shortened), then they
open another data set (Ctrl+B) or quit (the window's close): the app still asks Save / Discard /
Cancel. Cancel keeps the trained experiment; a quit after Save or Discard leaves nothing to
recover at the next start; an autosave is named after the data it holds, never after the
session opened before; a quit nobody could answer keeps the work for the next start."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.store.session import autosave_path, journal_path
from viscause_gui.core.store.session_reader import load_session
from viscause_gui.gui.main_window import MainWindow

from .people import WAIT_MS, Person, open_builtin_with_ctrl_b, press

pytestmark = pytest.mark.slow      # each test trains in the main window first


@pytest.fixture
def person(qtbot, monkeypatch) -> Person:
    return Person(qtbot, monkeypatch)


def train_with_f4(qtbot, window: MainWindow):
    """F4 on a small GRATING (300 images, 20 queries: a few seconds of training)."""
    if len(window.state.dataset) > 300:
        window.state.set_dataset(GratingModel().sample(300, 0))        # nothing done yet: nothing asked
    learning = window.panels["learning"]
    learning.epochs_spin.setValue(2)
    learning.queries_spin.setValue(20)
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS):
        press(qtbot, window, Qt.Key.Key_F4)
    assert learning.experiment is not None and learning.experiment.nets
    return learning.experiment


def let_the_autosave_run(qtbot, window: MainWindow):
    """The autosave timer, shortened from a minute: wait until it has written the session."""
    session, files = window.session, window.session.files
    files.autosaver.interval_s = 0
    session.timer.setInterval(20)
    qtbot.waitUntil(lambda: files.autosaver.path.exists() and not files.autosaver.dirty, timeout=WAIT_MS)
    session.timer.setInterval(60_000)
    return files.autosaver.path


def save_dialog_answers(monkeypatch, path) -> None:
    """The Save dialog: the person types `path`."""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(path), "")))


def next_start(qtbot, settings) -> MainWindow:
    window = MainWindow(settings=settings)
    window.messages = []
    window.show_message = lambda level, title, text: window.messages.append((level, title, text))
    qtbot.addWidget(window)
    return window


def recovery_files(window: MainWindow) -> list[str]:
    """What the recovery folder holds for a next start (the window's own new journal aside)."""
    folder, own = window.session.files.recovery_dir, journal_path(window.session.files.session_file())
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".old") and p != own) \
        if folder.exists() else []


def test_after_the_autosave_opening_another_data_set_still_asks_and_cancel_keeps_the_run(
        qtbot, shown_window, person):
    window = shown_window
    exp = train_with_f4(qtbot, window)
    auto = let_the_autosave_run(qtbot, window)
    held = load_session(auto)
    assert held.experiment is not None and held.dataset.name == window.state.dataset.name
    assert auto.name.startswith(f"{window.state.dataset.name}-")          # named after what it holds

    name = window.state.dataset.name
    person.will("Cancel")
    open_builtin_with_ctrl_b(qtbot, window, "digits8x8")
    qtbot.wait(300)
    assert person.titles() == ["Open another data set"] and person.seen[0][2]      # on screen
    assert "never saved: an experiment trained by Algorithm 1" in person.seen[0][1]
    assert window.state.dataset.name == name                             # nothing was replaced
    assert window.panels["learning"].experiment is exp and window.state.experiment is exp
    assert auto.exists() and load_session(auto).dataset.name == name     # the autosave is intact

    person.will("Discard")
    open_builtin_with_ctrl_b(qtbot, window, "digits8x8")
    qtbot.waitUntil(lambda: window.state.dataset.name == "digits8x8", timeout=WAIT_MS)
    assert person.titles() == ["Open another data set"] * 2 and not person.unexpected
    assert not auto.exists()                                             # discarded: nothing to recover
    assert not autosave_path(window.session.files.session_file()).exists()    # the new data set: no work yet


def test_quit_after_the_autosave_asks_and_save_leaves_nothing_to_recover(
        qtbot, shown_window, person, settings, monkeypatch, tmp_path):
    window = shown_window
    train_with_f4(qtbot, window)
    let_the_autosave_run(qtbot, window)
    person.will("Cancel")
    assert not window.close() and window.isVisible()                     # Cancel: the window stays
    person.will("Save")
    save_dialog_answers(monkeypatch, tmp_path / "mine.vcsession")
    assert window.close()
    assert person.titles() == ["Quit", "Quit"] and not person.unexpected
    saved = load_session(tmp_path / "mine.vcsession")
    assert saved.experiment is not None and saved.experiment.nets
    assert not autosave_path(tmp_path / "mine.vcsession").exists()

    again = next_start(qtbot, settings)
    assert person.titles() == ["Quit", "Quit"]                            # no "recover?" at the start
    assert not again.messages and recovery_files(again) == []


def test_quit_discarded_leaves_nothing_to_recover(qtbot, shown_window, person, settings):
    window = shown_window
    train_with_f4(qtbot, window)
    auto = let_the_autosave_run(qtbot, window)
    person.will("Discard")
    assert window.close()
    assert person.titles() == ["Quit"] and not auto.exists()
    again = next_start(qtbot, settings)
    assert person.titles() == ["Quit"] and not again.messages
    assert recovery_files(again) == []


def test_a_plain_quit_with_nothing_to_lose_is_not_asked_and_not_offered(qtbot, shown_window, person, settings):
    window = shown_window
    open_builtin_with_ctrl_b(qtbot, window, "digits8x8")                 # nothing to lose: not asked
    qtbot.waitUntil(lambda: window.state.dataset.name == "digits8x8", timeout=WAIT_MS)
    assert window.close()
    again = next_start(qtbot, settings)
    assert person.seen == [] and not again.messages and recovery_files(again) == []


def test_an_opened_session_quit_unchanged_is_not_asked_and_not_offered(
        qtbot, shown_window, person, settings, tmp_path):
    window = shown_window
    train_with_f4(qtbot, window)
    assert window.session.save_to(tmp_path / "s.vcsession")
    assert window.close() and person.seen == []                          # saved: nothing to ask
    other = next_start(qtbot, settings)
    assert other.session.open(tmp_path / "s.vcsession")
    qtbot.wait(200)
    assert other.close() and person.seen == []
    third = next_start(qtbot, settings)
    assert person.seen == [] and not third.messages
    assert not autosave_path(tmp_path / "s.vcsession").exists()


def test_the_autosave_is_named_after_the_work_it_holds_not_the_session_opened_before(
        qtbot, shown_window, person, settings, tmp_path):
    window = shown_window
    train_with_f4(qtbot, window)
    saved = tmp_path / "mnist7.vcsession"
    assert window.session.save_to(saved)                                 # the person saved this one
    open_builtin_with_ctrl_b(qtbot, window, "grating", n=200, seed=3)    # saved: not asked
    qtbot.waitUntil(lambda: len(window.state.dataset) == 200, timeout=WAIT_MS)
    assert person.seen == [] and window.session.path is None
    train_with_f4(qtbot, window)
    auto = let_the_autosave_run(qtbot, window)
    assert not autosave_path(saved).exists()                             # never the earlier session's name
    assert auto.parent == window.session.files.recovery_dir and auto.name.startswith("grating-")
    held = load_session(auto)
    assert len(held.dataset) == 200 and held.experiment is not None
    assert load_session(saved).experiment is not None and len(load_session(saved).dataset) == 300


def test_a_quit_nobody_answered_keeps_the_run_for_the_next_start(qtbot, settings, monkeypatch):
    """Offscreen with no one to click: the window closes and the run is kept as after a crash;
    the next start offers it (an experiment, even with 0 answers) and recovers it."""
    first = next_start(qtbot, settings)
    first.show()
    qtbot.waitExposed(first)
    train_with_f4(qtbot, first)
    assert first.close()                                                 # unattended: goes on, keeps it
    person = Person(qtbot, monkeypatch).will("Yes")
    again = next_start(qtbot, settings)
    assert person.titles() == ["Recover the session?"]
    assert "an experiment trained by Algorithm 1" in person.seen[0][1] and "on GRATING" in person.seen[0][1]
    assert again.panels["learning"].experiment is not None and again.panels["learning"].experiment.nets
    assert again.session.has_unsaved_work()                              # recovered is not saved
    person.will("Discard")
    assert again.close()
    third = next_start(qtbot, settings)
    assert person.titles() == ["Recover the session?", "Quit"] and not third.messages


def test_a_new_run_over_unsaved_trained_work_asks(qtbot, shown_window, person):
    window = shown_window
    learning = window.panels["learning"]
    exp = train_with_f4(qtbot, window)
    let_the_autosave_run(qtbot, window)
    person.will("Cancel")
    press(qtbot, window, Qt.Key.Key_F4)
    assert person.titles() == ["Start a new experiment"] and "replaces" in person.seen[0][1]
    assert not learning.running and learning.experiment is exp
    person.will("Discard")
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS):
        press(qtbot, window, Qt.Key.Key_F4)
    assert learning.experiment is not exp and not person.unexpected


def test_a_second_window_is_not_offered_the_live_work_of_the_first(qtbot, shown_window, person, settings):
    """The first window's autosave is its live work (its journal is open): a second window
    started meanwhile does not offer to recover it."""
    train_with_f4(qtbot, shown_window)
    let_the_autosave_run(qtbot, shown_window)
    second = next_start(qtbot, settings)
    assert person.seen == [] and not second.messages
    assert shown_window.session.files.autosaver.path.exists()
