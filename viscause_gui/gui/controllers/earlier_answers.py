"""Earlier answers offered again (Qt-free).

A session takes only its own answers. Where earlier sessions answered the same images (same
`image_hash`: in the recovery folder's journals, set-aside ones too, and those beside recent
session files), the app offers them, saying how many and from when, and the person decides
(Yes / No, Enter: No). Taken, they are written to this session's journal, each with where it
came from (`reused_from`); not taken, or with no one to ask, they stay where they are.
Only journals whose T has this session's outcomes are searched: a binary session's "yes" (1.0) is no
answer "outcome 1" of a T with K outcomes, nor the other way round.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from viscause_gui.core.method.experiment import QueryBatch
from viscause_gui.core.store.journal import AnswerRecord, JournalError, batch_key, header_outcomes, image_hash
from viscause_gui.core.store.recovery import EarlierAnswers
from viscause_gui.core.store.session import SESSION_SUFFIX, journal_path
from viscause_gui.gui.controllers.session_files import SessionFiles
from viscause_gui.gui.controllers.session_recovery import local_time
from viscause_gui.gui.models.answer_session import AnswerSession
from viscause_gui.gui.models.dialogs import Dialogs, Level


class EarlierAnswersOffer:
    """Looks once per waiting batch for other sessions' answers to its images and offers them."""

    def __init__(self, queue: Any, answers: AnswerSession, files: SessionFiles, dialogs: Dialogs,
                 closing: Callable[[], bool] = lambda: False):
        self.queue, self.answers, self.files, self.dialogs, self.closing = queue, answers, files, dialogs, closing
        self.offered: set[int] = set()    # batches whose earlier answers were looked for
        self.earlier = EarlierAnswers()

    def due(self) -> bool:
        """A waiting batch has not been looked at yet."""
        return any(id(b) not in self.offered for b in self.queue.waiting())

    def journals_to_search(self) -> list[Path]:
        """Journals of other sessions this app knows: the recovery folder's (set aside ones too)
        and those beside recent session files."""
        own = journal_path(self.files.session_file()).resolve()
        found: list[Path] = []
        folders: dict[Path, str | None] = {self.files.recovery_dir: "*"}
        for p in self.files.recent():
            folders.setdefault(Path(p).parent, None)
        for folder in folders:
            try:
                found += [f for f in folder.glob(f"*{SESSION_SUFFIX}.journal.jsonl*") if f.is_file()]
            except OSError:
                continue
        names = self.answers.outcomes()
        return [f for f in dict.fromkeys(found) if f.resolve() != own and journal_outcomes(f) == names]

    def offer(self) -> int:
        """For each new waiting batch, look for other sessions' answers to the same images; when
        there are some, offer them. Returns the number of answers reused."""
        if self.closing():
            return 0
        batches = [b for b in self.queue.waiting() if id(b) not in self.offered]
        self.offered.update(id(b) for b in batches)
        wanted: dict[str, list[tuple[QueryBatch, int]]] = {}
        for batch in batches:
            n = self.answers.batch_state(batch)[2]
            for i, image in enumerate(batch.images):
                if n[i] == 0:                       # this session has no answer for it yet
                    wanted.setdefault(image_hash(image), []).append((batch, i))
        if not wanted:
            return 0
        found = self.earlier.find(self.journals_to_search(), set(wanted), exclude_session=self.files.session_id)
        if not found:
            return 0
        answers = [a for h in found for a in found[h]]
        times = sorted(a.record.time for a in answers)
        text = (f"Earlier answers to these same images were found: {len(answers)} answer(s) to "
                f"{sum(len(wanted[h]) for h in found)} of the {sum(len(b) for b in batches)} image(s) now asked, "
                f"given {_when(times[0], times[-1])} in {len({a.session for a in answers})} earlier session(s) "
                f"({', '.join(sorted({a.where for a in answers})[:3])}).\n\n"
                "This session has no answers yet. Reuse the earlier ones? (No: they stay where they are, "
                "and you answer the images yourself.)")
        if not self.dialogs.ask("Reuse earlier answers?", text, default=False):   # no one to ask: no
            return 0
        journal = self.answers.journal
        written, last = 0, None
        try:
            for h in found:
                for batch, i in wanted[h]:
                    for a in found[h]:
                        r = a.record
                        last = journal.answer(batch_key(batch), i, r.value, annotator=r.annotator, image_sha256=h,
                                              label=r.label, reused_from=f"{a.session}:{r.id}"[:401])
                        written += 1
        except (JournalError, ValueError) as exc:
            self.dialogs.message(Level.WARNING, "Could not reuse the earlier answers",
                                 f"{exc}\n{written} of them were reused.")
        self.answers.refresh()
        if last is not None:
            self._announce(last)
        self.dialogs.status(f"reused {written} earlier answer(s)", 8000)
        self.answers.submit_complete()
        return written

    def _announce(self, record: AnswerRecord) -> None:
        """The journal has new records: the answer session's view says so (the queue view and a
        running share catch up)."""
        self.answers.view.record_written(record)


def journal_outcomes(path: Path) -> tuple[str, ...] | None:
    """The outcomes a journal's header names: a binary T's when it names none, or when its first line is no
    header (a damaged journal is read as a binary T's, as `read_journal` does); None when it cannot be read."""
    try:
        with open(path, "rb") as f:
            line = f.readline(64 * 1024)
    except OSError:
        return None
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("type") != "header":
        header = None
    try:
        return tuple(str(n) for n in header_outcomes(header))
    except TypeError:
        return None


def _when(first: str, last: str) -> str:
    a, b = local_time(first), local_time(last)
    return f"on {a}" if a == b else f"between {a} and {b}"
