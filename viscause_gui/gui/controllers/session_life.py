"""The window's sessions, one after another (Qt-free): a new one on new data, one opened or
recovered; saved, or asked about before its work is dropped.

- A session is the work on one data set: opening another data set (or a session, or a lesson)
  ends it and starts a new one, with a new id, a journal of its own and no answers
  (`session_files`). Answers are taken only by their own session; earlier sessions' answers to
  the same images are offered (`earlier_answers`).
- Something changed (an answer, a trained model, a new batch): the session is due for an
  autosave (the window's timer calls `autosave_if_due`), and written at once when a new batch of
  queries arrives, so a recovery always has the images the journal's answers belong to.
- "Unsaved work" is what changed since the person last saved or opened the session, whatever
  the autosave did; opening another data set or session, quitting and a new run over trained
  work ask Save / Discard / Cancel (`Dialogs.ask_save`). Discard (or a save) leaves nothing to
  recover; unanswered (no screen) the work is kept as an autosave and offered at the next start
  (`session_recovery`).
- A file that cannot be saved or opened gives one message and changes nothing.

`SessionWiring` is what the window gives: the AppState, the Oracle (label) panel's AnswerSession
and the signal its answers fire, a Dialogs and the settings, the learning run, and small callables
for what is the window's own. Tests give doubles (ScriptedDialogs, DictSettings).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from viscause_gui.core.store.journal import JournalError
from viscause_gui.core.store.recovery import recover
from viscause_gui.core.store.session import SESSION_SUFFIX, SessionData, SessionError, journal_path
from viscause_gui.core.store.session_writer import save_session
from viscause_gui.gui.controllers.earlier_answers import EarlierAnswersOffer
from viscause_gui.gui.controllers.session_content import RunSource, SessionContent, SettingsPart
from viscause_gui.gui.controllers.session_exports import PlotWriters, SessionExports
from viscause_gui.gui.controllers.session_files import LAST_PATH, SESSION_FILTER, SessionFiles
from viscause_gui.gui.controllers.session_recovery import SessionRecovery
from viscause_gui.gui.models.answer_session import AnswerSession
from viscause_gui.gui.models.dialogs import Choice, Dialogs, KeyValueSettings, Level

NEW_EXPERIMENT = "Start a new experiment"


class Connectable(Protocol):
    """A signal: Qt's, or any object whose `connect` takes a callback."""

    def connect(self, slot: Callable[..., Any]) -> Any: ...


@dataclass
class SessionWiring:
    """What the window's session works with."""

    state: Any                           # gui.state.AppState: data set, experiment, oracle queue, question
    answers: AnswerSession               # the Oracle (label) panel's: the journal and every answer
    answered: Connectable                # fires with each answer or undo written (the panel's `answered`)
    dialogs: Dialogs
    settings: KeyValueSettings
    run: RunSource | None = None         # the learning run (Learning panel's RunController)
    oracles: Callable[[], tuple[str, ...]] = tuple   # the oracles a restored session may choose
    parts: Sequence[SettingsPart] = ()   # settings others keep (the Oracle panel's, the share's)
    plots: PlotWriters = field(default_factory=dict)  # name -> writes that plot as a PNG
    closing: Callable[[], bool] = lambda: False       # the window is closing
    show_answers: Callable[[], None] = lambda: None   # a new batch waits: bring the Oracle panel to the front


