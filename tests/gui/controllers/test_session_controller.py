"""Issue 4: sessions in the main window: save / open, corrupt files, recovery, exports."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from viscause_gui.core.experiments.grating import GratingModel, has_hbar
from viscause_gui.core.store.journal import read_journal
from viscause_gui.core.store.session import autosave_path, journal_path
from viscause_gui.core.store.session_reader import load_session
from viscause_gui.gui.main_window import MainWindow
from viscause_gui.gui.widgets.dialogs import QtDialogs

TIMEOUT = 30000


def make_window(qtbot, settings) -> MainWindow:
    window = MainWindow(settings=settings, load_default=False)
    window.messages = []
    window.show_message = lambda level, title, text: window.messages.append((level, title, text))
    qtbot.addWidget(window)
    return window


def start_human_run(qtbot, window: MainWindow) -> None:
    gm = GratingModel()
    window.state.set_dataset(gm.sample(300, 0))
    lp = window.panels["learning"]
    lp.queries_spin.setValue(6)
    lp.epochs_spin.setValue(2)
    lp.retrain_spin.setValue(2)
    lp.iterations_spin.setValue(1)
    lp.oracle_combo.setCurrentIndex(lp.oracle_combo.findData("human"))
    with qtbot.waitSignal(lp.run_finished, timeout=TIMEOUT) as blocker:
        lp.buttons["step"].click()
    assert blocker.args == ["human"]


def answer(qtbot, window: MainWindow, n: int) -> None:
    panel = window.panels["labelling"]
    for _ in range(n):
        batch, i = panel.current()
        qtbot.keyClicks(panel, "y" if has_hbar(batch.images[i]) else "n")


@pytest.fixture(autouse=True)
def _no_blocking_question(monkeypatch):
    """The window's Yes / No questions (recover?, reuse?) are declined unless a test says so."""
    monkeypatch.setattr(QtDialogs, "ask", lambda self, title, text, default=True: False)


@pytest.fixture
def window(qtbot, settings):
    return make_window(qtbot, settings)


def test_file_menu_has_session_actions(window):
    assert window.actions["save_session"].shortcut().toString() == "Ctrl+S"
    assert window.actions["save_session_as"].shortcut().toString() == "Ctrl+Shift+S"
    for key in ("open_session", "export_answers", "export_causal", "export_plots"):
        assert window.actions[key].toolTip()
    assert "labelling" in window.panels


