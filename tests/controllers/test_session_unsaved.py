"""Unsaved work is never dropped without asking (controllers.session_life, no window): Save / Discard /
Cancel before another data set, a session or a quit ends the session; Cancel keeps everything, Save
saves (a cancelled Save as keeps everything too), Discard leaves nothing to recover but deletes no
answer, and with no one to ask the work is kept for the next start."""
from __future__ import annotations

from viscause_gui.core.store.journal import read_journal
from viscause_gui.core.store.session import autosave_path, journal_path
from viscause_gui.core.store.session_reader import load_session
from viscause_gui.gui.models.dialogs import Choice

from .session_kit import grating, start


def with_work(tmp_path, **kw):
    app = start(tmp_path, **kw)
    app.wait_for_answers()
    app.answer(3)
    assert app.life.has_unsaved_work()
    return app


def leave(app) -> None:
    """What the window does once the action may go on: another data set opens."""
    app.state.set_dataset(grating(40, 1))


def olds(app) -> list[str]:
    return sorted(p.name for p in app.files.recovery_dir.iterdir() if p.name.endswith(".old"))


def test_nothing_to_lose_is_not_asked(tmp_path):
    app = start(tmp_path)
    assert app.life.may_drop_work("Quit") and app.life.confirm_new_experiment(None)
    assert app.dialogs.asked == [] and app.files.leaving == "clean"


def test_the_question_names_the_action_and_the_work(tmp_path):
    app = with_work(tmp_path, answers=[Choice.CANCEL])
    app.life.may_drop_work("Open another data set")
    [(title, text)] = app.dialogs.asked
    assert title == "Open another data set"
    assert "never saved: an experiment waiting for answers to Algorithm 1 and 3 answer(s)" in text
    assert "an autosave keeps it only against a crash" in text


def test_cancel_keeps_everything(tmp_path):
    app = with_work(tmp_path, answers=[Choice.CANCEL])
    session_id, exp = app.files.session_id, app.state.experiment
    assert not app.life.may_drop_work("Open another data set")
    assert (app.files.session_id, app.state.experiment) == (session_id, exp)
    assert app.life.has_unsaved_work() and app.answers.answered_count() == (3, 20) and not app.dialogs.messages


def test_discard_leaves_nothing_to_recover_and_deletes_no_answer(tmp_path):
    app = with_work(tmp_path, answers=[Choice.DISCARD])
    app.life.autosave(force=True)
    untitled = app.files.session_file()
    assert autosave_path(untitled).exists()
    assert app.life.may_drop_work("Open another data set")
    leave(app)
    assert not autosave_path(untitled).exists() and not journal_path(untitled).exists()
    [kept] = [n for n in olds(app) if n.startswith(journal_path(untitled).name)]
    assert len(read_journal(app.files.recovery_dir / kept).records) == 3       # set aside, never deleted
    again = start(tmp_path, settings=app.settings)
    assert again.dialogs.asked == [] and not again.dialogs.messages


def test_save_saves_and_the_next_start_asks_nothing(tmp_path):
    app = with_work(tmp_path, answers=[Choice.SAVE], paths=[str(tmp_path / "kept.vcsession")])
    assert app.life.may_drop_work("Quit")
    saved = load_session(tmp_path / "kept.vcsession")
    assert len(saved.answers) == 3 and saved.experiment is not None
    app.life.close()
    again = start(tmp_path, settings=app.settings)
    assert again.dialogs.asked == [] and not again.dialogs.messages


def test_save_with_the_file_chooser_cancelled_drops_nothing(tmp_path):
    app = with_work(tmp_path, answers=[Choice.SAVE], paths=[None])
    assert not app.life.may_drop_work("Quit")
    assert app.life.has_unsaved_work() and app.files.path is None and app.answers.answered_count() == (3, 20)
    assert not app.dialogs.messages


def test_with_no_one_to_ask_the_action_goes_on_and_the_work_is_kept_for_the_next_start(tmp_path):
    app = with_work(tmp_path)                     # ScriptedDialogs with no answers: UNANSWERED
    assert app.life.may_drop_work("Quit")
    app.life.close()
    auto = autosave_path(app.files.session_file())
    assert auto.exists() and len(load_session(auto).answers) == 3
    again = start(tmp_path, settings=app.settings, answers=[True])
    assert [t for t, _ in again.dialogs.asked] == ["Recover the session?"]
    assert again.answers.answered_count() == (3, 20) and again.life.has_unsaved_work()


def test_a_new_experiment_over_unsaved_work_asks(tmp_path):
    app = with_work(tmp_path, answers=[Choice.CANCEL, Choice.DISCARD])
    assert not app.life.confirm_new_experiment(app.state.experiment)
    assert app.life.confirm_new_experiment(app.state.experiment)
    assert [t for t, _ in app.dialogs.asked] == ["Start a new experiment"] * 2
    assert "A new experiment replaces the current one." in app.dialogs.asked[0][1]
    assert app.life.confirm_new_experiment(app.state.experiment)      # unanswered: the run goes on
    assert app.life.save_to(tmp_path / "s.vcsession")
    asked = len(app.dialogs.asked)
    assert app.life.confirm_new_experiment(app.state.experiment) and len(app.dialogs.asked) == asked   # saved
