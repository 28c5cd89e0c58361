"""Recovery at start (Qt-free): work a window left unsaved is offered again.

Looked at, in order: the last session and the saved sessions whose autosave was left, then every
autosave in the recovery folder (the newest first); a session open in another window (its
journal locked) is not. One that holds work (an experiment or answers: an autosave, or journal
answers newer than the session file) is offered, Yes / No; one that holds nothing (a data set
alone) is removed without asking. Declined: the autosave (and an untitled session's journal) is
set aside as ``.old``, never deleted, and not offered again. With no one to ask (no screen) it is
declined so, and the question is shown as a message that says where the files are kept.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

from viscause_gui.core.store.journal import JournalError, journal_in_use
from viscause_gui.core.store.recovery import recover
from viscause_gui.core.store.session import SESSION_SUFFIX, SessionData, SessionError, autosave_path, journal_path
from viscause_gui.core.store.session_writer import Autosaver
from viscause_gui.gui.controllers.session_content import describe_experiment
from viscause_gui.gui.controllers.session_files import AUTOSAVE_SUFFIX, LAST_PATH, SessionFiles, set_aside, unlink
from viscause_gui.gui.models.dialogs import Dialogs, Level


@dataclass(frozen=True)
class Candidate:
    """Files that may hold work to recover."""

    path: Path | None     # the saved session, or None for an untitled one
    file: Path            # its nominal file (the untitled one in the recovery folder)
    base: Path            # the file to load: its autosave when newer, else the session file
    journal: Path


@dataclass(frozen=True)
class Recovered:
    """A session the person chose to recover: its answers include the journal's newer ones."""

    session: SessionData
    path: Path | None
    file: Path
    answers: int          # answers in all


class SessionRecovery:
    """Finds unsaved work left by an earlier window and offers it (`offer`)."""

    def __init__(self, files: SessionFiles, dialogs: Dialogs):
        self.files, self.dialogs = files, dialogs

    def candidates(self) -> list[Candidate]:
        """The last session and those whose autosave was left, then every autosave in the
        recovery folder (the newest first); none open in another window."""
        out: list[Candidate] = []
        last = self.files.settings.value(LAST_PATH)
        titled = list(dict.fromkeys(([str(last)] if last else []) + self.files.left_autosaves()))
        for name in titled:
            path = Path(name)
            auto = Autosaver(path)
            base = auto.path if auto.newer_than_session() else path
            if base.exists() and not journal_in_use(journal_path(path)):     # not open in another window
                out.append(Candidate(path, path, base, journal_path(path)))
        try:
            autos = [a for a in self.files.recovery_dir.glob(f"*{SESSION_SUFFIX}{AUTOSAVE_SUFFIX}") if a.is_file()]
        except OSError:
            autos = []
        for left in sorted(autos, key=_mtime, reverse=True):
            file = left.with_name(left.name[:-len(AUTOSAVE_SUFFIX)])
            if not journal_in_use(journal_path(file)):
                out.append(Candidate(None, file, left, journal_path(file)))
        return out

    def offer(self) -> Recovered | None:
        """Offer each candidate that holds work until the person takes one; None when none was taken."""
        for c in self.candidates():
            try:
                session, answers = recover(c.base, c.journal)
            except (SessionError, JournalError, ValueError):
                continue
            unsaved = c.base != c.path          # an autosave, or the untitled session
            if not answers and not unsaved:
                continue
            total = sum(r.type == "answer" for r in [*session.answers, *answers])
            exp = session.experiment
            if total == 0 and exp is None:      # a data set alone: nothing of the person's to recover
                if unsaved:
                    unlink(c.base)
                continue
            name = f"the unsaved session on {session.dataset.name}" if c.path is None else str(c.path)
            work = ([describe_experiment(exp)] if exp is not None else []) + (
                [f"{total} answer(s) in all ({len(answers)} of them from the answer journal, newer than the autosave)"]
                if total else [])
            when = local_time(session.saved) if unsaved and session.saved else ""
            text = (f"Unsaved work was found for {name}: {' and '.join(work)}"
                    f"{f', autosaved {when}' if when else ''}. viscause was closed without saving or "
                    "discarding it, or was killed.\n\nRecover it?")
            if self._ask("Recover the session?", text):
                session.answers.extend(answers)
                session.path = c.path
                return Recovered(session, c.path, c.file, total)
            # declined: kept as .old, never deleted; a saved session keeps its journal (opening
            # the file replays it), the untitled one starts a fresh journal
            for p in (autosave_path(c.file), *((c.journal,) if c.path is None else ())):
                set_aside(p)
            if c.path is not None:
                self.files.set_left_autosaves([p for p in self.files.left_autosaves() if p != str(c.path)])
        return None

    def _ask(self, title: str, text: str) -> bool:
        """Yes / No; with no one to ask it is no, and the question is shown as a message (the files
        are set aside, as when declined: kept, not offered again)."""
        answer = self.dialogs.ask(title, text)
        if answer is None:
            self.dialogs.message(Level.INFO, title, text + "\n\n(not asked: no screen; the files are kept)")
            return False
        return answer


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def local_time(iso: str) -> str:
    """An ISO 8601 UTC time as the person's local time, to the minute."""
    try:
        return _dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return iso

