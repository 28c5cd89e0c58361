"""Issue 4: the keyboard-driven oracle panel (journal first, then the loop goes on)."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.experiment import QueryBatch
from viscause_gui.core.experiments.grating import GratingModel, has_hbar
from viscause_gui.core.store.journal import Journal, read_journal
from viscause_gui.core.store.votes import resolve
from viscause_gui.gui.panels.labelling import LabellingPanel
from viscause_gui.gui.panels.learning import LearningPanel
from viscause_gui.gui.state import AppState
from viscause_gui.gui.workers import WorkerPool

TIMEOUT = 30000


def manual_queue(state: AppState, n: int = 4, seed: int = 0) -> QueryBatch:
    rng = np.random.default_rng(seed)
    images = (rng.random((n, 10, 10)) > 0.5).astype(np.float32)
    batch = QueryBatch("manual", 1, images, np.arange(n), originals=images[::-1].copy(),
                       targets=np.array([0, 1] * (n // 2)), p_target=np.full(n, 0.7))
    state.queue.add(batch)
    return batch


@pytest.fixture
def simple(qtbot, tmp_path):
    state = AppState()
    gm = GratingModel()
    state.set_dataset(gm.sample(50, 0))
    panel = LabellingPanel(state, WorkerPool())
    qtbot.addWidget(panel)
    panel.set_journal(Journal(tmp_path / "a.journal.jsonl"))
    panel.show()
    return state, panel


def key(qtbot, panel, k):
    if isinstance(k, str):
        qtbot.keyClicks(panel, k)
    else:
        qtbot.keyClick(panel, k)


def test_yes_no_question_skip_and_progress(qtbot, simple, tmp_path):
    state, panel = simple
    batch = manual_queue(state)
    assert panel.progress.text() == "0 / 4 answered"
    assert np.allclose(panel.shown_image(), batch.images[0])
    key(qtbot, panel, "y")
    assert panel.progress.text() == "1 / 4 answered" and panel.current()[1] == 1
    assert np.allclose(panel.shown_image(), batch.images[1])
    key(qtbot, panel, "s")                              # skip image 1
    assert panel.current()[1] == 2
    key(qtbot, panel, "0")
    key(qtbot, panel, "?")
    assert panel.current()[1] == 1                      # the skipped image comes back
    # on disk before the panel advanced: exactly what the journal says
    recs = read_journal(tmp_path / "a.journal.jsonl").records
    assert [(r.index, None if math.isnan(r.value) else r.value) for r in recs] == [(0, 1.0), (2, 0.0), (3, None)]
    key(qtbot, panel, "n")
    # manual batch fully answered: handed over with its answers
    assert batch.answers is not None
    assert np.allclose(batch.answers[:3], [1.0, 0.0, 0.0]) and math.isnan(batch.answers[3])
    assert panel.progress.text() == "0 / 0 answered" and panel.current() is None


def test_undo_and_review_with_arrows(qtbot, simple):
    state, panel = simple
    batch = manual_queue(state)
    key(qtbot, panel, "1")
    key(qtbot, panel, "1")
    assert panel.current()[1] == 2
    qtbot.keyClick(panel, Qt.Key.Key_Backspace)            # undo the answer to image 1
    assert panel.current()[1] == 1 and panel.progress.text() == "1 / 4 answered"
    qtbot.keyClick(panel, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)   # and image 0
    assert panel.current()[1] == 0 and panel.progress.text() == "0 / 4 answered"
    key(qtbot, panel, "y")
    key(qtbot, panel, "n")
    qtbot.keyClick(panel, Qt.Key.Key_Left)
    qtbot.keyClick(panel, Qt.Key.Key_Left)
    assert panel.current()[1] == 0 and "yes" in panel.answer_label.text()
    key(qtbot, panel, "n")                                  # change it
    qtbot.keyClick(panel, Qt.Key.Key_Left)
    qtbot.keyClick(panel, Qt.Key.Key_Left)
    assert panel.current()[1] == 0 and "no" in panel.answer_label.text()
    qtbot.keyClick(panel, Qt.Key.Key_Return)               # Enter keeps it
    assert panel.current()[1] == 2
    final = resolve(panel.records())
    assert {k[1]: r.value for k, r in final.items()} == {0: 0.0, 1: 0.0}
    qtbot.keyClick(panel, Qt.Key.Key_Right)
    assert panel.current()[1] == 3
    assert batch.answers is None


def test_blind_mode_hides_original_target_and_guess(qtbot, simple):
    state, panel = simple
    manual_queue(state)
    assert panel.blind.isChecked()
    assert panel.info.text() == "" and panel.original_canvas.isHidden()
    panel.blind.setChecked(False)
    assert "target class C = 0" in panel.info.text() and "0.70" in panel.info.text()
    assert not panel.original_canvas.isHidden()
    panel.blind.setChecked(True)
    assert panel.info.text() == "" and panel.original_canvas.isHidden()


def test_digit_behaviour(qtbot, tmp_path):
    state = AppState()
    rng = np.random.default_rng(0)
    state.set_dataset(Dataset(images=rng.random((10, 10, 10)).astype(np.float32),
                              labels=np.arange(10) % 10, name="digits"))
    panel = LabellingPanel(state, WorkerPool())
    qtbot.addWidget(panel)
    panel.set_journal(Journal(tmp_path / "d.journal.jsonl"))
    assert not panel.digit_mode                  # a labelled data set, but T not chosen yet
    state.set_positive_label(3)
    assert panel.digit_mode and "show a 3" in panel.question.text()
    batch = manual_queue(state, 4)
    for k in "37?y":
        key(qtbot, panel, k)
    recs = panel.records()
    assert [r.label for r in recs] == [3, 7, "?", "y"]
    assert np.allclose(batch.answers[[0, 1, 3]], [1.0, 0.0, 1.0]) and math.isnan(batch.answers[2])


def test_several_answers_per_image(qtbot, simple):
    state, panel = simple
    batch = manual_queue(state, 2)
    panel.per_image.setValue(3)
    for k in "yy" "ny" "yn":               # pass 1, pass 2, pass 3 over images 0 and 1
        key(qtbot, panel, k)
    assert np.allclose(batch.answers, [2 / 3, 2 / 3])
    annotators = {r.annotator for r in panel.records()}
    assert annotators == {"user", "user#2", "user#3"}


def test_several_answers_show_disagreement(qtbot, simple):
    state, panel = simple
    manual_queue(state, 2)
    panel.per_image.setValue(2)
    key(qtbot, panel, "yyn")                # image 0: yes, image 1: yes, image 0: no
    qtbot.keyClick(panel, Qt.Key.Key_Left)
    assert panel.current()[1] == 0
    assert "2/2 answers" in panel.answer_label.text() and "disagreement 1.00" in panel.answer_label.text()


def test_next_image_is_quick(qtbot, simple):
    state, panel = simple
    manual_queue(state, 40)
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        key(qtbot, panel, "y")
        times.append(time.perf_counter() - t0)
    assert np.median(times) < 0.2, times


def test_keys_do_not_trigger_window_shortcuts(qtbot, simple):
    from PySide6.QtGui import QAction, QKeySequence
    state, panel = simple
    manual_queue(state)
    fired = []
    action = QAction("noise", panel)
    action.setShortcut(QKeySequence("N"))
    action.triggered.connect(lambda: fired.append(1))
    panel.addAction(action)
    panel.setFocus()
    key(qtbot, panel, "n")
    assert not fired and panel.progress.text() == "1 / 4 answered"


@pytest.fixture
def loop(qtbot, tmp_path):
    gm = GratingModel()
    state, workers = AppState(), WorkerPool()
    state.set_dataset(gm.sample(500, 0))
    learning = LearningPanel(state, workers)
    qtbot.addWidget(learning)
    learning.iterations_spin.setValue(1)
    learning.queries_spin.setValue(6)
    learning.epochs_spin.setValue(2)
    learning.retrain_spin.setValue(2)
    learning.oracle_combo.setCurrentIndex(learning.oracle_combo.findData("human"))
    panel = LabellingPanel(state, workers)
    qtbot.addWidget(panel)
    panel.set_journal(Journal(tmp_path / "loop.journal.jsonl"))
    yield state, learning, panel
    workers.stop_all()


def answer_by_keys(qtbot, panel: LabellingPanel) -> int:
    n = 0
    while panel.current() is not None:
        assert n < 500
        batch, i = panel.current()
        key(qtbot, panel, "y" if has_hbar(batch.images[i]) else "n")
        n += 1
    return n


@pytest.mark.slow
def test_answered_batch_makes_the_loop_go_on(qtbot, loop, tmp_path):
    state, learning, panel = loop
    with qtbot.waitSignal(learning.run_finished, timeout=TIMEOUT) as blocker:
        learning.buttons["step"].click()
    assert blocker.args == ["human"]
    assert panel.progress.text() == "0 / 20 answered"
    with qtbot.waitSignal(learning.run_finished, timeout=TIMEOUT) as blocker:
        assert answer_by_keys(qtbot, panel) == 20
    assert blocker.args == ["human"]                  # Algorithm 1 done, trained, Algorithm 2 asks
    assert [b.kind for b in state.queue] == ["algorithm2"]
    assert panel.progress.text() == "0 / 6 answered"
    with qtbot.waitSignal(learning.run_finished, timeout=TIMEOUT) as blocker:
        answer_by_keys(qtbot, panel)
    assert blocker.args == ["goal"] and learning.metrics()[0] == [1]
    assert len([r for r in read_journal(tmp_path / "loop.journal.jsonl").records if r.is_answer]) == 26


def test_the_learning_panels_queue_answers_through_the_journal(qtbot, loop, tmp_path):
    """Yes / No in the Learning panel's queue list: journalled first, like a key press here."""
    _state, learning, panel = loop
    learning.queue.use_oracle(panel)
    with qtbot.waitSignal(learning.run_finished, timeout=TIMEOUT) as blocker:
        learning.buttons["step"].click()
    assert blocker.args == ["human"] and learning.queue.pending_count() == 20
    batch, i = learning.queue.rows[3]
    learning.queue.answer(batch, i, 1.0)
    records = read_journal(tmp_path / "loop.journal.jsonl").records
    assert [(r.index, r.value) for r in records if r.is_answer] == [(i, 1.0)]
    assert learning.queue.pending_count() == 19 and panel.progress.text() == "1 / 20 answered"
    with qtbot.waitSignal(learning.run_finished, timeout=TIMEOUT) as blocker:
        while learning.queue.rows:                    # the rest, from the list
            batch, i = learning.queue.rows[0]
            learning.queue.answer(batch, i, 1.0 if has_hbar(batch.images[i]) else 0.0)
    assert blocker.args == ["human"]                  # the batch went to Algorithm 1; Algorithm 2 asks
    answers = [r for r in read_journal(tmp_path / "loop.journal.jsonl").records if r.is_answer]
    budget = learning.experiment.config.premise_budget    # more representatives where a class's answers disagree
    assert 20 <= len(answers) <= 20 + budget and learning.queue.pending_count() == 6