class SessionLife:
    """The window's session: its files, what it holds, recovery, exports, earlier answers."""

    def __init__(self, wiring: SessionWiring, *, interval_s: float = 60.0,
                 recovery_dir: str | os.PathLike | None = None, check_recovery: bool = True,
                 changed: Callable[[], None] = lambda: None,
                 later: Callable[[Callable[[], Any]], None] = lambda call: call()):
        """`changed`: another session became the window's; `later`: call this once the event that
        is being handled is done (Qt: a zero-time single shot)."""
        w = wiring
        self.state, self.answers, self.dialogs, self.settings = w.state, w.answers, w.dialogs, w.settings
        self.show_answers, self.changed, self.later = w.show_answers, changed, later
        if recovery_dir is None:
            recovery_dir = Path(w.settings.fileName()).resolve().parent / "viscause-recovery"
        self.content = SessionContent(w.state, w.answers, w.run, w.oracles, w.parts)
        self.files = SessionFiles(w.answers, w.settings, w.dialogs, recovery_dir, interval_s, self._data_name)
        self.recovery = SessionRecovery(self.files, w.dialogs)
        self.exports = SessionExports(w.answers.records, self.content.live_experiment, w.dialogs, self.files.folder,
                                      w.plots)
        self.earlier = EarlierAnswersOffer(w.state.queue, w.answers, self.files, w.dialogs, w.closing)
        self._autosaved_batches: set[int] = set()
        self._adopting = False
        w.answered.connect(lambda _record: self.mark_dirty())
        self.state.queue.changed.connect(self._queries_changed)
        self.state.model_changed.connect(self.mark_dirty)
        self.state.dataset_changed.connect(self._dataset_changed)
        if not (check_recovery and self.check_recovery()):
            self.files.open_journal()

    def _data_name(self) -> str | None:
        ds = self.state.dataset
        return None if ds is None else ds.name

    # ----- the work -----
    def current_session(self) -> SessionData:
        return self.content.take(self.files.session_id, self.files.created)

    def mark_dirty(self) -> None:
        """Something changed: due for an autosave, and not saved by the person."""
        self.files.autosaver.mark_dirty()
        if not self._adopting:
            self.files.unsaved = True

    def has_unsaved_work(self) -> bool:
        """An experiment or answers changed since the person last saved (an autosave is no save)."""
        return self.files.unsaved and self.content.has_work()

    def _queries_changed(self) -> None:
        self.mark_dirty()
        new = [b for b in self.state.queue.waiting() if id(b) not in self._autosaved_batches]
        if new:
            self.show_answers()                   # the oracle answers by keyboard at once
        if new and not self.content.running() and self.autosave(force=True):
            self._autosaved_batches.update(id(b) for b in new)
        if self.earlier.due():
            self.later(self.earlier.offer)        # after whoever queued it is done

    def autosave_if_due(self) -> None:
        """The timer's autosave: taken here, written and checked in the autosave thread (with
        thousands of answers the write took the GUI thread ~120 ms: a class sharing saw the
        window stall every minute)."""
        if self.files.autosaver.due():
            self.autosave(background=True)

    def autosave(self, force: bool = False, background: bool = False) -> bool:
        """Autosave now (when due or forced), or with `background` only take the session now and
        write it in the autosave thread; False when the state cannot be saved right now or
        there is nothing to keep (a data set alone is no work: nothing is written for it)."""
        if not self.content.has_work():
            return False
        try:
            return self.files.autosave(self.current_session(), force, background)
        except (SessionError, OSError, ValueError):
            return False

    # ----- before work is dropped -----
    def ask_unsaved(self, action: str) -> Choice:
        """Before `action` drops unsaved work: Save / Discard / Cancel, or UNANSWERED when no one
        could be asked (no screen): the action goes on and the work is kept as an autosave."""
        path = self.files.path
        where = f"in {path.name} that is not saved" if path is not None else "that was never saved"
        what = ("A new experiment replaces the current one." if action == NEW_EXPERIMENT
                else "It is in no session file: an autosave keeps it only against a crash.")
        return self.dialogs.ask_save(action, f"You have work {where}: {self.content.describe_work()}.\n{what}\n\n"
                                     "Save it before you go on?\n\nDiscard: it is dropped and will not be offered "
                                     "again.")

    def may_drop_work(self, action: str) -> bool:
        """True when `action` (which ends this session) may go on: nothing unsaved, or the person
        saved or discarded it; how it was let go is kept for when the session ends."""
        if not self.has_unsaved_work():
            self.files.leaving = "clean"
            return True
        choice = self.ask_unsaved(action)
        if choice == Choice.SAVE:
            if not self.save():
                return False
            self.files.leaving = "clean"
            return True
        if choice == Choice.DISCARD:
            self.files.leaving = "discard"
            return True
        if choice == Choice.UNANSWERED:
            self.files.leaving = None
            if self.files.autosaver.dirty:
                self.autosave(force=True)          # the latest state, for the next start
            return True
        return False

    def confirm_new_experiment(self, exp: Any) -> bool:
        """Before a new run replaces the trained experiment (the learning run asks this): unsaved,
        Save / Discard / Cancel; saved, it is in its file and the run goes on."""
        if not self.has_unsaved_work():
            return True
        choice = self.ask_unsaved(NEW_EXPERIMENT)
        if choice == Choice.SAVE:
            return self.save()
        return choice in (Choice.DISCARD, Choice.UNANSWERED)

    def stay(self) -> None:
        """The action that was to end the session did not happen (a load failed): it goes on."""
        self.files.leaving = None

    # ----- a new session on new data -----
    def _dataset_changed(self) -> None:
        """Another data set was opened: the session on the old one ends, a new one starts."""
        if self._adopting:
            return
        self.files.end()
        self.files.begin()
        self._autosaved_batches.clear()
        self.earlier.offered.clear()
        self.files.open_journal()
        self.changed()

    # ----- save / open -----
    def save(self) -> bool:
        if self.files.path is None:
            return self.save_as()
        return self.save_to(self.files.path)

    def save_as(self) -> bool:
        path = self.dialogs.save_file("Save session", self.files.folder(), SESSION_FILTER)
        if not path:
            return False
        if not Path(path).suffix:
            path += SESSION_SUFFIX
        return self.save_to(path)

    def save_to(self, path: str | os.PathLike) -> bool:
        """Save the session to `path`; the journal moves with it. One message on failure."""
        path = Path(path)
        try:
            session = self.current_session()
            save_session(path, session)
        except (SessionError, ValueError) as exc:
            self.dialogs.message(Level.WARNING, "Could not save the session", str(exc))
            return False
        self.files.saved(path, session.answers)
        self.dialogs.status(f"session saved to {path}", 5000)
        return True

    def open_dialog(self) -> bool:
        path = self.dialogs.open_file("Open session", self.files.folder(), SESSION_FILTER)
        if not (bool(path) and self.may_drop_work("Open a session")):
            return False
        if not self.open(str(path)):
            self.stay()
            return False
        return True

    def open(self, path: str | os.PathLike) -> bool:
        """Open a session file (answers in its journal that it lacks are replayed too)."""
        path = Path(path)
        try:
            session, answers = recover(path, journal_path(path))
        except (SessionError, JournalError, ValueError) as exc:
            self.dialogs.message(Level.WARNING, "Could not open the session", str(exc))
            return False
        saved = {r.id for r in session.answers}
        session.answers.extend(answers)
        self._adopt(session, path)
        self.files.saved_ids = saved
        self.files.unsaved = self.files.autosaver.dirty = bool(answers)   # answers the file lacks are unsaved
        self.files.remember(path)
        return True

    def check_recovery(self) -> bool:
        """Offer to recover unsaved work (`session_recovery`); True when a session was recovered."""
        found = self.recovery.offer()
        if found is None:
            return False
        self._adopt(found.session, found.path, untitled=found.file if found.path is None else None)
        self.files.unsaved = True                    # recovered is not saved
        self.mark_dirty()
        self.dialogs.status(f"recovered the session with {found.answers} answer(s)", 8000)
        return True

    def _adopt(self, session: SessionData, path: Path | None, untitled: Path | None = None) -> None:
        """Make a loaded session the window's; its journal replays the answers of the waiting batch."""
        self.files.end()
        self.files.begin(path, session.session_id, session.created, untitled)
        self._autosaved_batches.clear()
        self.earlier.offered.clear()
        self._adopting = True
        try:
            pending = self.content.put_back(session)
            if pending is not None:
                self._autosaved_batches.add(id(pending))
                self.earlier.offered.add(id(pending))          # its answers are this session's own
            self.files.open_journal(session.answers)           # replays: a fully answered batch goes on
            self.state.queue.changed.emit()
        finally:
            self._adopting = False
        self.changed()
        if path is not None:
            self.settings.setValue(LAST_PATH, str(path))
            self.dialogs.status(f"session opened: {path}", 5000)

    def close(self) -> None:
        """The window closes. Work the person saved or discarded leaves nothing to recover; work
        no one was asked about is autosaved, to be offered at the next start."""
        if self.files.leaving is None and self.has_unsaved_work() and self.files.autosaver.dirty:
            self.autosave(force=True)
        self.files.end(closing=True)         # every answer is on disk already
