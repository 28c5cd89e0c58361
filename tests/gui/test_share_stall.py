"""The window's event loop while a class answers (the share load's stall, bench_share.py):
the timer's autosave writes the session in a thread, and painting the share window's tables
calls no Python code (a Python model took the interpreter lock for every cell, behind the
server's threads)."""
from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt

from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.method.experiment import QueryBatch
from viscause_gui.core.store import session_writer
from viscause_gui.core.store.session import autosave_path
from viscause_gui.core.store.session_reader import load_session
from viscause_gui.gui.main_window import MainWindow
from viscause_gui.gui.panels.share import RowsModel, _table


@pytest.fixture
def window(qtbot, settings):
    window = MainWindow(settings=settings, load_default=False)
    window.show_message = lambda *a: None
    qtbot.addWidget(window)
    gm = GratingModel()
    window.state.set_dataset(gm.sample(300, 0))
    window.state.queue.add(QueryBatch("manual", 1, gm.sample(20, 1).images, np.arange(20)))
    return window


def test_the_timers_autosave_writes_in_a_thread_and_keeps_every_answer(qtbot, window, monkeypatch):
    panel = window.panels["labelling"]
    for _ in range(7):
        qtbot.keyClicks(panel, "y")
    writers, release, gui_thread = [], threading.Event(), threading.get_ident()
    real_write = session_writer.atomic_write

    def slow_write(*args, **kwargs):          # in a thread, the write waits until the GUI thread went on
        writers.append(threading.get_ident())
        if threading.get_ident() != gui_thread:
            assert release.wait(10)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(session_writer, "atomic_write", slow_write)
    files = window.session.files
    assert files.autosaver.dirty
    files.autosaver.interval_s = 0
    window.session.life.autosave_if_due()     # returns while the write waits in its thread
    assert gui_thread not in writers and not files.autosaver.dirty
    release.set()
    files.autosaver.wait()
    assert writers
    auto = autosave_path(files.session_file())
    assert len(load_session(auto).answers) == 7


def test_a_failed_background_autosave_is_tried_again(window, monkeypatch, qtbot):
    qtbot.keyClicks(window.panels["labelling"], "n")
    real_write = session_writer.atomic_write

    def failing_write(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(session_writer, "atomic_write", failing_write)
    saver = window.session.files.autosaver
    saver.interval_s = 0
    window.session.life.autosave_if_due()
    saver.wait()
    assert saver.dirty and saver.due()
    monkeypatch.setattr(session_writer, "atomic_write", real_write)
    window.session.life.autosave_if_due()
    saver.wait()
    assert not saver.dirty and len(load_session(saver.path).answers) == 1


def test_discard_waits_for_the_write_in_flight(window, qtbot, monkeypatch):
    qtbot.keyClicks(window.panels["labelling"], "y")
    release, gui_thread = threading.Event(), threading.get_ident()
    real_write = session_writer.atomic_write

    def slow_write(*args, **kwargs):
        if threading.get_ident() != gui_thread:
            assert release.wait(10)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(session_writer, "atomic_write", slow_write)
    saver = window.session.files.autosaver
    saver.interval_s = 0
    window.session.life.autosave_if_due()
    threading.Timer(0.2, release.set).start()
    saver.discard()                            # the write lands first, then the file goes
    assert not saver.path.exists()


def python_calls_while_painting(view) -> int:
    calls = [0]

    def count(frame, event, arg):
        if event == "call":
            calls[0] += 1

    sys.setprofile(count)
    try:
        view.grab()                            # paints every visible cell (repaint() may paint nothing offscreen)
    finally:
        sys.setprofile(None)
    return calls[0]


def test_painting_the_tally_calls_no_python(qtbot):
    model = RowsModel(["batch", "image", "yes", "no", "?", "handed out", "vote"])
    model.set_rows([("manual:1", str(i), "1", "2", "0", "3", "yes") for i in range(500)])
    view = _table(model, [110, 50, 45, 45, 40, 80])
    qtbot.addWidget(view)
    view.resize(600, 500)
    view.show()
    qtbot.waitExposed(view)
    assert python_calls_while_painting(view) < 20      # a Python model: ~1,500 (each cell, each role)


def test_rows_model_sets_what_changed(qtbot):
    model = RowsModel(["a", "b"])
    model.set_rows([("1", "x"), ("2", "y")])
    changed = []
    model.dataChanged.connect(lambda first, last, roles=(): changed.append((first.row(), first.column())))
    model.set_rows([("1", "x"), ("2", "z")])
    assert changed == [(1, 1)]
    model.set_rows([("1", "x")])
    assert model.rowCount() == 1 and model.columnCount() == 2
    changed.clear()
    model.set_rows([("1", "x"), ("3", "w"), ("4", "v")])
    assert changed == []                            # new rows come whole, not a cell at a time
    texts = [[model.item(r, c).text() for c in range(2)] for r in range(model.rowCount())]
    assert texts == [["1", "x"], ["3", "w"], ["4", "v"]]
    assert model.headerData(1, Qt.Orientation.Horizontal) == "b"
    model.set_rows([])
    assert model.rowCount() == 0
