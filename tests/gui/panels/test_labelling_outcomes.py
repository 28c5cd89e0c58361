"""Issue 24: the Oracle (label) panel answers over K > 2 outcomes from the keyboard and its buttons: one
key per outcome shown on the panel, undo, review of an answered image (the outcome given is shown and its
button checked), the journal of outcome indices, a reopened journal, and the experiment's (B, K) rows."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import Qt

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.data.outcome_keys import outcome_keys
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
from viscause_gui.core.store.journal import Journal, read_journal
from viscause_gui.core.store.votes import resolve
from viscause_gui.gui.panels.labelling import LabellingPanel
from viscause_gui.gui.state import AppState
from viscause_gui.gui.workers import WorkerPool


def ten_outcomes(n: int = 100, names: tuple[str, ...] | None = None) -> Dataset:
    """8x8 images whose row and column say which of ten outcomes was seen (t = 0..9)."""
    t = np.arange(n) % 10
    images = np.zeros((n, 8, 8), np.float32)
    for i in range(n):
        images[i, t[i] % 8, :] = 1
        images[i, :, t[i] // 8 + i % 3] = 1
    meta = {} if names is None else {"outcomes": list(names)}
    return Dataset(images=images, t=t, obs_class=t, meta=meta, name="ten")


def waiting_batch(state: AppState):
    """The experiment's Algorithm 1 batch (one image per observational class: ten) in the queue."""
    exp = Experiment(state.dataset, ExperimentConfig(iterations=1, queries=4, epochs=1, retrain_epochs=1,
                                                     representatives=1))
    batch = next(exp.steps())
    state.set_experiment(exp)
    state.queue.add(batch)
    return exp, batch


def panel_on(qtbot, state: AppState, path) -> LabellingPanel:
    panel = LabellingPanel(state, WorkerPool())
    qtbot.addWidget(panel)
    panel.set_journal(Journal(path, outcomes=panel.session.journal_outcomes()))
    panel.show()
    panel.setFocus()
    return panel


def press(qtbot, panel, key) -> None:
    if isinstance(key, str):
        qtbot.keyClicks(panel, key)
    else:
        qtbot.keyClick(panel, key)


