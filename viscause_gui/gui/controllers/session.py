"""Sessions in the main window: save / open, autosave, the answer journal, recovery, exports.

- A session is the work on one data set: opening another data set (or a session, or a lesson)
  ends it and starts a new one, with a new id, a journal of its own and no answers. Answers
  are taken only by their own session; where earlier sessions answered the same images (same
  `image_hash`), the app *offers* them (how many, from when) and the person decides
  (`offer_reuse`; unattended: not reused).
- Every answer goes to the journal beside the session file (``<file>.journal.jsonl``); an
  unsaved session keeps its journal and autosave in a recovery folder next to the settings,
  named after the data it holds and its id (``viscause-recovery/GRATING-1a2b3c4d.vcsession.*``).
- The session is autosaved (`core.session.Autosaver`) every `interval_s` seconds when
  something changed (taken on the GUI thread, written and checked in the autosave thread),
  and at once when a new batch of queries arrives, so a recovery always has the images the
  journal's answers belong to. An autosave protects against a crash: it
  is never a save the person chose. "Unsaved work" (`unsaved`) is what changed since the
  person last saved or opened the session, whatever the autosaver did; opening another data
  set or session, quitting and a new run over trained work ask Save / Discard / Cancel.
  Discard (or a save) leaves nothing to recover; unanswered (no screen) the work is kept as
  an autosave and offered at the next start.
- On start, an autosave (or journal answers newer than the session file) that holds work (an
  experiment or answers) is offered for recovery (`ask`); one that holds nothing is removed.
  The recovered answers are replayed: a batch that is fully answered goes to the experiment
  and the loop goes on.
- Questions are QMessageBoxes. Offscreen no one can answer them: each takes its documented
  unattended answer, unless `ANSWER_BOX` (tests) is set: it gets the box on screen and clicks
  a button, as a person would.
- A file that cannot be opened gives one message (`MainWindow.show_message`) and changes nothing.
- Two windows cannot write one session: its journal is locked (`Journal`), and the second
  window's answers go to a temporary journal, with a message.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox

from viscause_gui.core.store.exports import export_answers_csv, export_causal_dataset
from viscause_gui.core.store.journal import (Journal, JournalError, batch_key, image_hash, journal_in_use, new_id,
                                             now_iso, read_journal)
from viscause_gui.core.store.recovery import EarlierAnswers, recover
from viscause_gui.core.store.session import SESSION_SUFFIX, SessionData, SessionError, autosave_path, journal_path
from viscause_gui.core.store.session_writer import Autosaver, save_session

SESSION_FILTER = f"viscause sessions (*{SESSION_SUFFIX});;All files (*)"
PLOTS = (("loss", "loss_plot"), ("merr", "merr_plot"), ("mdist", "mdist_plot"))
AUTOSAVE_SUFFIX = ".autosave"
LEFT_AUTOSAVES = "session/left_autosaves"     # saved sessions whose autosave was left to recover
RECENT = "session/recent"                      # saved sessions opened or saved lately (their journals)
MAX_RECENT = 20
Buttons = QMessageBox.StandardButton

#: Offscreen, a question is not shown and takes its unattended answer; tests set this to a
#: callable that gets the QMessageBox, shown and modal, and clicks one of its buttons.
ANSWER_BOX: Callable[[QMessageBox], None] | None = None


class SessionController(QObject):
    """Owns the session file, its journal and autosave for one MainWindow."""

    #: another session became the window's (new data, an opened or recovered session): its own
    #: journal and answers; what counted the old session's answers (a share's tally) starts over
    session_changed = Signal()

    def __init__(self, window: Any, interval_s: float = 60.0, recovery_dir: str | os.PathLike | None = None,
                 check_recovery: bool = True):
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.labelling = window.panels.get("labelling")
        self.learning = window.panels.get("learning")
        self.interval_s = interval_s
        if recovery_dir is None:
            recovery_dir = Path(window.settings.fileName()).resolve().parent / "viscause-recovery"
        self.recovery_dir = Path(recovery_dir)
        self.path: Path | None = None
        self.session_id = new_id()
        self.created = now_iso()
        self.untitled = self._untitled_file()
        self.autosaver = Autosaver(self.session_file(), interval_s)
        self.unsaved = False          # changed since the person saved or opened it (the autosave aside)
        self.leaving: str | None = None   # how the person let the session go: "clean", "discard", or None
        self._saved_ids: set[str] = set()  # the answers the session file holds
        self._autosaved_batches: set[int] = set()
        self._offered: set[int] = set()    # batches whose earlier answers were looked for
        self._adopting = False
        self.earlier = EarlierAnswers()
        self.timer = QTimer(self)
        self.timer.setInterval(int(min(interval_s, 5.0) * 1000))
        self.timer.timeout.connect(self.autosave_if_due)
        self.timer.start()
        if self.labelling is not None:
            self.labelling.answered.connect(lambda _r: self.mark_dirty())
        self.state.queue.changed.connect(self._queries_changed)
        self.state.model_changed.connect(self.mark_dirty)
        self.state.dataset_changed.connect(self._dataset_changed)
        recovered = check_recovery and self.check_recovery()
        if not recovered:
            self._open_journal()

    # ----- paths -----
    def session_file(self) -> Path:
        """The session file, or the untitled one in the recovery folder."""
        return self.path if self.path is not None else self.untitled

    def _untitled_file(self) -> Path:
        """Where an unsaved session's autosave and journal go: named after its data and its id."""
        ds = self.state.dataset
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", ds.name if ds is not None else "untitled").strip("._")[:40]
        return self.recovery_dir / f"{name or 'untitled'}-{self.session_id[:8]}{SESSION_SUFFIX}"

    def _open_journal(self, base_records: list | None = None) -> None:
        if self.labelling is None:
            return
        target = journal_path(self.session_file())
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            journal = Journal(target, self.session_id, annotator=self.labelling.annotator)
        except JournalError as exc:
            if "another process" in str(exc):     # another viscause has this session open
                self.window.show_message("warning", "The session is open elsewhere",
                                         f"{exc}.\nYour answers go to a temporary journal until you "
                                         "save the session under another name.")
                self.labelling.set_journal(None, base_records)
                return
            _set_aside(target)                   # a journal of another session: keep it, out of the way
            journal = Journal(target, self.session_id, annotator=self.labelling.annotator)
        self.labelling.set_journal(journal, base_records)

    # ----- the current session -----
    def live_experiment(self):
        if self.learning is not None:
            if self.learning.running:
                return None
            return self.learning.experiment
        return self.state.experiment

    def current_session(self) -> SessionData:
        if self.learning is not None and self.learning.running:
            raise SessionError("the experiment is running; save when it waits for answers or has stopped")
        exp = self.live_experiment()
        settings: dict[str, Any] = {}
        if self.labelling is not None:
            settings.update(blind=self.labelling.blind.isChecked(), answers_per_image=self.labelling.needed(),
                            positive_digit=self.state.positive_label)
        settings["question"] = self.state.question()          # what the oracle is asked, in words
        share = getattr(self.window, "share", None)
        if share is not None:
            settings["share"] = share.settings()               # k, vote rule, hand-on time
        if self.learning is not None:
            settings.update(oracle=self.learning.form.oracle,
                            goal=self.learning.goal[0], goal_base=self.learning.goal[1],
                            learning=self.learning.settings_for_session())
        answers = self.labelling.records() if self.labelling is not None else []
        if exp is not None:
            return SessionData(experiment=exp, answers=answers, settings=settings,
                               session_id=self.session_id, created=self.created)
        if self.state.dataset is None:
            raise SessionError("there is no data to save")
        return SessionData(dataset=self.state.dataset, answers=answers, settings=settings,
                           session_id=self.session_id, created=self.created)

    def mark_dirty(self) -> None:
        """Something changed: due for an autosave, and not saved by the person."""
        self.autosaver.mark_dirty()
        if not self._adopting:
            self.unsaved = True

    def has_work(self) -> bool:
        """An experiment or answers: what a person would not want to lose."""
        answers = self.labelling.records() if self.labelling is not None else []
        return self._experiment() is not None or bool(answers)

    def has_unsaved_work(self) -> bool:
        """An experiment or answers changed since the person last saved (an autosave is no save)."""
        return self.unsaved and self.has_work()

    def _experiment(self):
        """The experiment, also while a run owns it."""
        return self.learning.experiment if self.learning is not None else self.state.experiment

    def describe_work(self) -> str:
        exp = self._experiment()
        n = sum(r.type == "answer" for r in self.labelling.records()) if self.labelling is not None else 0
        parts = ([] if exp is None else [describe_experiment(exp)]) + ([f"{n} answer(s)"] if n else [])
        return " and ".join(parts) or "changes"

    def ask_unsaved(self, action: str) -> str:
        """Before `action` drops unsaved work: "save", "discard", "cancel", or "unanswered" when no
        one could be asked (offscreen): the action goes on and the work is kept as an autosave,
        offered at the next start, as after a crash. Tests replace it or answer the box."""
        where = f"in {self.path.name} that is not saved" if self.path is not None else "that was never saved"
        if action == "Start a new experiment":
            what = "A new experiment replaces the current one."
        else:
            what = "It is in no session file: an autosave keeps it only against a crash."
        box = QMessageBox(QMessageBox.Icon.Question, action,
                          f"You have work {where}: {self.describe_work()}.\n{what}\n\n"
                          "Save it before you go on?\n\nDiscard: it is dropped and will not be offered again.",
                          parent=self.window)
        box.setStandardButtons(Buttons.Save | Buttons.Discard | Buttons.Cancel)
        box.setDefaultButton(Buttons.Save)
        box.setEscapeButton(Buttons.Cancel)
        clicked = self._exec(box, None)
        if clicked is None:
            return "unanswered"
        return {Buttons.Save: "save", Buttons.Discard: "discard"}.get(clicked, "cancel")

    def _exec(self, box: QMessageBox, unattended: Any) -> Any:
        """Show `box` modally and return the button clicked; offscreen with no one to answer
        (`ANSWER_BOX` unset) it is not shown and `unattended` is returned."""
        answerer = ANSWER_BOX
        if QGuiApplication.platformName() in ("offscreen", "minimal"):
            if answerer is None:
                return unattended
            QTimer.singleShot(0, lambda: answerer(box))
        box.exec()
        return box.standardButton(box.clickedButton()) if box.clickedButton() is not None else Buttons.Cancel

    def may_drop_work(self, action: str) -> bool:
        """True when `action` (which ends this session) may go on: nothing unsaved, or the person
        saved or discarded it; how it was let go is kept in `leaving` for `_end_session`."""
        if not self.has_unsaved_work():
            self.leaving = "clean"
            return True
        choice = self.ask_unsaved(action)
        if choice == "save":
            if not self.save():
                return False
            self.leaving = "clean"
            return True
        if choice == "discard":
            self.leaving = "discard"
            return True
        if choice == "unanswered":
            self.leaving = None
            if self.autosaver.dirty:
                self.autosave(force=True)          # the latest state, for the next start
            return True
        return False

    def confirm_new_experiment(self, exp: Any) -> bool:
        """Before a new run replaces the trained experiment (the learning panel asks this): unsaved,
        Save / Discard / Cancel; saved, it is in its file and the run goes on."""
        if not self.has_unsaved_work():
            return True
        choice = self.ask_unsaved("Start a new experiment")
        if choice == "save":
            return self.save()
        return choice in ("discard", "unanswered")

    def stay(self) -> None:
        """The action that was to end the session did not happen (a load failed): it goes on."""
        self.leaving = None

    def _queries_changed(self) -> None:
        self.mark_dirty()
        new = [b for b in self.state.queue.waiting() if id(b) not in self._autosaved_batches]
        dock = getattr(self.window, "docks", {}).get("labelling")
        if new and dock is not None and self.labelling is not None:
            dock.raise_()                         # the oracle answers by keyboard at once
            self.labelling.setFocus()
        idle = self.learning is None or not self.learning.running
        if new and idle and self.autosave(force=True):
            self._autosaved_batches.update(id(b) for b in new)
        if any(id(b) not in self._offered for b in self.state.queue.waiting()):
            QTimer.singleShot(0, self, self.offer_earlier_answers)   # after whoever queued it is done

    def autosave_if_due(self) -> None:
        """The timer's autosave: taken here, written and checked in the autosave thread (with
        thousands of answers the write took the GUI thread ~120 ms: a class sharing saw the
        window stall every minute)."""
        if self.autosaver.due():
            self.autosave(background=True)

    def autosave(self, force: bool = False, background: bool = False) -> bool:
        """Autosave now (when due or forced), or with `background` only take the session now and
        write it in the autosave thread; False when the state cannot be saved right now or
        there is nothing to keep (a data set alone is no work: nothing is written for it)."""
        if not self.has_work():
            return False
        try:
            session = self.current_session()
            self.session_file().parent.mkdir(parents=True, exist_ok=True)
            if background:
                return self.autosaver.maybe_save_in_background(session, force=force) is not None
            return self.autosaver.maybe_save(session, force=force) is not None
        except (SessionError, OSError, ValueError):
            return False

    # ----- a new session on new data -----
    def _dataset_changed(self) -> None:
        """Another data set was opened: the session on the old one ends, a new one starts."""
        if self._adopting:
            return
        self._end_session()
        self.path = None
        self.session_id = new_id()
        self.created = now_iso()
        self.untitled = self._untitled_file()
        self.autosaver = Autosaver(self.session_file(), self.interval_s)
        self.unsaved = False
        self._saved_ids = set()
        self._autosaved_batches.clear()
        self._offered.clear()
        self._open_journal()
        self.session_changed.emit()

    def _end_session(self, closing: bool = False) -> None:
        """The window leaves this session (another data set or session opens, or it closes).

        Saved or discarded ("clean" / "discard"): its autosave goes, and so does a journal that
        holds answers the session file lacks (renamed ``.old``: kept, never offered again).
        Otherwise (no one was asked, or it was left programmatically) its files stay to be
        recovered at the next start. An untitled journal with no answers goes."""
        leaving, self.leaving = self.leaving, None
        self.autosaver.wait()                    # its file is looked at below
        if self.labelling is not None:
            if closing:
                self.labelling.close_journal()
            else:
                self.labelling.set_journal(None)
        journal = journal_path(self.session_file())
        try:
            records = read_journal(journal).records if journal.exists() else []
        except JournalError:
            records = []
        if leaving in ("clean", "discard"):
            self.autosaver.discard()
        left = self._left_autosaves()
        if self.path is not None and str(self.path) in left and not self.autosaver.path.exists():
            self._set_left_autosaves([p for p in left if p != str(self.path)])
        elif self.path is not None and self.autosaver.path.exists() and str(self.path) not in left:
            self._set_left_autosaves([*left, str(self.path)])
        unsaved = any(r.id not in self._saved_ids for r in records)
        if not records:
            if self.path is None:
                _unlink(journal)
        elif unsaved and (leaving == "discard" or (leaving == "clean" and self.path is None)):
            _set_aside(journal)

    # ----- save / open -----
    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        return self.save_to(self.path)

    def save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self.window, "Save session", self._folder(), SESSION_FILTER)
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
            self.window.show_message("warning", "Could not save the session", str(exc))
            return False
        old_file, old_autosaver = self.session_file(), self.autosaver
        records = session.answers
        if path.resolve() != old_file.resolve():
            old_journal = journal_path(old_file)
            if self.labelling is not None:
                self.labelling.set_journal(None, records)   # closes the old journal
            stale = journal_path(path)
            if stale.exists():
                try:
                    same = read_journal(stale).session_id == self.session_id
                except JournalError:
                    same = False
                if not same:
                    _set_aside(stale)
            if self.path is None:                             # the untitled files are in the file now
                _unlink(old_journal)
            old_autosaver.discard()
            self.path = path
            self.autosaver = Autosaver(path, self.interval_s)
            self._open_journal(records)
        self.autosaver.discard()
        self.autosaver.dirty = False
        self.unsaved = False
        self._saved_ids = {r.id for r in records}
        self._set_left_autosaves([p for p in self._left_autosaves() if p != str(path)])
        self._remember(path)
        self.window.settings.setValue("paths/last_folder", str(path.parent))
        self.window.statusBar().showMessage(f"session saved to {path}", 5000)
        return True

    def open_dialog(self) -> bool:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open session", self._folder(), SESSION_FILTER)
        if not (bool(path) and self.may_drop_work("Open a session")):
            return False
        if not self.open(path):
            self.stay()
            return False
        return True

    def open(self, path: str | os.PathLike) -> bool:
        """Open a session file (answers in its journal that it lacks are replayed too)."""
        path = Path(path)
        try:
            session, answers = recover(path, journal_path(path))
        except (SessionError, JournalError, ValueError) as exc:
            self.window.show_message("warning", "Could not open the session", str(exc))
            return False
        saved = {r.id for r in session.answers}
        session.answers.extend(answers)
        self._adopt(session, path)
        self._saved_ids = saved
        self.unsaved = self.autosaver.dirty = bool(answers)   # answers the file lacks are unsaved
        self._remember(path)
        return True

    def _adopt(self, session: SessionData, path: Path | None, untitled: Path | None = None) -> None:
        """Make a loaded session the window's state; replay answers of the waiting batch."""
        self._end_session()
        self.path = path
        self.session_id = session.session_id
        self.created = session.created
        self.untitled = untitled if untitled is not None else self._untitled_file()
        self.autosaver = Autosaver(self.session_file(), self.interval_s)
        self._autosaved_batches.clear()
        self._offered.clear()
        settings = session.settings
        self._adopting = True
        try:
            self.state.set_dataset(session.dataset)
            if self.labelling is not None:
                self.labelling.blind.setChecked(bool(settings.get("blind", True)))
                self.labelling.per_image.setValue(int(settings.get("answers_per_image", 1) or 1))
            positive = settings.get("positive_digit")
            if isinstance(positive, int) and not isinstance(positive, bool):     # what T asks about
                if self.learning is not None and self.learning.run.labels_only:
                    self.learning.form.set(label=positive)
                self.state.set_positive_label(positive)
            question = settings.get("question")
            self.state.set_question(question if isinstance(question, str) else None)
            if getattr(self.window, "share", None) is not None:
                self.window.share.restore_settings(settings.get("share"))
            exp = session.experiment
            if exp is not None:
                self.state.set_experiment(exp)
                lp = self.learning
                if lp is not None and lp.experiment is not exp:     # the panel adopts on model_changed
                    lp.experiment = exp
                if exp.pending is not None:
                    if lp is not None:
                        lp.wait_for_answers(settings.get("goal"))
                    self._autosaved_batches.add(id(exp.pending))
                    self._offered.add(id(exp.pending))           # its answers are this session's own
                    self.state.queue.add(exp.pending, notify=False)
            if self.learning is not None:
                self.learning.restore_settings(settings.get("learning"), settings.get("oracle"))
            self._open_journal(session.answers)          # replays: a fully answered batch goes on
            self.state.queue.changed.emit()
        finally:
            self._adopting = False
        self.session_changed.emit()
        if path is not None:
            self.window.settings.setValue("session/last_path", str(path))
            self.window.statusBar().showMessage(f"session opened: {path}", 5000)

    def _remember(self, path: Path) -> None:
        """The last session (offered for recovery) and the recent ones (their journals hold
        answers that a later session on the same images may be offered)."""
        settings = self.window.settings
        settings.setValue("session/last_path", str(path))
        recent = [p for p in _str_list(settings.value(RECENT)) if p != str(path)]
        settings.setValue(RECENT, [str(path), *recent][:MAX_RECENT])

    def _left_autosaves(self) -> list[str]:
        return _str_list(self.window.settings.value(LEFT_AUTOSAVES))

    def _set_left_autosaves(self, paths: list[str]) -> None:
        self.window.settings.setValue(LEFT_AUTOSAVES, list(dict.fromkeys(paths))[-MAX_RECENT:])

    # ----- answers of earlier sessions -----
    def journals_to_search(self) -> list[Path]:
        """Journals of other sessions this app knows: the recovery folder's (set aside ones too)
        and those beside recent session files."""
        own = journal_path(self.session_file()).resolve()
        found: list[Path] = []
        folders: dict[Path, str | None] = {self.recovery_dir: "*"}
        for p in _str_list(self.window.settings.value(RECENT)):
            folders.setdefault(Path(p).parent, None)
        for folder in folders:
            try:
                found += [f for f in folder.glob(f"*{SESSION_SUFFIX}.journal.jsonl*") if f.is_file()]
            except OSError:
                continue
        return [f for f in dict.fromkeys(found) if f.resolve() != own]

    def offer_earlier_answers(self) -> int:
        """For each new waiting batch, look for other sessions' answers to the same images; when
        there are some, offer them (`offer_reuse`). Returns the number of answers reused."""
        if self.labelling is None or self._closing():
            return 0
        batches = [b for b in self.state.queue.waiting() if id(b) not in self._offered]
        self._offered.update(id(b) for b in batches)
        wanted: dict[str, list[tuple[Any, int]]] = {}
        for batch in batches:
            n = self.labelling.batch_state(batch)[2]
            for i, image in enumerate(batch.images):
                if n[i] == 0:                       # this session has no answer for it yet
                    wanted.setdefault(image_hash(image), []).append((batch, i))
        if not wanted:
            return 0
        found = self.earlier.find(self.journals_to_search(), set(wanted), exclude_session=self.session_id)
        if not found:
            return 0
        images = {h for h in found}
        answers = [a for h in found for a in found[h]]
        sessions = {a.session for a in answers}
        times = sorted(a.record.time for a in answers)
        total = sum(len(b) for b in batches)
        text = (f"Earlier answers to these same images were found: {len(answers)} answer(s) to "
                f"{sum(len(wanted[h]) for h in images)} of the {total} image(s) now asked, given "
                f"{_when(times[0], times[-1])} in {len(sessions)} earlier session(s) "
                f"({', '.join(sorted({a.where for a in answers})[:3])}).\n\n"
                "This session has no answers yet. Reuse the earlier ones? (No: they stay where they are, "
                "and you answer the images yourself.)")
        if not self.offer_reuse(text):
            return 0
        journal = self.labelling.journal
        written, last = 0, None
        try:
            for h in images:
                for batch, i in wanted[h]:
                    for a in found[h]:
                        r = a.record
                        last = journal.answer(batch_key(batch), i, r.value, annotator=r.annotator, image_sha256=h,
                                              label=r.label, reused_from=f"{a.session}:{r.id}"[:401])
                        written += 1
        except (JournalError, ValueError) as exc:
            self.window.show_message("warning", "Could not reuse the earlier answers",
                                     f"{exc}\n{written} of them were reused.")
        self.labelling.refresh()
        if last is not None:
            self.labelling.answered.emit(last)      # the queue view and a running share catch up
        self.window.statusBar().showMessage(f"reused {written} earlier answer(s)", 8000)
        self.labelling.submit_complete()
        return written

    def offer_reuse(self, text: str) -> bool:
        """Yes / No: reuse earlier sessions' answers to the same images. Unattended: no."""
        box = QMessageBox(QMessageBox.Icon.Question, "Reuse earlier answers?", text, parent=self.window)
        box.setStandardButtons(Buttons.Yes | Buttons.No)
        box.setDefaultButton(Buttons.No)
        box.setEscapeButton(Buttons.No)
        return self._exec(box, Buttons.No) == Buttons.Yes

    def _closing(self) -> bool:
        return bool(getattr(self.window, "_closing", False))

    # ----- recovery -----
    def recovery_candidates(self) -> list[tuple[Path | None, Path, Path, Path]]:
        """(session path or None for untitled, its nominal file, file to load, journal) that may
        hold something to recover: the last session and those whose autosave was left, and every
        autosave in the recovery folder (the newest first)."""
        out: list[tuple[Path | None, Path, Path, Path]] = []
        last = self.window.settings.value("session/last_path")
        titled = list(dict.fromkeys(([str(last)] if last else []) + self._left_autosaves()))
        for name in titled:
            path = Path(name)
            auto = Autosaver(path)
            base = auto.path if auto.newer_than_session() else path
            if base.exists() and not journal_in_use(journal_path(path)):     # not open in another window
                out.append((path, path, base, journal_path(path)))
        try:
            autos = [a for a in self.recovery_dir.glob(f"*{SESSION_SUFFIX}{AUTOSAVE_SUFFIX}") if a.is_file()]
        except OSError:
            autos = []
        for left in sorted(autos, key=_mtime, reverse=True):
            file = left.with_name(left.name[:-len(AUTOSAVE_SUFFIX)])
            if not journal_in_use(journal_path(file)):
                out.append((None, file, left, journal_path(file)))
        return out

    def check_recovery(self) -> bool:
        """Offer to recover unsaved work; True when a session was recovered. An autosave that
        holds no work (no experiment, no answer) is removed without asking."""
        for path, file, base, journal in self.recovery_candidates():
            try:
                session, answers = recover(base, journal)
            except (SessionError, JournalError, ValueError):
                continue
            unsaved = base != path          # an autosave, or the untitled session
            if not answers and not unsaved:
                continue
            total = sum(r.type == "answer" for r in [*session.answers, *answers])
            exp = session.experiment
            if total == 0 and exp is None:  # a data set alone: nothing of the person's to recover
                if unsaved:
                    _unlink(base)
                continue
            name = f"the unsaved session on {session.dataset.name}" if path is None else str(path)
            work = ([describe_experiment(exp)] if exp is not None else []) + (
                [f"{total} answer(s) in all ({len(answers)} of them from the answer journal, newer than the autosave)"]
                if total else [])
            when = _local_time(session.saved) if unsaved and session.saved else ""
            text = (f"Unsaved work was found for {name}: {' and '.join(work)}"
                    f"{f', autosaved {when}' if when else ''}. viscause was closed without saving or "
                    "discarding it, or was killed.\n\nRecover it?")
            if self.ask("Recover the session?", text):
                session.answers.extend(answers)
                session.path = path
                self._adopt(session, path, untitled=file if path is None else None)
                self.unsaved = True                    # recovered is not saved
                self.mark_dirty()
                self.window.statusBar().showMessage(f"recovered the session with {total} answer(s)", 8000)
                return True
            # declined: kept as .old, never deleted; a saved session keeps its journal (opening
            # the file replays it), the untitled one starts a fresh journal
            for p in (autosave_path(file), *((journal,) if path is None else ())):
                _set_aside(p)
            if path is not None:
                self._set_left_autosaves([p for p in self._left_autosaves() if p != str(path)])
        return False

    def ask(self, title: str, text: str) -> bool:
        """A yes/no question (tests replace it, or answer the box). Unattended it says no, and
        shows the question as a message."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=self.window)
        box.setStandardButtons(Buttons.Yes | Buttons.No)
        box.setDefaultButton(Buttons.Yes)
        answer = self._exec(box, None)
        if answer is None:
            self.window.show_message("info", title, text + "\n\n(not asked: no screen; the files are kept)")
            return False
        return answer == Buttons.Yes

    # ----- exports -----
    def export_answers_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export answers", self._folder(), "CSV (*.csv)")
        if path:
            self.export_answers(path)

    def export_answers(self, path: str | os.PathLike) -> bool:
        records = self.labelling.records() if self.labelling is not None else []
        try:
            export_answers_csv(path, records)
        except (OSError, ValueError) as exc:
            self.window.show_message("warning", "Could not export the answers", str(exc))
            return False
        return True

    def export_causal_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export causal data set", self._folder(),
                                              "NumPy archives (*.npz)")
        if path:
            self.export_causal(path)

    def export_causal(self, path: str | os.PathLike) -> bool:
        exp = self.live_experiment()
        try:
            if exp is None:
                raise ValueError("there is no experiment yet (run Algorithm 1 first), or it is running")
            export_causal_dataset(path, exp)
        except (OSError, ValueError) as exc:
            self.window.show_message("warning", "Could not export the causal data set", str(exc))
            return False
        return True

    def export_plots_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export plots (one PNG per plot)", self._folder(),
                                              "PNG images (*.png)")
        if path:
            self.export_plots(path)

    def export_plots(self, path: str | os.PathLike) -> list[Path]:
        """Write ``<stem>-loss.png``, ``<stem>-merr.png``, ``<stem>-mdist.png``."""
        path = Path(path)
        stem = path.with_suffix("") if path.suffix.lower() == ".png" else path
        written: list[Path] = []
        for name, attr in PLOTS:
            widget = getattr(self.learning.charts, attr, None) if self.learning is not None else None
            if widget is None:
                continue
            out = stem.with_name(f"{stem.name}-{name}.png")
            if not widget.grab().save(str(out), "PNG"):
                self.window.show_message("warning", "Could not export the plots", f"{out}: cannot write")
                return written
            written.append(out)
        return written

    def _folder(self) -> str:
        return str(self.window.settings.value("paths/last_folder", str(Path.home())))

    def close(self) -> None:
        """The window closes. Work the person saved or discarded leaves nothing to recover; work
        no one was asked about is autosaved, to be offered at the next start."""
        self.timer.stop()
        if self.leaving is None and self.has_unsaved_work() and self.autosaver.dirty:
            self.autosave(force=True)
        self._end_session(closing=True)         # every answer is on disk already


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def describe_experiment(exp: Any) -> str:
    """An experiment in the person's words: how far it got."""
    if exp.history:
        return f"an experiment with {len(exp.history)} iteration(s) of Algorithm 2"
    if exp.nets:
        return "an experiment trained by Algorithm 1"
    return "an experiment waiting for answers to Algorithm 1"


def _str_list(value: Any) -> list[str]:
    """A QSettings list (None, one string, or a list)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value if v]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _local_time(iso: str) -> str:
    """An ISO 8601 UTC time as the person's local time, to the minute."""
    try:
        return _dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return iso


def _when(first: str, last: str) -> str:
    a, b = _local_time(first), _local_time(last)
    return f"on {a}" if a == b else f"between {a} and {b}"


def _set_aside(path: Path) -> None:
    """Keep a file out of the way (never delete answers): ``<name>.<time>.old``."""
    if path.exists():
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        os.replace(path, path.with_name(f"{path.name}.{stamp}.old"))
