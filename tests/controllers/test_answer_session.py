"""Answering the oracle queue (gui.models.answer_session) with a mock view, no Qt widgets: the journal
first, several answers per image, undo, the vote rule, a batch handed on when complete."""
from __future__ import annotations

import numpy as np

from viscause_gui.core.method.experiment import MANUAL, QueryBatch
from viscause_gui.core.store.journal import Journal
from viscause_gui.gui.models.answer_session import AnswerSession
from viscause_gui.gui.state import OracleQueue


class MockView:
    def __init__(self) -> None:
        self.shown, self.status, self.errors, self.written, self.handed = 0, [], [], [], []

    def show_current(self): self.shown += 1
    def show_status(self, text): self.status.append(text)
    def show_error(self, text): self.errors.append(text)
    def record_written(self, record): self.written.append(record)
    def submitted(self, batch): self.handed.append(batch)


def _session(tmp_path, n=3):
    queue, view = OracleQueue(), MockView()
    batch = QueryBatch(MANUAL, 0, np.random.default_rng(0).random((n, 4, 4)).astype(np.float32), np.arange(n))
    queue.add(batch)
    session = AnswerSession(queue, lambda: None, view)
    session.set_journal(Journal(tmp_path / "a.journal.jsonl", annotator="user"))
    return session, queue, batch, view


def test_each_answer_is_journalled_then_the_next_open_image_shows(tmp_path):
    session, queue, batch, view = _session(tmp_path)
    assert session.current() == (batch, 0)
    record = session.answer(1.0, "y")
    assert session.journal.records[-1] is record and view.written == [record]
    assert session.current() == (batch, 1) and session.answered_count() == (1, 3)
    session.answer(0.0, "n")
    session.answer(None, "?")                      # the last one: the batch goes to the queue's answer
    assert view.handed == [batch] and np.isnan(batch.answers[2]) and batch.answers[:2].tolist() == [1.0, 0.0]
    assert queue.answered_manual() == [batch]


def test_k_answers_per_image_come_from_annotators_user_and_user_2_and_combine_by_the_rule(tmp_path):
    session, _queue, batch, view = _session(tmp_path, n=1)
    session.needed = 2
    session.combine = lambda b, records: np.full(len(b), 0.5)
    session.answer(1.0)
    assert view.handed == [] and [r.annotator for r in session.records()] == ["user"]
    session.answer(0.0)
    assert [r.annotator for r in session.records()] == ["user", "user#2"]
    assert view.handed == [batch] and batch.answers.tolist() == [0.5]


def test_undo_takes_back_the_last_answer_and_shows_its_image(tmp_path):
    session, _queue, batch, view = _session(tmp_path)
    session.answer(1.0)
    session.answer(0.0)
    undone = session.undo()
    assert undone.type == "undo" and session.current() == (batch, 1) and view.status[-1] == "Undone."
    assert session.batch_state(batch)[2].tolist() == [1, 0, 0]
    session.undo()
    session.undo()
    assert view.status[-1] == "Nothing to undo."


def test_an_answer_the_journal_refuses_is_not_counted_and_says_so(tmp_path):
    session, _queue, batch, view = _session(tmp_path)
    assert session.answer(2.5) is None             # not a probability: the journal refuses it
    assert view.errors and view.errors[-1].startswith("The answer was NOT saved")
    assert session.current() == (batch, 0) and session.answered_count() == (0, 3)


def test_answers_written_by_someone_else_count_once_refreshed(tmp_path):
    """The share server writes web answers to the same journal: a refresh picks them up."""
    session, _queue, batch, _view = _session(tmp_path)
    session.journal.answer("manual:0", 0, 1.0, annotator="web:ann")
    session.refresh()
    assert session.answered_count() == (1, 3) and session.batch_state(batch)[0][0] == 1.0
    assert session.current() == (batch, 0)         # the image on screen stays, now with the web's answer
