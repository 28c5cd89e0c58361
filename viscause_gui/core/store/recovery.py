"""Recovery after a crash: the last saved session plus the confirmed journal answers it lacks;
and the answers earlier sessions gave to the same images (`EarlierAnswers`), which a new
session is offered, never given silently."""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from viscause_gui.core.store.journal import AnswerRecord, JournalError, read_journal
from viscause_gui.core.store.session_reader import load_session
from viscause_gui.core.store.votes import check_images, resolve


class RecoveredAnswers(list):
    """The records to replay, in journal order (a list), plus what recovery noticed:
    ``unverified`` (answers whose batch is not in the session yet: check them with
    `check_images` when the batch is generated again), ``mismatched`` (left out: their image
    is not the session's image at that place), ``foreign`` (left out: lines another session
    wrote), ``torn`` / ``skipped`` / ``problems`` (journal)."""

    def __init__(self, records: Iterable[AnswerRecord] = ()):
        super().__init__(records)
        self.unverified: list[AnswerRecord] = []
        self.mismatched: list[AnswerRecord] = []
        self.foreign: list[AnswerRecord] = []
        self.torn = False
        self.skipped = 0
        self.problems: list[str] = []


def recover(session_path: str | os.PathLike, journal_path: str | os.PathLike) -> tuple[Any, RecoveredAnswers]:
    """(session, answers to replay): the last saved session and every confirmed journal
    record (answers and undos) it does not hold yet, in order.

    Answers whose batch is in the session are checked against its images; mismatches are
    left out (``answers.mismatched``), and so are lines written by another session
    (``answers.foreign``: a session takes only its own answers). A missing journal means nothing to replay. Raises
    SessionError for a bad session file and JournalError for a journal that is no journal
    or belongs to another session. Apply with ``session.answers.extend(answers)``.
    """
    session = load_session(session_path)
    out = RecoveredAnswers()
    if not Path(journal_path).exists():
        return session, out
    contents = read_journal(journal_path)
    out.torn, out.skipped, out.problems = contents.torn, contents.skipped, list(contents.problems)
    if contents.session_id is not None and contents.session_id != session.session_id:
        raise JournalError(f"{journal_path}: this journal belongs to session {contents.session_id}, "
                           f"but {session_path} is session {session.session_id}")
    known = {r.id for r in session.answers}
    images_cache: dict[str, np.ndarray | None] = {}
    for r in contents.records:
        if r.id in known:
            continue
        if r.session is not None and r.session != session.session_id:
            out.foreign.append(r)         # another session's line: never taken as this one's
            continue
        if r.type == "answer":
            if r.batch not in images_cache:
                images_cache[r.batch] = session.batch_images(r.batch)
            images = images_cache[r.batch]
            if images is None:
                out.unverified.append(r)
            else:
                _, bad = check_images([r], r.batch, images)
                if bad:
                    out.mismatched.append(r)
                    continue
        out.append(r)
    return session, out


# ---------------------------------------------------------------- earlier sessions' answers

@dataclass(frozen=True)
class EarlierAnswer:
    """An answer in force in another session's journal: the record, its session and where it is
    (the journal's file name, for the person)."""

    record: AnswerRecord
    session: str
    where: str


class EarlierAnswers:
    """Answers that other sessions gave to images, found by image hash (`image_hash`).

    A session never takes them by itself: the app offers them and the person decides. Each
    journal is read once while it is unchanged (by size and time); one larger than
    `max_bytes` is skipped, and only the `max_journals` newest are read."""

    def __init__(self, max_journals: int = 50, max_bytes: int = 32 * 1024**2):
        self.max_journals = max_journals
        self.max_bytes = max_bytes
        self._cache: dict[Path, tuple[tuple[int, int], dict[str, list[EarlierAnswer]]]] = {}

    def find(self, journals: Iterable[str | os.PathLike], hashes: set[str], *,
             exclude_session: str | None = None) -> dict[str, list[EarlierAnswer]]:
        """image hash -> the answers in force for it in `journals` (one per annotator: the latest),
        leaving out session `exclude_session`; only hashes that have some."""
        stats = []
        for j in journals:
            p = Path(j)
            try:
                st = p.stat()
            except OSError:
                continue
            if st.st_size <= self.max_bytes:
                stats.append((st.st_mtime_ns, st.st_size, p))
        stats.sort(reverse=True)
        best: dict[str, dict[str, EarlierAnswer]] = {}
        for mtime, size, p in stats[:self.max_journals]:
            for h, answers in self._index(p, (mtime, size)).items():
                if h not in hashes:
                    continue
                for a in answers:
                    if a.session == exclude_session:
                        continue
                    per = best.setdefault(h, {})
                    if a.record.annotator not in per or per[a.record.annotator].record.time < a.record.time:
                        per[a.record.annotator] = a
        return {h: list(per.values()) for h, per in best.items()}

    def _index(self, path: Path, stamp: tuple[int, int]) -> dict[str, list[EarlierAnswer]]:
        cached = self._cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        index: dict[str, list[EarlierAnswer]] = {}
        try:
            contents = read_journal(path, max_bytes=self.max_bytes)
        except JournalError:
            contents = None
        if contents is not None:
            sid = contents.session_id
            for r in resolve(contents.records).values():
                session = r.session or sid
                if r.image_sha256 is None or session is None:
                    continue
                name = path.name.split(".journal.jsonl")[0]
                index.setdefault(r.image_sha256, []).append(EarlierAnswer(r, session, name))
        self._cache[path] = (stamp, index)
        return index
