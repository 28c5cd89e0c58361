"""Answers are taken only by their own session (issue 21, finding 8).

A person answers GRATING's first batch (F10, the keyboard), then opens a fresh GRATING with the
same seed (Ctrl+B: the same images) and presses F10: the new session starts with no answers
("0 / 20 answered"). The app offers the earlier answers to the same images, saying how many and
from when; No leaves them, Yes takes them (each then says where it came from), and with no one
to ask (offscreen) they are not taken."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from viscause_gui.core.experiments.grating import has_hbar
from viscause_gui.core.store.journal import read_journal
from viscause_gui.core.store.session import journal_path
from viscause_gui.gui.main_window import MainWindow

from .people import WAIT_MS, Person, open_builtin_with_ctrl_b, press

SEED = 4


def human_step_with_f10(qtbot, window: MainWindow) -> None:
    learning = window.panels["learning"]
    learning.epochs_spin.setValue(2)
    learning.oracle_combo.setCurrentIndex(learning.oracle_combo.findData("human"))
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS) as blocker:
        press(qtbot, window, Qt.Key.Key_F10)
    assert blocker.args == ["human"]


def answer_the_batch(qtbot, window: MainWindow) -> None:
    panel = window.panels["labelling"]
    learning = window.panels["learning"]
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS):
        while panel.current() is not None and window.state.queue.waiting():
            batch, i = panel.current()
            qtbot.keyClicks(panel, "y" if has_hbar(batch.images[i]) else "n")


def a_fresh_grating(qtbot, window: MainWindow, person: Person, *answers: str) -> None:
    """Ctrl+B GRATING with the same seed, answering the unsaved-work question with Discard."""
    before = window.state.dataset
    person.will("Discard", *answers)
    open_builtin_with_ctrl_b(qtbot, window, "grating", n=300, seed=SEED)
    qtbot.waitUntil(lambda: window.state.dataset is not before, timeout=WAIT_MS)


@pytest.fixture
def answered(qtbot, shown_window, monkeypatch):
    """A session on GRATING (seed SEED) whose first batch (20 images) the person answered."""
    window, person = shown_window, Person(qtbot, monkeypatch)
    open_builtin_with_ctrl_b(qtbot, window, "grating", n=300, seed=SEED)
    qtbot.waitUntil(lambda: len(window.state.dataset) == 300, timeout=WAIT_MS)
    human_step_with_f10(qtbot, window)
    first = window.state.queue[0]
    assert len(first) == 20
    answer_the_batch(qtbot, window)
    assert sum(r.type == "answer" for r in window.panels["labelling"].records()) == 20
    window.first_session = window.session.session_id
    window.first_batch = first
    window.first_journal = journal_path(window.session.files.session_file())
    return window, person


def test_a_fresh_session_starts_with_no_answers_and_no_leaves_the_earlier_ones(qtbot, answered):
    window, person = answered
    a_fresh_grating(qtbot, window, person, "No")
    assert window.session.session_id != window.first_session
    panel = window.panels["labelling"]
    assert panel.records() == []
    human_step_with_f10(qtbot, window)
    batch = window.state.queue[0]
    assert batch.kind == "algorithm1" and (batch.images == window.first_batch.images).all()   # the same images
    qtbot.waitUntil(lambda: len(person.seen) == 2, timeout=WAIT_MS)
    title, text, shown = person.seen[1]
    assert title == "Reuse earlier answers?" and shown
    assert "20 answer(s) to 20 of the 20 image(s)" in text and "1 earlier session(s)" in text
    assert " on 20" in text or " between 20" in text                      # from when (a date)
    assert panel.progress.text() == "0 / 20 answered" and panel.records() == []
    assert not person.unexpected


@pytest.mark.slow
def test_yes_takes_the_earlier_answers_and_says_where_they_came_from(qtbot, answered):
    window, person = answered
    a_fresh_grating(qtbot, window, person, "Yes")
    learning = window.panels["learning"]
    human_step_with_f10(qtbot, window)
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS):         # fully answered: the loop goes on
        qtbot.waitUntil(lambda: len(person.seen) == 2, timeout=WAIT_MS)
    records = window.panels["labelling"].records()
    assert len(records) == 20 and all(r.reused_from.startswith(window.first_session + ":") for r in records)
    assert all(r.session == window.session.session_id for r in records)
    assert learning.experiment.batches[0].kind == "algorithm1"
    own = read_journal(journal_path(window.session.files.session_file()))
    assert own.session_id == window.session.session_id and len(own.records) == 20
    earlier = list(window.first_journal.parent.glob(window.first_journal.name + ".*.old"))   # discarded: kept aside
    assert len(earlier) == 1 and len(read_journal(earlier[0]).records) == 20                   # and untouched


@pytest.mark.slow
def test_with_no_one_to_ask_the_earlier_answers_are_not_taken(qtbot, answered, monkeypatch):
    window, person = answered
    a_fresh_grating(qtbot, window, person)
    from viscause_gui.gui.widgets import dialogs as dialogs_module
    monkeypatch.setattr(dialogs_module, "ANSWER_BOX", None)               # offscreen, nobody there
    human_step_with_f10(qtbot, window)
    qtbot.wait(300)
    panel = window.panels["labelling"]
    assert panel.progress.text() == "0 / 20 answered" and panel.records() == []


def test_a_share_does_not_cross_into_a_fresh_session(qtbot, shown_window, monkeypatch):
    """A share started in one session stops when the person opens another data set: its annotators
    and tally belong to the earlier session (whose journal keeps their answers)."""
    from viscause_gui.core.share.server import Limits

    window, person = shown_window, Person(qtbot, monkeypatch)
    open_builtin_with_ctrl_b(qtbot, window, "grating", n=300, seed=SEED)
    qtbot.waitUntil(lambda: len(window.state.dataset) == 300, timeout=WAIT_MS)
    human_step_with_f10(qtbot, window)
    window.share.limits = Limits(annotator_rate=1000, annotator_burst=1000)
    window.actions["share"].trigger()
    qtbot.mouseClick(window.share_window.start_button, Qt.MouseButton.LeftButton)
    assert window.share.running and window.actions["share_stop"].isEnabled()
    a_fresh_grating(qtbot, window, person, "No")
    assert not window.share.running and not window.actions["share_stop"].isEnabled()
    assert window.share_window.address.text().startswith("Sharing stopped: another session was opened")
    assert window.panels["labelling"].records() == []
