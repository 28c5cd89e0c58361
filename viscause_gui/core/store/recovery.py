"""Recovery after a crash: the last saved session plus the confirmed journal answers it lacks."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from viscause_gui.core.store.journal import AnswerRecord, JournalError, read_journal
from viscause_gui.core.store.session_reader import load_session
from viscause_gui.core.store.votes import check_images


class RecoveredAnswers(list):
    """The records to replay, in journal order (a list), plus what recovery noticed:
    ``unverified`` (answers whose batch is not in the session yet: check them with
    `check_images` when the batch is generated again), ``mismatched`` (left out: their image
    is not the session's image at that place), ``torn`` / ``skipped`` / ``problems`` (journal)."""

    def __init__(self, records: Iterable[AnswerRecord] = ()):
        super().__init__(records)
        self.unverified: list[AnswerRecord] = []
        self.mismatched: list[AnswerRecord] = []
        self.torn = False
        self.skipped = 0
        self.problems: list[str] = []


def recover(session_path: str | os.PathLike, journal_path: str | os.PathLike) -> tuple[Any, RecoveredAnswers]:
    """(session, answers to replay): the last saved session and every confirmed journal
    record (answers and undos) it does not hold yet, in order.

    Answers whose batch is in the session are checked against its images; mismatches are
    left out (``answers.mismatched``). A missing journal means nothing to replay. Raises
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
