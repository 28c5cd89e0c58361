"""Recovery at start without a window (controllers.session_recovery through SessionLife): work a
killed window left is offered once, Yes brings back the batch and every journalled answer, No sets
the files aside (never deleted), no one to ask gives one message and keeps the files, and work open
in another window or holding nothing is not offered."""
from __future__ import annotations

from viscause_gui.core.store.journal import read_journal
from viscause_gui.core.store.session import SessionData, autosave_path, journal_path
from viscause_gui.core.store.session_writer import save_session

from .session_kit import killed, same_images, start


def killed_with_answers(tmp_path, n=4, **kw):
    first = start(tmp_path, **kw)
    first.wait_for_answers()                       # the batch's arrival is autosaved at once
    first.answer(n)                                # then only in the journal
    killed(first)
    return first


def titles(app) -> list[str]:
    return [title for title, _ in app.dialogs.asked]


def test_yes_recovers_the_batch_and_every_answer(tmp_path):
    first = killed_with_answers(tmp_path)
    again = start(tmp_path, settings=first.settings, answers=[True])
    [(title, text)] = again.dialogs.asked
    assert title == "Recover the session?" and "the unsaved session on GRATING" in text
    assert "4 answer(s) in all (4 of them from the answer journal" in text
    assert again.files.session_id == first.files.session_id and again.files.path is None
    assert again.files.session_file() == first.files.session_file()
    assert same_images(again.state.queue[0], first.state.queue[0])
    assert again.answers.answered_count() == (4, 20) and again.life.has_unsaved_work()
    assert again.dialogs.statuses == ["recovered the session with 4 answer(s)"] and not again.dialogs.messages
    again.answer(1)                                # the recovered journal takes the next answers
    assert len(read_journal(journal_path(again.files.session_file())).records) == 5


def test_no_sets_the_files_aside_and_is_not_asked_again(tmp_path):
    first = killed_with_answers(tmp_path)
    file = first.files.session_file()
    again = start(tmp_path, settings=first.settings, answers=[False])
    assert titles(again) == ["Recover the session?"] and again.answers.records() == []
    assert not autosave_path(file).exists() and not journal_path(file).exists()
    olds = [p for p in file.parent.iterdir() if p.name.endswith(".old")]
    assert {p.name.split(".vcsession.")[1].split(".")[0] for p in olds} == {"autosave", "journal"}
    [journal] = [p for p in olds if ".journal." in p.name]
    assert len(read_journal(journal).records) == 4                      # kept, never deleted
    third = start(tmp_path, settings=first.settings)
    assert third.dialogs.asked == [] and not third.dialogs.messages


def test_no_one_to_ask_gives_one_message_and_keeps_the_files_aside(tmp_path):
    first = killed_with_answers(tmp_path)
    file = first.files.session_file()
    again = start(tmp_path, settings=first.settings)                     # no answer: no screen
    assert [m[:2] for m in again.dialogs.messages] == [("info", "Recover the session?")]
    assert "4 answer(s)" in again.dialogs.messages[0][2]
    assert again.dialogs.messages[0][2].endswith("(not asked: no screen; the files are kept)")
    assert again.answers.records() == [] and not journal_path(file).exists()
    [journal] = [p for p in file.parent.iterdir() if p.name.startswith(journal_path(file).name + ".")]
    assert journal.name.endswith(".old") and len(read_journal(journal).records) == 4   # kept, as when declined


def test_a_saved_session_with_newer_journal_answers_is_offered(tmp_path):
    first = start(tmp_path)
    first.wait_for_answers()
    first.answer(2)
    path = tmp_path / "s.vcsession"
    assert first.life.save_to(path)
    first.answer(3)
    killed(first)
    again = start(tmp_path, settings=first.settings, answers=[True])
    [(title, text)] = again.dialogs.asked
    assert title == "Recover the session?"
    assert str(path) in text and "5 answer(s) in all (3 of them from the answer journal" in text
    assert again.files.path == path and again.answers.answered_count() == (5, 20)
    assert again.life.has_unsaved_work()


def test_work_open_in_another_window_is_not_offered(tmp_path):
    first = start(tmp_path)
    first.wait_for_answers()
    first.answer(2)                                # the first window lives on: its journal is locked
    second = start(tmp_path, settings=first.settings)
    assert second.dialogs.asked == [] and not second.dialogs.messages


def test_an_autosave_with_no_work_is_removed_without_asking(tmp_path):
    first = start(tmp_path)
    first.wait_for_answers()
    file = first.files.session_file()
    killed(first)
    # the autosave holds the experiment waiting for Algorithm 1: work (offered); make one with none
    auto = autosave_path(file)
    save_session(auto, SessionData(dataset=first.state.dataset, session_id=first.files.session_id))
    journal_path(file).unlink()
    again = start(tmp_path, settings=first.settings)
    assert again.dialogs.asked == [] and not again.dialogs.messages and not auto.exists()