@pytest.mark.slow
def test_save_and_open_round_trip(qtbot, settings, tmp_path, window):
    start_human_run(qtbot, window)
    answer(qtbot, window, 3)
    path = tmp_path / "s.vcsession"
    assert window.session.save_to(path), window.messages
    assert path.exists() and journal_path(path).exists()
    saved = load_session(path)
    assert len(saved.answers) == 3 and saved.experiment.pending is not None
    answer(qtbot, window, 2)                   # after the save: only in the journal
    window.panels["labelling"].journal.close()
    window.close()

    other = make_window(qtbot, settings)
    assert other.session.open(path), other.messages
    panel = other.panels["labelling"]
    assert panel.progress.text() == "5 / 20 answered"
    assert other.state.queue[0] is other.panels["learning"].experiment.pending
    lp = other.panels["learning"]
    with qtbot.waitSignal(lp.run_finished, timeout=TIMEOUT) as blocker:
        answer(qtbot, other, 15)               # the loop goes on after the reopened batch
    assert blocker.args == ["human"] and other.state.queue[0].kind == "algorithm2"
    # exports
    csv_path = tmp_path / "answers.csv"
    assert other.session.exports.answers(csv_path)
    with open(csv_path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 20 and all(r["status"] == "final" for r in rows)
    assert other.session.exports.causal(tmp_path / "causal.npz")
    with np.load(tmp_path / "causal.npz") as z:
        assert len(z["images"]) == 300 and set(np.unique(z["causal_class"])) <= {0, 1}
    pngs = other.session.exports.plots(tmp_path / "plots.png")
    assert [p.name for p in pngs] == ["plots-loss.png", "plots-merr.png", "plots-mdist.png"]
    assert all(p.stat().st_size > 0 for p in pngs)
    assert not other.messages


def test_corrupt_session_gives_one_message_and_changes_nothing(qtbot, window, tmp_path):
    gm = GratingModel()
    window.state.set_dataset(gm.sample(50, 0))
    ds = window.state.dataset
    bad = tmp_path / "bad.vcsession"
    for raw in (b"PK\x03\x04 not really a zip", b"hello", b""):
        window.messages.clear()
        bad.write_bytes(raw)
        assert not window.session.open(bad)
        assert len(window.messages) == 1 and window.messages[0][0] == "warning"
        assert window.state.dataset is ds and window.session.path is None


@pytest.mark.slow
def test_recovery_is_offered_and_replayed(qtbot, settings, monkeypatch):
    first = make_window(qtbot, settings)
    start_human_run(qtbot, first)
    answer(qtbot, first, 19)                      # never saved by hand
    pending = first.state.queue[0]
    # a kill: no save, no close; the process' journal lock goes with it
    first.panels["labelling"].journal.close()
    first.session.timer.stop()
    first.session.files.autosaver.dirty = False
    first.session.close = lambda: None

    asked = []
    monkeypatch.setattr(QtDialogs, "ask", lambda self, title, text, default=True: asked.append(text) or True)
    second = make_window(qtbot, settings)
    assert len(asked) == 1 and "19 answer(s) in all (19 of them from the answer journal" in asked[0]
    assert "recovered the session with 19 answer(s)" in second.statusBar().currentMessage()
    lp = second.panels["learning"]                # every setting and the loss curve come back
    assert (lp.queries_spin.value(), lp.epochs_spin.value(), lp.retrain_spin.value(),
            lp.iterations_spin.value()) == (6, 2, 2, 1)
    panel = second.panels["labelling"]
    assert panel.progress.text() == "19 / 20 answered"
    batch = second.state.queue[0]
    assert np.array_equal(batch.images, pending.images)
    with qtbot.waitSignal(lp.run_finished, timeout=TIMEOUT) as blocker:
        answer(qtbot, second, 1)
    assert blocker.args == ["human"] and second.state.queue[0].kind == "algorithm2"


def test_declined_recovery_keeps_the_files_aside(qtbot, settings, monkeypatch):
    first = make_window(qtbot, settings)
    start_human_run(qtbot, first)
    answer(qtbot, first, 2)
    first.panels["labelling"].journal.close()
    first.session.timer.stop()
    first.session.close = lambda: None
    monkeypatch.setattr(QtDialogs, "ask", lambda self, title, text, default=True: False)
    second = make_window(qtbot, settings)
    assert second.state.dataset is None and not second.state.queue
    folder = second.session.files.recovery_dir
    olds = [p.name for p in folder.iterdir() if p.name.endswith(".old")]
    assert any("journal" in n for n in olds) and any("autosave" in n for n in olds)
    assert not read_journal(journal_path(second.session.files.session_file())).records


def test_autosave_when_dirty(qtbot, window):
    start_human_run(qtbot, window)
    auto = autosave_path(window.session.files.session_file())
    assert auto.exists()                          # written as soon as the batch arrived
    auto.unlink()
    answer(qtbot, window, 1)
    assert window.session.files.autosaver.dirty
    window.session.files.autosaver.interval_s = 0
    window.session.life.autosave_if_due()
    window.session.files.autosaver.wait()               # written in the autosave thread
    assert auto.exists() and len(load_session(auto).answers) == 1


def test_answer_keys_win_over_the_window_shortcuts(qtbot, window):
    from viscause_gui.core.method.experiment import QueryBatch
    gm = GratingModel()
    window.state.set_dataset(gm.sample(50, 0))
    window.show()
    qtbot.waitExposed(window)
    images = window.state.dataset.images[:3].astype(np.float32)
    window.state.queue.add(QueryBatch("manual", 1, images, np.arange(3)))
    panel = window.panels["labelling"]
    before = window.canvas.drawing.image.copy() if hasattr(window.canvas, "drawing") else None
    qtbot.keyClicks(panel, "n")                       # N is also the canvas' Noise shortcut
    from PySide6.QtCore import Qt
    qtbot.keyClick(panel, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)   # and Ctrl+Z its undo
    kinds = [r.type for r in panel.records()]
    assert kinds == ["answer", "undo"]
    if before is not None:
        assert np.array_equal(window.canvas.drawing.image, before)


@pytest.mark.slow
def test_a_saved_session_brings_back_the_run_settings_and_the_loss_curve(qtbot, settings, tmp_path):
    first = make_window(qtbot, settings)
    first.state.set_dataset(GratingModel().sample(300, 0))
    lp = first.panels["learning"]
    for spin, value in ((lp.queries_spin, 7), (lp.epochs_spin, 3), (lp.retrain_spin, 2), (lp.iterations_spin, 4)):
        spin.setValue(value)
    lp.alpha_spin.setValue(0.35)
    lp.oracle_combo.setCurrentIndex(lp.oracle_combo.findData("truth"))
    with qtbot.waitSignal(lp.run_finished, timeout=TIMEOUT):
        lp.buttons["step"].click()
    losses = list(lp.train_losses)
    assert len(losses) >= 3
    assert first.session.save_to(tmp_path / "s.vcsession")
    second = make_window(qtbot, settings)
    assert second.session.open(tmp_path / "s.vcsession")
    lp2 = second.panels["learning"]
    assert (lp2.queries_spin.value(), lp2.epochs_spin.value(), lp2.retrain_spin.value(),
            lp2.iterations_spin.value(), lp2.alpha_spin.value()) == (7, 3, 2, 4, 0.35)
    assert lp2.train_losses == losses and list(lp2.charts.train_curve.getData()[1]) == losses