def test_ten_outcomes_answered_by_keys_undone_reviewed_reopened_and_handed_to_the_experiment(qtbot, tmp_path):
    state = AppState()
    state.set_dataset(ten_outcomes())
    _exp, batch = waiting_batch(state)
    path = tmp_path / "a.journal.jsonl"
    panel = panel_on(qtbot, state, path)
    assert len(batch) == 10 and panel.progress.text() == "0 / 10 answered"
    # one key per outcome on the panel, and a button per outcome (name and key), '?' too
    shown = plain(panel.question.text())
    assert all(f"{d} = {d}" in shown for d in range(10)) and "? = cannot say" in shown
    buttons = panel.outcome_buttons.buttons
    assert [b.text() for b in buttons] == [f"{d}  [{d}]" for d in range(10)] and panel.outcome_buttons.isVisible()
    # the first six images from the keyboard: 7, 3, ?, then 5 undone and answered 8
    for k in ("7", "3", "?", "5"):
        press(qtbot, panel, k)
    assert panel.progress.text() == "4 / 10 answered"
    press(qtbot, panel, Qt.Key.Key_Backspace)
    assert panel.current() == (batch, 3) and panel.answer_label.text() == "not answered yet"
    press(qtbot, panel, "8")
    qtbot.mouseClick(buttons[2], Qt.MouseButton.LeftButton)          # image 4 by its button: outcome 2
    assert panel.current() == (batch, 5) and panel.progress.text() == "5 / 10 answered"
    # review: back to image 3 shows the outcome given, its button checked; a key changes it
    press(qtbot, panel, Qt.Key.Key_Left)
    press(qtbot, panel, Qt.Key.Key_Left)
    assert panel.current() == (batch, 3) and panel.answer_label.text() == "your answer: 8 [8]"
    assert [b.isChecked() for b in buttons] == [d == 8 for d in range(10)]
    press(qtbot, panel, "9")                          # changed: 9 from now on; on to the first open image
    assert panel.current() == (batch, 5)
    for _ in range(3):
        press(qtbot, panel, Qt.Key.Key_Left)
    assert panel.current() == (batch, 2) and panel.answer_label.text() == "your answer: ?"
    assert panel.outcome_buttons.unknown.isChecked() and not any(b.isChecked() for b in buttons)
    records = read_journal(path)
    assert records.header["version"] == 2 and records.header["outcomes"] == [str(d) for d in range(10)]
    in_force = {r.index: r.value for r in resolve(records.records).values()}
    assert {i: (None if math.isnan(v) else v) for i, v in in_force.items()} == {0: 7, 1: 3, 2: None, 3: 9, 4: 2}

    # the app goes; a new one reopens the journal: the answers are back, the rest by keys
    panel.close_journal()
    state2 = AppState()
    state2.set_dataset(state.dataset)
    exp2, batch2 = waiting_batch(state2)
    panel2 = panel_on(qtbot, state2, path)
    assert panel2.progress.text() == "5 / 10 answered" and panel2.answer_label.text() == "your answer: 7 [7]"
    press(qtbot, panel2, "s")                                         # on to the first image still open
    assert panel2.current() == (batch2, 5)
    for k in ("0", "1", "6", "4", "5"):
        press(qtbot, panel2, k)
    # Algorithm 1 wants an answer for each observational class: image 2's '?' is refused, and says so
    assert batch2.answers is None and "classes [2] got no answer" in panel2.status.text()
    while panel2.current() != (batch2, 2):
        press(qtbot, panel2, Qt.Key.Key_Left)
    assert panel2.answer_label.text() == "your answer: ?"
    press(qtbot, panel2, "2")
    # every image answered: the experiment has one (B, K) row per image, one-hot where an outcome was given
    assert batch2.answers is not None and batch2.answers.shape == (10, 10), panel2.status.text()
    given = [7, 3, 2, 9, 2, 0, 1, 6, 4, 5]
    for row, g in zip(batch2.answers, given):
        if g is None:
            assert np.isnan(row).all()
        else:
            assert row.tolist() == np.eye(10)[g].tolist()
    assert exp2.pending is not batch2


@pytest.mark.parametrize("names,keys", [
    (("left", "up", "right"), ("l", "u", "r")),
    (("square", "circle", "triangle"), ("0", "1", "2")),                # s skips: the digits instead
    (("1", "2", "3", "4", "5"), ("1", "2", "3", "4", "5")),             # a rating: its own digits
    (tuple(f"c{i}" for i in range(12)), (*"0123456789", "a", "b")),    # > 10, first letters alike
])
def test_the_keys_of_named_outcomes(names, keys):
    assert outcome_keys(names) == keys


def test_named_outcomes_answer_by_their_first_letters_and_a_binary_t_keeps_yes_and_no(qtbot, tmp_path):
    state = AppState()
    state.set_dataset(ten_outcomes(30, tuple(f"{w}" for w in ("alpha", "bravo", "charlie", "delta", "echo",
                                                              "foxtrot", "golf", "hotel", "india", "juliet"))))
    _exp, batch = waiting_batch(state)
    panel = panel_on(qtbot, state, tmp_path / "n.journal.jsonl")
    assert "c = charlie" in plain(panel.question.text()) and panel.outcome_buttons.buttons[2].text() == "charlie  [c]"
    press(qtbot, panel, "C")                                           # upper case too
    press(qtbot, panel, "y")                                           # no outcome's key: nothing happens
    assert panel.current() == (batch, 1)
    assert [r.value for r in panel.records()] == [2.0] and panel.records()[0].label == "c"
    binary = AppState()
    binary.set_dataset(Dataset(images=np.zeros((4, 8, 8), np.float32), t=np.array([0, 1, 0, 1])))
    other = panel_on(qtbot, binary, tmp_path / "b.journal.jsonl")
    assert not other.outcome_buttons.isVisible() and "1/y&nbsp;=&nbsp;yes" in other.question.text()
    assert other.journal.header["version"] == 1


def plain(rich: str) -> str:
    """A label's rich text as a person reads it."""
    from PySide6.QtGui import QTextDocument

    document = QTextDocument()
    document.setHtml(rich)
    return document.toPlainText()
