"""Save and open without a window (controllers.session_life over ScriptedDialogs and DictSettings):
the journal moves with the file, a reopened session replays the answers its file lacks, a new data
set starts a new session, and a file that cannot be saved or opened gives one message and changes
nothing."""
from __future__ import annotations

import pytest

from viscause_gui.core.store.journal import read_journal
from viscause_gui.core.store.session import autosave_path, journal_path
from viscause_gui.core.store.session_reader import load_session

from .session_kit import grating, killed, same_images, start


def test_save_as_adds_the_suffix_moves_the_journal_and_leaves_nothing_unsaved(tmp_path):
    app = start(tmp_path, paths=[str(tmp_path / "mine")])
    app.wait_for_answers()
    app.answer(3)
    untitled = app.files.session_file()
    assert untitled.parent == app.files.recovery_dir and app.life.has_unsaved_work()
    assert app.life.save()                                    # never saved: Save is Save as
    path = tmp_path / "mine.vcsession"
    assert app.files.path == path and not app.life.has_unsaved_work()
    assert len(load_session(path).answers) == 3
    assert not journal_path(untitled).exists() and not autosave_path(untitled).exists()
    app.answer(2)                                             # after the save: in the journal beside the file
    assert len(read_journal(journal_path(path)).records) == 2 and len(app.answers.records()) == 5
    assert app.dialogs.statuses[-1] == f"session saved to {path}" and not app.dialogs.messages
    assert app.settings.value("session/last_path") == str(path)
    assert app.settings.value("paths/last_folder") == str(tmp_path)


def test_a_cancelled_save_as_changes_nothing_and_says_nothing(tmp_path):
    app = start(tmp_path, paths=[None])
    app.wait_for_answers()
    app.answer(1)
    assert not app.life.save_as()
    assert app.files.path is None and app.life.has_unsaved_work() and not app.dialogs.messages


def test_a_reopened_session_replays_the_answers_its_file_lacks(tmp_path):
    first = start(tmp_path)
    first.wait_for_answers()
    first.answer(3)
    path = tmp_path / "s.vcsession"
    assert first.life.save_to(path)
    first.answer(2)                                           # only in the journal
    pending = first.state.queue[0]
    killed(first)

    other = start(tmp_path, settings=first.settings, answers=[False])
    assert [title for title, _ in other.dialogs.asked] == ["Recover the session?"]   # declined: the file
    assert other.files.path is None and other.answers.records() == []               # keeps its journal
    assert other.life.open(path)
    assert other.files.path == path and other.files.session_id == first.files.session_id
    assert other.answers.answered_count() == (5, 20) and same_images(other.state.queue[0], pending)
    assert other.state.experiment.pending is other.state.queue[0]
    assert other.life.has_unsaved_work()                      # two answers the file lacks
    assert other.dialogs.statuses[-1] == f"session opened: {path}"


@pytest.mark.parametrize("raw", [b"PK\x03\x04 not really a zip", b"hello", b""])
def test_a_file_that_cannot_be_opened_gives_one_message_and_changes_nothing(tmp_path, raw):
    app = start(tmp_path)
    app.wait_for_answers()
    app.answer(2)
    before = (app.state.dataset, app.state.experiment, app.files.session_id, app.files.session_file())
    bad = tmp_path / "bad.vcsession"
    bad.write_bytes(raw)
    assert not app.life.open(bad)
    assert len(app.dialogs.messages) == 1 and app.dialogs.messages[0][:2] == ("warning", "Could not open the session")
    assert (app.state.dataset, app.state.experiment, app.files.session_id, app.files.session_file()) == before
    assert app.answers.answered_count() == (2, 20) and app.life.has_unsaved_work()
    app.answer(1)                                             # the journal still takes answers
    assert len(read_journal(journal_path(app.files.session_file())).records) == 3


def test_a_save_that_fails_gives_one_message_and_loses_nothing(tmp_path):
    app = start(tmp_path)
    app.wait_for_answers()
    app.answer(2)
    journal = journal_path(app.files.session_file())
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    assert not app.life.save_to(not_a_folder / "s.vcsession")    # cannot be written, even by root
    assert len(app.dialogs.messages) == 1 and app.dialogs.messages[0][:2] == ("warning", "Could not save the session")
    assert app.files.path is None and app.life.has_unsaved_work() and not app.dialogs.statuses
    assert len(read_journal(journal).records) == 2            # every answer still where it was
    app.answer(1)
    assert len(read_journal(journal).records) == 3


def test_a_save_refused_by_the_session_gives_one_message(tmp_path):
    app = start(tmp_path)
    app.state.dataset = None                                   # nothing to save (no data, no experiment)
    assert not app.life.save_to(tmp_path / "s.vcsession")
    assert [m[:2] for m in app.dialogs.messages] == [("warning", "Could not save the session")]
    assert "no data" in app.dialogs.messages[0][2] and not (tmp_path / "s.vcsession").exists()


def test_a_new_data_set_starts_a_new_session_with_no_answers(tmp_path):
    app = start(tmp_path)
    app.wait_for_answers()
    app.answer(2)
    first_id, first_journal = app.files.session_id, journal_path(app.files.session_file())
    changed = []
    app.life.changed = lambda: changed.append(True)
    app.state.set_dataset(grating(40, 1))
    assert changed and app.files.session_id != first_id and app.files.path is None
    assert app.answers.records() == [] and not app.life.has_unsaved_work()
    new = app.files.session_file()
    assert new.parent == app.files.recovery_dir and new.name == f"GRATING-{app.files.session_id[:8]}.vcsession"
    # left without being asked (programmatically): its journal stays for the next start to offer
    assert len(read_journal(first_journal).records) == 2
