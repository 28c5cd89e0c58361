"""A session's files (Qt-free): its id, its file, the answer journal beside it, its autosave, and
what is left of them when the window leaves the session.

- Every answer goes to the journal beside the session file (``<file>.journal.jsonl``); an
  unsaved session keeps its journal and autosave in a recovery folder next to the settings,
  named after the data it holds and its id (``viscause-recovery/GRATING-1a2b3c4d.vcsession.*``).
- The autosave is core/store/session_writer.py's `Autosaver` (taken on the GUI thread, written
  and checked in the autosave thread). It protects against a crash: it is never a save the
  person chose. `unsaved` is what changed since the person last saved or opened the session.
- Two windows cannot write one session: its journal is locked (`Journal`), and the second
  window's answers go to a temporary journal, with a message.
- Answers are never deleted: a journal nobody wants any more is set aside as ``<name>.<time>.old``.
- The settings remember the last session and the recent ones (their journals hold answers a
  later session on the same images may be offered), and the saved sessions whose autosave was
  left to recover at the next start.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from viscause_gui.core.store.journal import AnswerRecord, Journal, JournalError, new_id, now_iso, read_journal
from viscause_gui.core.store.session import SESSION_SUFFIX, SessionData, journal_path
from viscause_gui.core.store.session_writer import Autosaver
from viscause_gui.gui.models.answer_session import AnswerSession
from viscause_gui.gui.models.dialogs import Dialogs, KeyValueSettings, Level

SESSION_FILTER = f"viscause sessions (*{SESSION_SUFFIX});;All files (*)"
AUTOSAVE_SUFFIX = ".autosave"
LAST_PATH = "session/last_path"                # the last session opened or saved (offered for recovery)
LAST_FOLDER = "paths/last_folder"              # where the file choosers open
LEFT_AUTOSAVES = "session/left_autosaves"     # saved sessions whose autosave was left to recover
RECENT = "session/recent"                      # saved sessions opened or saved lately (their journals)
MAX_RECENT = 20


class SessionFiles:
    """The files of the window's session; `begin` moves on to another session's."""

    def __init__(self, answers: AnswerSession, settings: KeyValueSettings, dialogs: Dialogs,
                 recovery_dir: str | os.PathLike, interval_s: float, data_name: Callable[[], str | None]):
        self.answers, self.settings, self.dialogs = answers, settings, dialogs
        self.recovery_dir, self.interval_s, self.data_name = Path(recovery_dir), interval_s, data_name
        self.begin()

    def begin(self, path: Path | None = None, session_id: str | None = None, created: str | None = None,
              untitled: Path | None = None) -> None:
        """Another session's files: a new session's (no arguments) or a loaded one's."""
        self.path = path
        self.session_id = session_id or new_id()
        self.created = created or now_iso()
        self.untitled = untitled if untitled is not None else self._untitled_file()
        self.autosaver = Autosaver(self.session_file(), self.interval_s)
        self.unsaved = False          # changed since the person saved or opened it (the autosave aside)
        self.leaving: str | None = None   # how the person let the session go: "clean", "discard", or None
        self.saved_ids: set[str] = set()  # the answers the session file holds

    def session_file(self) -> Path:
        """The session file, or the untitled one in the recovery folder."""
        return self.path if self.path is not None else self.untitled

    def _untitled_file(self) -> Path:
        """Where an unsaved session's autosave and journal go: named after its data and its id."""
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", self.data_name() or "untitled").strip("._")[:40]
        return self.recovery_dir / f"{name or 'untitled'}-{self.session_id[:8]}{SESSION_SUFFIX}"

    # ----- the journal -----
    def open_journal(self, base_records: list[AnswerRecord] | None = None) -> None:
        """The session's journal takes the answers from now on (`base_records`: those the file holds)."""
        target = journal_path(self.session_file())
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            journal = Journal(target, self.session_id, annotator=self.answers.annotator,
                              outcomes=self.answers.journal_outcomes())
        except JournalError as exc:
            if "another process" in str(exc):     # another viscause has this session open
                self.dialogs.message(Level.WARNING, "The session is open elsewhere",
                                     f"{exc}.\nYour answers go to a temporary journal until you "
                                     "save the session under another name.")
                self.answers.set_journal(None, base_records)
                return
            set_aside(target)                    # a journal of another session: keep it, out of the way
            journal = Journal(target, self.session_id, annotator=self.answers.annotator,
                              outcomes=self.answers.journal_outcomes())
        self.answers.set_journal(journal, base_records)

    # ----- the autosave -----
    def autosave(self, session: SessionData, force: bool = False, background: bool = False) -> bool:
        """Write `session` to the autosave when due (or `force`d); with `background` it is written
        in the autosave thread. True when written (or being written)."""
        self.session_file().parent.mkdir(parents=True, exist_ok=True)
        if background:
            return self.autosaver.maybe_save_in_background(session, force=force) is not None
        return self.autosaver.maybe_save(session, force=force) is not None

    # ----- saved by the person -----
    def saved(self, path: Path, records: list[AnswerRecord]) -> None:
        """The session was saved to `path` with `records`: its journal moves beside it (another
        session's journal there is set aside), its autosave goes, nothing is unsaved."""
        old_file, old_autosaver = self.session_file(), self.autosaver
        if path.resolve() != old_file.resolve():
            old_journal = journal_path(old_file)
            self.answers.set_journal(None, records)   # closes the old journal
            stale = journal_path(path)
            if stale.exists():
                try:
                    same = read_journal(stale).session_id == self.session_id
                except JournalError:
                    same = False
                if not same:
                    set_aside(stale)
            if self.path is None:                     # the untitled files are in the file now
                unlink(old_journal)
            old_autosaver.discard()
            self.path = path
            self.autosaver = Autosaver(path, self.interval_s)
            self.open_journal(records)
        self.autosaver.discard()
        self.autosaver.dirty = False
        self.unsaved = False
        self.saved_ids = {r.id for r in records}
        self.set_left_autosaves([p for p in self.left_autosaves() if p != str(path)])
        self.remember(path)
        self.settings.setValue(LAST_FOLDER, str(path.parent))

    # ----- leaving the session -----
    def end(self, closing: bool = False) -> None:
        """The window leaves this session (another data set or session opens, or it closes).

        Saved or discarded (`leaving` "clean" / "discard"): its autosave goes, and so does a
        journal that holds answers the session file lacks (renamed ``.old``: kept, never offered
        again). Otherwise (no one was asked, or it was left programmatically) its files stay to
        be recovered at the next start. An untitled journal with no answers goes."""
        leaving, self.leaving = self.leaving, None
        self.autosaver.wait()                    # its file is looked at below
        if closing:
            self.answers.close_journal()
        else:
            self.answers.set_journal(None)
        journal = journal_path(self.session_file())
        try:
            records = read_journal(journal).records if journal.exists() else []
        except JournalError:
            records = []
        if leaving in ("clean", "discard"):
            self.autosaver.discard()
        left = self.left_autosaves()
        if self.path is not None and str(self.path) in left and not self.autosaver.path.exists():
            self.set_left_autosaves([p for p in left if p != str(self.path)])
        elif self.path is not None and self.autosaver.path.exists() and str(self.path) not in left:
            self.set_left_autosaves([*left, str(self.path)])
        unsaved = any(r.id not in self.saved_ids for r in records)
        if not records:
            if self.path is None:
                unlink(journal)
        elif unsaved and (leaving == "discard" or (leaving == "clean" and self.path is None)):
            set_aside(journal)

    # ----- what the settings remember -----
    def remember(self, path: Path) -> None:
        """The last session (offered for recovery) and the recent ones (their journals hold
        answers that a later session on the same images may be offered)."""
        self.settings.setValue(LAST_PATH, str(path))
        recent = [p for p in self.recent() if p != str(path)]
        self.settings.setValue(RECENT, [str(path), *recent][:MAX_RECENT])

    def recent(self) -> list[str]:
        return str_list(self.settings.value(RECENT))

    def left_autosaves(self) -> list[str]:
        return str_list(self.settings.value(LEFT_AUTOSAVES))

    def set_left_autosaves(self, paths: list[str]) -> None:
        self.settings.setValue(LEFT_AUTOSAVES, list(dict.fromkeys(paths))[-MAX_RECENT:])

    def folder(self) -> str:
        """Where a file chooser opens."""
        return str(self.settings.value(LAST_FOLDER, str(Path.home())))


def str_list(value: Any) -> list[str]:
    """A QSettings list (None, one string, or a list)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value if v]


def unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def set_aside(path: Path) -> None:
    """Keep a file out of the way (never delete answers): ``<name>.<time>.old``."""
    if path.exists():
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        os.replace(path, path.with_name(f"{path.name}.{stamp}.old"))
