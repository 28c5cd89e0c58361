"""Answering the oracle queue one image at a time (Qt-free): the items, the position, the journal, undo,
several answers per image (annotators `user`, `user#2`, ...) and the rule that combines them.

Every answer goes first to the answer journal (core.store.journal.Journal, fsync'ed before
`Journal.answer` returns), and only then does the position advance. When every image of a batch
has its answers, the batch goes to `queue.answer` and the loop goes on by itself. With k answers
per image an image comes back until it has k (one per pass); the oracle's answer is then the
fraction of yes (`votes.batch_votes`), or what `combine` says (Share -> Let others answer sets a
majority vote). Which answers belong to which queued image is decided by the journal records alone
(batch key and image hash), so answers replayed from a recovered journal or written by the share
server are picked up as they are. The Oracle (label) panel, the queue tab and the share window use
one AnswerSession; its view (`AnswerView`) is told what to show.

Over K > 2 outcomes (the experiment's, or the data set's before there is one) an answer is the index of
the outcome observed, journalled as such in a version-2 journal; a batch's answers are the share of each
outcome per image, (B, K) rows (`votes.batch_votes`), handed on as outcome indices where each image has
one outcome (or none), which `Experiment.answer` takes as the same one-hot rows.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from viscause_gui.core.data.outcomes import default_names
from viscause_gui.core.method.experiment import Experiment, QueryBatch
from viscause_gui.core.store.journal import AnswerRecord, Journal, JournalError, batch_key, image_hash
from viscause_gui.core.store.votes import batch_votes, resolve

Combine = Callable[[QueryBatch, list[AnswerRecord]], np.ndarray]
Names = Callable[[], tuple[str, ...] | None]
BINARY = default_names(2)
BatchState = tuple[np.ndarray, np.ndarray, np.ndarray, list[AnswerRecord]]


class AnswerView(Protocol):
    def show_current(self) -> None: ...
    def show_status(self, text: str) -> None: ...
    def show_error(self, text: str) -> None: ...
    def record_written(self, record: AnswerRecord) -> None: ...      # an answer or an undo, journalled
    def submitted(self, batch: QueryBatch) -> None: ...


class AnswerSession:
    """The queue's images to answer, where a person is, and every answer and undo (journal first)."""

    def __init__(self, queue: Any, experiment: Callable[[], Experiment | None], view: AnswerView,
                 annotator: str = "user", data_outcomes: Names = lambda: None):
        """`data_outcomes`: the names of T's outcomes while there is no experiment (the data set's)."""
        self.queue, self.experiment, self.view = queue, experiment, view
        self.data_outcomes = data_outcomes
        self.annotator = annotator
        self.needed = 1                                 # answers asked for per image
        self.combine: Combine | None = None             # None: the fraction of yes
        self.base_records: list[AnswerRecord] = []      # answers saved in the session (not in the journal)
        self.items: list[tuple[QueryBatch, int]] = []
        self.pos = 0
        self._journal: Journal | None = None
        self._tmpdir: tempfile.TemporaryDirectory | None = None
        self._hashes: dict[int, list[str]] = {}         # id(batch) -> image hash per index
        self._undo_stack: list[AnswerRecord] = []
        self._state_cache: dict[int, tuple] = {}        # id(batch) -> (records token, batch, batch_state)

    # ----- T's outcomes -----
    def outcomes(self) -> tuple[str, ...]:
        """The names of T's outcomes: the experiment's, else the data set's, else a binary T's."""
        exp = self.experiment()
        names = exp.outcomes if exp is not None else self.data_outcomes()
        return tuple(names) if names else BINARY

    @property
    def n_outcomes(self) -> int:
        return len(self.outcomes())

    def journal_outcomes(self) -> tuple[str, ...] | None:
        """What a new journal is opened with: the names over K > 2 outcomes, None for a binary T."""
        names = self.outcomes()
        return names if len(names) > 2 else None

    # ----- the journal -----
    @property
    def journal(self) -> Journal:
        """The journal answers go to (a temporary one until a session controller sets one)."""
        if self._journal is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="viscause-answers-")
            self._journal = Journal(Path(self._tmpdir.name) / "unsaved.journal.jsonl", annotator=self.annotator,
                                    outcomes=self.journal_outcomes())
        return self._journal

    def close_journal(self) -> None:
        """Close the journal file (every answer in it is on disk already)."""
        if self._journal is not None:
            self._journal.close()

    def set_journal(self, journal: Journal | None, base_records: list[AnswerRecord] | None = None) -> None:
        """Use `journal` from now on; `base_records`: answers already saved in the session."""
        if self._journal is not None and self._journal is not journal:
            self._journal.close()
        self._journal = journal
        self.base_records = list(base_records or [])
        self._undo_stack.clear()
        self._state_cache.clear()
        self.refresh()
        self.submit_complete()

    def records(self) -> list[AnswerRecord]:
        """Every answer and undo: the session's, then the journal's (each id once)."""
        seen = {r.id for r in self.base_records}
        journal = self._journal.records if self._journal is not None else []
        return [*self.base_records, *(r for r in journal if r.id not in seen)]

    # ----- what waits, and where a person is -----
    def batch_state(self, batch: QueryBatch) -> BatchState:
        """(value, disagreement, n, records in force) of a queued batch from the journal; over K > 2
        outcomes value is (B, K), the share of each outcome per image."""
        journal, k = self._journal, self.n_outcomes
        token = (id(journal), len(self.base_records), 0 if journal is None else len(journal.records), k)
        cached = self._state_cache.get(id(batch))
        if cached is not None and cached[0] == token and cached[1] is batch:
            return cached[2]
        key, hashes = batch_key(batch), self._batch_hashes(batch)
        mine = [r for r in self.records() if r.type == "undo" or (
            r.batch == key and 0 <= r.index < len(batch)
            and (r.image_sha256 is None or r.image_sha256 == hashes[r.index]))]
        value, disagreement, n = batch_votes(mine, key, len(batch), outcomes=k)
        result = (value, disagreement, n, mine)
        self._state_cache[id(batch)] = (token, batch, result)
        return result

    def _batch_hashes(self, batch: QueryBatch) -> list[str]:
        h = self._hashes.get(id(batch))
        if h is None or len(h) != len(batch):
            h = self._hashes[id(batch)] = [image_hash(im) for im in batch.images]
        return h

    def refresh(self) -> None:
        """The queue's images again (the same image stays current when it still waits)."""
        current = self.current()
        batches = self.queue.waiting()
        live = {id(b) for b in batches}
        self._hashes = {k: v for k, v in self._hashes.items() if k in live}
        self._state_cache = {k: v for k, v in self._state_cache.items() if k in live}
        self.items = [(b, i) for b in batches for i in range(len(b))]
        at = next((p for p, (b, i) in enumerate(self.items)
                   if current is not None and b is current[0] and i == current[1]), None)
        self.pos = self._next_open(-1) if at is None else at
        self.view.show_current()

    def current(self) -> tuple[QueryBatch, int] | None:
        return self.items[self.pos] if 0 <= self.pos < len(self.items) else None

    def _counts(self) -> dict[int, np.ndarray]:
        out = {}
        for b, _ in self.items:
            if id(b) not in out:
                out[id(b)] = self.batch_state(b)[2]
        return out

    def _next_open(self, start: int) -> int:
        """The first item after `start` (wrapping) that still needs an answer; else start (or 0)."""
        if not self.items:
            return 0
        counts, m = self._counts(), len(self.items)
        for step in range(1, m + 1):
            p = (start + step) % m
            b, i = self.items[p]
            if counts[id(b)][i] < self.needed:
                return p
        return min(max(start, 0), m - 1)

    def answered_count(self) -> tuple[int, int]:
        counts = self._counts()
        done = sum(int(counts[id(b)][i] >= self.needed) for b, i in self.items)
        return done, len(self.items)

    def still_open(self, batch: QueryBatch) -> np.ndarray:
        """Per image of the batch: True while it has fewer answers than asked for."""
        return self.batch_state(batch)[2] < self.needed

    # ----- answering -----
    def answer(self, value: float | None, label: int | str | None = None) -> AnswerRecord | None:
        """Answer the current image (P(T=1); over K > 2 outcomes the outcome's index; None/NaN = '?'):
        journal first, then advance."""
        item = self.current()
        if item is None:
            return None
        batch, i = item
        _, _, _n, mine = self.batch_state(batch)
        annotator = self._annotator_for(batch, i, mine)
        try:
            record = self.journal.answer(batch_key(batch), i, value, annotator=annotator,
                                         image_sha256=self._batch_hashes(batch)[i], label=label)
        except (JournalError, ValueError) as exc:
            self.view.show_error(f"The answer was NOT saved: {exc}")
            return None
        self._undo_stack.append(record)
        self.view.record_written(record)
        self.view.show_status("")
        if not self.submit_complete():
            self.pos = self._next_open(self.pos)
            self.view.show_current()
        return record

    def answer_item(self, batch: QueryBatch, i: int, value: float | None) -> AnswerRecord | None:
        """Answer image i of a queued batch from elsewhere (the queue tab): the same journalled path."""
        if not any(b is batch and k == i for b, k in self.items):
            self.refresh()
        for p, (b, k) in enumerate(self.items):
            if b is batch and k == i:
                self.pos = p
                return self.answer(value)
        self.view.show_error("That image no longer waits for an answer.")
        return None

    def _annotator_for(self, batch: QueryBatch, i: int, mine: list[AnswerRecord]) -> str:
        k = self.needed
        if k == 1:
            return self.annotator
        in_force = {a for (b, idx, a) in resolve(mine) if b == batch_key(batch) and idx == i}
        for j in range(1, k + 1):
            name = self.annotator if j == 1 else f"{self.annotator}#{j}"
            if name not in in_force:
                return name
        return f"{self.annotator}#{k}"         # every pass answered: reviewing changes the last pass's answer

    def undo(self) -> AnswerRecord | None:
        """Undo this person's last answer (journal first) and show its image again."""
        records = self.records()
        journal_ids, undone = {r.id for r in records}, {r.target for r in records if r.type == "undo"}
        while self._undo_stack:
            target = self._undo_stack.pop()
            if target.id not in journal_ids or target.id in undone:
                continue
            if not any(batch_key(b) == target.batch for b, _ in self.items):
                self.view.show_status("That answer's batch was already handed to the experiment; it cannot be "
                                      "undone here.")
                self._undo_stack.clear()
                return None
            try:
                record = self.journal.undo(target)
            except (JournalError, ValueError) as exc:
                self.view.show_error(f"The undo was NOT saved: {exc}")
                return None
            self.view.record_written(record)
            self.pos = next((p for p, (b, i) in enumerate(self.items)
                             if batch_key(b) == target.batch and i == target.index), self.pos)
            self.view.show_status("Undone.")
            self.view.show_current()
            return record
        self.view.show_status("Nothing to undo.")
        return None

    def skip(self) -> None:
        if self.items:
            self.pos = self._next_open(self.pos)
            self.view.show_current()

    def move(self, step: int) -> None:
        if self.items:
            self.pos = (self.pos + step) % len(self.items)
            self.view.show_current()

    def accept(self) -> None:
        """Enter: keep the shown answer and go on (an unanswered image needs a key)."""
        item = self.current()
        if item is None:
            return
        if self.batch_state(item[0])[2][item[1]] >= self.needed:
            self.skip()
        else:
            self.view.show_status("No answer to keep yet: press an outcome's key or ?." if self.n_outcomes > 2
                                  else "No answer to keep yet: press 1/y, 0/n or ?.")

    def submit_complete(self) -> bool:
        """Hand every fully answered queued batch to queue.answer. True if one left."""
        submitted = False
        for batch in self.queue.waiting():
            value, _, n, mine = self.batch_state(batch)
            if not len(batch) or not np.all(n >= self.needed):
                continue
            if self.combine is not None:
                value = self.combine(batch, mine)
            try:
                self.queue.answer(batch, handed_on(value), self.experiment())
            except ValueError as exc:
                self.view.show_error(f"Could not use the answers of this batch: {exc}. Review them with ←/→ and "
                                     "change some.")
                continue
            submitted = True
            self.view.submitted(batch)
        if submitted:
            self.refresh()
        return submitted


def handed_on(value: np.ndarray) -> np.ndarray:
    """A batch's answers as the queue takes them: (B, K) rows over K > 2 outcomes become the outcome's
    index where every image has one outcome or none (a one-hot row, or a NaN row: '?'), the form
    `Experiment.answer` makes into the same rows; rows that mix outcomes (several annotators who
    disagree) stay rows. P(T=1) per image (B,) is handed on as it is."""
    value = np.asarray(value, np.float64)
    if value.ndim != 2:
        return value
    known = np.isfinite(value).all(axis=1)
    one_hot = np.isclose(value[known], 1.0).sum(axis=1) == 1
    if not one_hot.all():
        return value
    out = np.full(len(value), np.nan)
    out[known] = value[known].argmax(axis=1)
    return out
