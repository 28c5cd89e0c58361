"""Issue 24: answering over K > 2 outcomes without widgets: the answer session takes T's outcomes from the
experiment (the data set's before one), journals outcome indices in a version-2 journal, counts (B, K)
shares with several annotators, hands one-hot rows on as indices; the share's vote rule over K; earlier
answers are offered only from journals of the same outcomes."""
from __future__ import annotations

import numpy as np

from tests.gui.panels.test_labelling_outcomes import ten_outcomes
from viscause_gui.core.method.experiment import MANUAL, QueryBatch
from viscause_gui.core.share.consensus import VoteRule
from viscause_gui.core.store.journal import Journal
from viscause_gui.gui.models.answer_session import AnswerSession, handed_on
from viscause_gui.gui.state import OracleQueue

from .session_kit import start
from .test_answer_session import MockView

NAMES = ("left", "up", "right")


class Exp:
    """What the answer session asks of an experiment here: its outcomes."""

    outcomes = NAMES


def _session(tmp_path, n=3):
    queue, view, experiment = OracleQueue(), MockView(), Exp()
    batch = QueryBatch(MANUAL, 0, np.random.default_rng(0).random((n, 4, 4)).astype(np.float32), np.arange(n))
    queue.add(batch)
    session = AnswerSession(queue, lambda: experiment, view)
    session.set_journal(Journal(tmp_path / "k.journal.jsonl", outcomes=session.journal_outcomes()))
    return session, queue, batch, view


def test_outcomes_come_from_the_experiment_else_the_data_set_else_a_binary_t():
    queue, view = OracleQueue(), MockView()
    assert AnswerSession(queue, lambda: Exp(), view).outcomes() == NAMES
    data = AnswerSession(queue, lambda: None, view, data_outcomes=lambda: ("a", "b", "c", "d"))
    assert data.n_outcomes == 4 and data.journal_outcomes() == ("a", "b", "c", "d")
    binary = AnswerSession(queue, lambda: None, view)
    assert binary.outcomes() == ("0", "1") and binary.journal_outcomes() is None
    assert binary.journal.header["version"] == 1 and data.journal.header["outcomes"] == ["a", "b", "c", "d"]


def test_outcome_indices_are_journalled_and_the_batch_goes_on_as_indices(tmp_path):
    session, _queue, batch, view = _session(tmp_path)
    session.answer(2.0, "r")
    session.answer(None, "?")
    assert session.batch_state(batch)[0].shape == (3, 3)
    assert session.answer(3.0) is None and view.errors[-1].startswith("The answer was NOT saved")   # no outcome 3
    session.answer(0.0, "l")
    assert view.handed == [batch] and np.array_equal(batch.answers, [2.0, np.nan, 0.0], equal_nan=True)
    assert [r.value for r in session.journal.records][::2] == [2.0, 0.0]


def test_two_annotators_who_disagree_give_shares_and_the_share_rule_combines_over_k(tmp_path):
    session, _queue, batch, _view = _session(tmp_path, n=1)
    session.needed = 2
    session.answer(1.0)
    session.answer(2.0)
    value, disagreement, n, _ = session.batch_state(batch)
    assert value.tolist() == [[0.0, 0.5, 0.5]] and n.tolist() == [2] and disagreement[0] > 0
    assert handed_on(value) is not None and np.array_equal(handed_on(value), value)    # mixed: rows stay rows
    assert np.array_equal(handed_on(np.array([[0, 1, 0], [np.nan] * 3])), [1.0, np.nan], equal_nan=True)
    assert np.array_equal(handed_on(np.array([1.0, 0.0])), [1.0, 0.0])                  # binary: as it is


def test_the_share_combines_k_outcomes_by_majority_or_by_each_outcomes_share(qtbot, tmp_path):
    from viscause_gui.gui.controllers.share import ShareController
    from viscause_gui.gui.models.dialogs import ScriptedDialogs
    from viscause_gui.gui.state import AppState

    session, _queue, batch, _view = _session(tmp_path, n=2)
    for i, v in ((0, 2.0), (0, 2.0), (0, 1.0), (1, 0.0), (1, 1.0)):
        session.journal.answer(batch, i, v, annotator=f"web:{len(session.journal.records)}")
    share = ShareController(AppState(), session, _Hook(), ScriptedDialogs())
    records = session.records()
    assert np.array_equal(share._combine(batch, records), [2.0, np.nan], equal_nan=True)   # an even split: '?'
    share.rule = VoteRule(method="mean")
    assert np.allclose(share._combine(batch, records), [[0, 1 / 3, 2 / 3], [0.5, 0.5, 0]])


class _Hook:
    def connect(self, slot) -> None: ...


def test_earlier_answers_are_offered_only_from_journals_of_the_same_outcomes(tmp_path):
    app = start(tmp_path, data=ten_outcomes(), answers=[True])
    app.wait_for_answers()
    batch = app.state.queue.waiting()[0]
    for name, outcomes, value in (("ten", tuple(str(d) for d in range(10)), 7.0), ("binary", None, 1.0)):
        with Journal(app.files.recovery_dir / f"{name}.vcsession.journal.jsonl", f"{name}-session",
                     outcomes=outcomes, annotator=name) as j:
            for i in range(3):
                j.answer(batch, i, value, image=batch.images[i])
    app.run_later()
    assert len(app.dialogs.asked) == 1
    reused = app.answers.records()                 # (the set's images repeat: an answer may fit several)
    assert reused and {r.value for r in reused} == {7.0}
    assert all(r.reused_from.startswith("ten-session:") for r in reused)


def test_a_manual_batch_answered_by_outcome_joins_the_causal_data_by_its_class(tmp_path):
    """The answer session hands a manual batch on as outcome indices; the run gives the experiment one
    distribution per image (the indices read as rows of K made the wrong classes)."""
    from tests.controllers.test_run_answers import MockState
    from tests.controllers.test_run_answers import MockView as RunView
    from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
    from viscause_gui.gui.controllers.run_answers import RunAnswers
    from viscause_gui.gui.controllers.run_progress import RunProgress

    exp = Experiment(ten_outcomes(), ExperimentConfig(queries=4, representatives=1))
    first = next(exp.steps())
    exp.answer(exp.data.t[first.source_index].astype(float))          # each class's own outcome
    assert exp.causal_levels is not None and exp.n_outcomes == 10
    view = RunView()
    run = RunAnswers(MockState(), view, RunProgress(view))
    manual = QueryBatch(MANUAL, 1, exp.data.images[:3], np.arange(3))
    run.state.queue.add(manual)
    session = AnswerSession(run.state.queue, lambda: exp, MockView())
    session.set_journal(Journal(tmp_path / "m.journal.jsonl", outcomes=session.journal_outcomes()))
    for v in (3.0, None, 7.0):
        session.answer(v)
    assert np.array_equal(manual.answers, [3.0, np.nan, 7.0], equal_nan=True)
    before = len(exp.query_labels)
    run.apply_manual(exp)
    levels = exp.learned_levels[exp.query_labels[before:]]
    assert levels.argmax(axis=1).tolist() == [3, 7] and view.status[-1].startswith("2 answered image(s)")
