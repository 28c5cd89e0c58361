"""Autosaver.maybe_save_in_background: the session is taken at the call, written in the autosave
thread; whatever touches the file afterwards waits for that write."""
from __future__ import annotations

import threading

import pytest

from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.store import session_writer
from viscause_gui.core.store.journal import AnswerRecord
from viscause_gui.core.store.session import SessionData, SessionError
from viscause_gui.core.store.session_reader import load_session
from viscause_gui.core.store.session_writer import Autosaver


def answer(i: int) -> AnswerRecord:
    return AnswerRecord(type="answer", id=f"a{i}", seq=i, annotator="web:1", time="2026-01-01T00:00:00Z",
                        batch="manual:1", index=i, value=1.0)


@pytest.fixture
def held_write(monkeypatch):
    """The autosave thread's writes wait for `release` (set it to let them go)."""
    release, real_write = threading.Event(), session_writer.atomic_write

    def write(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            assert release.wait(10)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(session_writer, "atomic_write", write)
    return release


def test_the_session_is_taken_at_the_call(tmp_path, held_write):
    session = SessionData(dataset=GratingModel().sample(50, 0), answers=[answer(0)], settings={"k": 5})
    saver = Autosaver(tmp_path / "s.vcsession", interval_s=0)
    saver.mark_dirty()
    writing = saver.maybe_save_in_background(session)
    session.settings["k"] = 9                      # the window goes on while the write waits
    session.answers.append(answer(1))
    assert not writing.done()
    held_write.set()
    assert writing.result(10) == saver.path
    back = load_session(saver.path)
    assert back.settings["k"] == 5 and [r.id for r in back.answers] == ["a0"]


def test_a_later_save_waits_for_the_write_in_flight_and_wins(tmp_path, held_write):
    data = GratingModel().sample(50, 0)
    saver = Autosaver(tmp_path / "s.vcsession", interval_s=0)
    saver.maybe_save_in_background(SessionData(dataset=data, answers=[answer(0)]), force=True)
    threading.Timer(0.2, held_write.set).start()
    saver.maybe_save(SessionData(dataset=data, answers=[answer(0), answer(1)]), force=True)
    assert [r.id for r in load_session(saver.path).answers] == ["a0", "a1"]


def test_a_session_that_cannot_be_saved_fails_at_the_call(tmp_path):
    saver = Autosaver(tmp_path / "s.vcsession", interval_s=0)
    session = SessionData(dataset=GratingModel().sample(20, 0), settings={"nan": float("nan")})
    with pytest.raises(SessionError):
        saver.maybe_save_in_background(session, force=True)
    assert not saver.path.exists()
