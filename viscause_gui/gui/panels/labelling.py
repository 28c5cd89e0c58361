"""Be the oracle: answer the queued images with the keyboard, one large image at a time.

Keys (the panel must have the keyboard focus; click the image or the panel):
- ``1`` / ``y``: yes (P(T=1) = 1); ``0`` / ``n``: no (P(T=1) = 0). With a digit behaviour
  (the data set has labels) the digit keys name the digit (T = 1 for the chosen digit) and
  ``y`` / ``n`` still mean yes / no; ``?``: no recognisable answer (NaN).
- Enter: keep the shown answer and go on; ``s``: skip; Left / Right: review and change.
- Backspace / Ctrl+Z: undo the last answer.

Every answer goes first to the answer journal (`core.journal.Journal`, fsync'ed before
`Journal.answer` returns), and only then does the panel advance. When every image of a
batch has its answers, the batch goes to `state.queue.answer` and the loop goes on by
itself. With "answers per image" k > 1 an image comes back until it has k answers (one per
pass, annotators ``user``, ``user#2``, ...); the oracle's answer is then the fraction of yes
(`journal.batch_votes`) and the disagreement is shown.

Which answers belong to which queued image is decided by the journal records alone (batch
key and image hash), so answers replayed from a recovered journal are picked up as they are.
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from viscause_gui.core.method.experiment import QueryBatch
from viscause_gui.core.store.journal import AnswerRecord, Journal, JournalError, batch_key, image_hash
from viscause_gui.core.store.votes import batch_votes, resolve
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.images import image_view, is_colour, show_data_image
from viscause_gui.gui.widgets.plots import GraphicsView
from viscause_gui.gui.workers import WorkerPool

YES_KEYS = {Qt.Key.Key_Y: 1.0, Qt.Key.Key_N: 0.0}
HANDLED_KEYS = {Qt.Key.Key_Y, Qt.Key.Key_N, Qt.Key.Key_S, Qt.Key.Key_Question, Qt.Key.Key_Return,
                Qt.Key.Key_Enter, Qt.Key.Key_Backspace, Qt.Key.Key_Left, Qt.Key.Key_Right,
                *(getattr(Qt.Key, f"Key_{d}") for d in range(10))}


def _image_view() -> tuple[GraphicsView, pg.ImageItem]:
    canvas, item = image_view()
    canvas.setFocusPolicy(Qt.FocusPolicy.NoFocus)      # keys stay with the panel
    return canvas, item


class LabellingPanel(QWidget):
    """The oracle queue answered by keyboard. `journal` receives every answer first."""

    answered = Signal(object)          # the AnswerRecord / undo record just written
    batch_submitted = Signal(object)   # the QueryBatch handed to state.queue.answer

    def __init__(self, state: AppState, workers: WorkerPool | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.state, self.workers = state, workers
        self.annotator = "user"
        self._journal: Journal | None = None
        self._tmpdir: tempfile.TemporaryDirectory | None = None
        self.base_records: list[AnswerRecord] = []     # answers saved in the session (not in the journal)
        self.items: list[tuple[QueryBatch, int]] = []
        self.pos = 0
        self._hashes: dict[int, list[str]] = {}         # id(batch) -> image hash per index
        self._undo_stack: list[AnswerRecord] = []
        self._state_cache: dict[int, tuple] = {}        # id(batch) -> (records token, batch, batch_state)
        # (batch, its records in force) -> P(T=1) per image: how a complete batch's answers combine
        # (None: the fraction of yes; Share -> Let others answer sets a majority vote)
        self.combine = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        self.progress = QLabel()
        self.progress.setStyleSheet("font-weight: bold")
        self.where = QLabel()
        self.blind = QCheckBox("Blind")
        self.blind.setChecked(True)
        self.blind.setToolTip("Hide the original image, the target class and the model's guess, "
                              "so that the oracle is not led")
        self.blind.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.blind.toggled.connect(self._show_current)
        self.per_image = QSpinBox()
        self.per_image.setRange(1, 20)
        self.per_image.setValue(1)
        self.per_image.setPrefix("answers per image: ")
        self.per_image.setToolTip("Ask for this many answers per image (like several annotators); "
                                  "the oracle's answer is the fraction of yes")
        self.per_image.valueChanged.connect(lambda _v: self.refresh())
        self.per_image.setFocusPolicy(Qt.FocusPolicy.ClickFocus)   # the keys belong to the answers
        self.per_image.editingFinished.connect(self.setFocus)
        self.question = QLabel()             # what the oracle is asked, in words
        self.question.setStyleSheet("font-size: 13pt; font-weight: bold")
        self.question.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.progress)
        top.addStretch(1)
        for w in (self.per_image, self.blind):
            top.addWidget(w)

        self.canvas, self.image_item = _image_view()
        self.original_canvas, self.original_item = _image_view()
        self.original_canvas.setMaximumWidth(160)
        images = QHBoxLayout()
        images.addWidget(self.canvas, 3)
        images.addWidget(self.original_canvas, 1)
        self.info = QLabel()                 # target class, model guess (not blind)
        self.answer_label = QLabel()         # the answer(s) of the shown image
        self.answer_label.setStyleSheet("font-size: 14pt")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.help = QLabel("<small>1/y yes · 0/n no · ? unknown · Enter keep · s skip · ←/→ review · "
                           "Backspace/Ctrl+Z undo</small>")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.question)
        layout.addWidget(self.where)
        layout.addLayout(images, 1)
        layout.addWidget(self.answer_label)
        layout.addWidget(self.info)
        layout.addWidget(self.status)
        layout.addWidget(self.help)
        state.queue.changed.connect(self.refresh)
        state.queue.answer_count = lambda batch: int(self.batch_state(batch)[2].sum())
        state.dataset_changed.connect(self._dataset_changed)
        state.behaviour_changed.connect(self._show_question)
        self._dataset_changed()

    # ----- the journal -----
    @property
    def journal(self) -> Journal:
        """The journal answers go to (a temporary one until a session controller sets one)."""
        if self._journal is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="viscause-answers-")
            self._journal = Journal(Path(self._tmpdir.name) / "unsaved.journal.jsonl", annotator=self.annotator)
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

    # ----- queue -----
    @property
    def digit_mode(self) -> bool:
        """T = 1 for one label of a labelled data set: the digit keys name the label."""
        ds = self.state.dataset
        return ds is not None and ds.labels is not None and self.state.positive_label is not None

    def _dataset_changed(self) -> None:
        self._show_question()
        self.refresh()

    def _show_question(self) -> None:
        keys = (f"{self.state.positive_label} or y = yes · another digit or n = no · ? = cannot say"
                if self.digit_mode else "1/y = yes · 0/n = no · ? = cannot say")
        # the keys on a line of their own: a narrow panel wraps the question, never a key in two
        self.question.setText(f"{self.state.question()}<br><span style='font-size: 10pt; font-weight: normal'>"
                              f"{keys.replace(' ', '&nbsp;').replace('&nbsp;·&nbsp;', ' · ')}</span>")
        answer_keys = "digit keys name the digit · y yes · n no" if self.digit_mode else "1/y yes · 0/n no"
        self.help.setText(f"<small>{answer_keys} · ? unknown · Enter keep · s skip · ←/→ review · "
                          "Backspace/Ctrl+Z undo</small>")

    def _batch_hashes(self, batch: QueryBatch) -> list[str]:
        h = self._hashes.get(id(batch))
        if h is None or len(h) != len(batch):
            h = self._hashes[id(batch)] = [image_hash(im) for im in batch.images]
        return h

    def batch_state(self, batch: QueryBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[AnswerRecord]]:
        """(value, disagreement, n, records in force) of a queued batch from the journal."""
        journal = self._journal
        token = (id(journal), len(self.base_records), 0 if journal is None else len(journal.records))
        cached = self._state_cache.get(id(batch))
        if cached is not None and cached[0] == token and cached[1] is batch:
            return cached[2]
        key, hashes = batch_key(batch), self._batch_hashes(batch)
        mine = [r for r in self.records() if r.type == "undo" or (
            r.batch == key and 0 <= r.index < len(batch)
            and (r.image_sha256 is None or r.image_sha256 == hashes[r.index]))]
        value, disagreement, n = batch_votes(mine, key, len(batch))
        result = (value, disagreement, n, mine)
        self._state_cache[id(batch)] = (token, batch, result)
        return result

    def refresh(self) -> None:
        current = self.current()
        batches = self.state.queue.waiting()
        live = {id(b) for b in batches}
        self._hashes = {k: v for k, v in self._hashes.items() if k in live}
        self._state_cache = {k: v for k, v in self._state_cache.items() if k in live}
        self.items = [(b, i) for b in batches for i in range(len(b))]
        self.pos = 0
        if current is not None:
            for p, (b, i) in enumerate(self.items):
                if b is current[0] and i == current[1]:
                    self.pos = p
                    break
            else:
                self.pos = self._next_open(-1)
        else:
            self.pos = self._next_open(-1)
        self._show_current()

    def current(self) -> tuple[QueryBatch, int] | None:
        return self.items[self.pos] if 0 <= self.pos < len(self.items) else None

    def needed(self) -> int:
        return self.per_image.value()

    def _counts(self) -> dict[int, np.ndarray]:
        out = {}
        for b, _ in self.items:
            if id(b) not in out:
                out[id(b)] = self.batch_state(b)[2]
        return out

    def _next_open(self, start: int, counts: dict[int, np.ndarray] | None = None) -> int:
        """The first item after `start` (wrapping) that still needs an answer; else start (or 0)."""
        if not self.items:
            return 0
        counts = counts if counts is not None else self._counts()
        k, m = self.needed(), len(self.items)
        for step in range(1, m + 1):
            p = (start + step) % m
            b, i = self.items[p]
            if counts[id(b)][i] < k:
                return p
        return min(max(start, 0), m - 1)

    def answered_count(self) -> tuple[int, int]:
        counts = self._counts()
        k = self.needed()
        done = sum(int(counts[id(b)][i] >= k) for b, i in self.items)
        return done, len(self.items)

    # ----- showing -----
    def _show_current(self) -> None:
        done, total = self.answered_count()
        self.progress.setText(f"{done} / {total} answered")
        item = self.current()
        if item is None:
            self.image_item.clear()
            self.original_item.clear()
            self.original_canvas.setVisible(False)
            self.where.setText("No images wait for an answer.")
            self.answer_label.setText("")
            self.info.setText("")
            return
        batch, i = item
        show_data_image(self.image_item, batch.images[i])
        self.where.setText(batch.describe(i))
        value, disagreement, n, mine = self.batch_state(batch)
        k = self.needed()
        if n[i] == 0:
            text = "not answered yet"
        elif k == 1 and n[i] == 1:
            text = f"your answer: {_value_text(value[i])}"
        else:
            frac = "?" if not np.isfinite(value[i]) else f"{value[i]:.2f}"
            text = f"{int(n[i])}/{k} answers · yes fraction {frac}"
            if np.isfinite(disagreement[i]):
                text += f" · disagreement {disagreement[i]:.2f}"
        self.answer_label.setText(text)
        blind = self.blind.isChecked()
        show_original = not blind and batch.originals is not None
        self.original_canvas.setVisible(show_original)
        if show_original:
            show_data_image(self.original_item, batch.originals[i])
        if blind:
            self.info.setText("")
        else:
            parts = []
            if batch.targets is not None:
                parts.append(f"target class C = {int(batch.targets[i])}")
            if batch.p_target is not None:
                parts.append(f"model guess P(target) = {float(batch.p_target[i]):.2f}")
            if batch.originals is not None:
                parts.append("original on the right")
            self.info.setText(" · ".join(parts) if parts else "(no target or guess for this image)")

    def shown_image(self) -> np.ndarray | None:
        """The image on screen: grey as it was given (1 = ink), colour as the RGB shown."""
        img = self.image_item.image
        return None if img is None else img if is_colour(img) else 1.0 - img

    # ----- answering -----
    def answer(self, value: float | None, label: int | str | None = None) -> AnswerRecord | None:
        """Answer the shown image (P(T=1), None/NaN = '?'): journal first, then advance."""
        item = self.current()
        if item is None:
            return None
        batch, i = item
        _, _, n, mine = self.batch_state(batch)
        k = self.needed()
        annotator = self._annotator_for(batch, i, mine, int(n[i]), k)
        try:
            record = self.journal.answer(batch_key(batch), i, value, annotator=annotator,
                                         image_sha256=self._batch_hashes(batch)[i], label=label)
        except (JournalError, ValueError) as exc:
            self._error(f"The answer was NOT saved: {exc}")
            return None
        self._undo_stack.append(record)
        self.answered.emit(record)
        self.status.setText("")
        if not self.submit_complete():
            counts = self._counts()
            self.pos = self._next_open(self.pos, counts)
            self._show_current()
        return record

    def answer_item(self, batch: QueryBatch, i: int, value: float | None) -> AnswerRecord | None:
        """Answer image i of a queued batch from elsewhere (the Learning panel's queue): the same
        journalled path as a key press here."""
        if not any(b is batch and k == i for b, k in self.items):
            self.refresh()
        for p, (b, k) in enumerate(self.items):
            if b is batch and k == i:
                self.pos = p
                return self.answer(value)
        self._error("That image no longer waits for an answer.")
        return None

    def still_open(self, batch: QueryBatch) -> np.ndarray:
        """Per image of the batch: True while it has fewer answers than asked for."""
        return self.batch_state(batch)[2] < self.needed()

    def _annotator_for(self, batch: QueryBatch, i: int, mine: list[AnswerRecord], n: int, k: int) -> str:
        if k == 1:
            return self.annotator
        in_force = {a for (b, idx, a) in resolve(mine) if b == batch_key(batch) and idx == i}
        for j in range(1, k + 1):
            name = self.annotator if j == 1 else f"{self.annotator}#{j}"
            if name not in in_force:
                return name
        # every pass answered: reviewing changes the last pass's answer
        return self.annotator if k == 1 else f"{self.annotator}#{k}"

    def undo(self) -> AnswerRecord | None:
        """Undo this panel's last answer (journal first) and show its image again."""
        journal_ids = {r.id for r in self.records()}
        undone = {r.target for r in self.records() if r.type == "undo"}
        while self._undo_stack:
            target = self._undo_stack.pop()
            if target.id not in journal_ids or target.id in undone:
                continue
            if not any(batch_key(b) == target.batch for b, _ in self.items):
                self.status.setText("That answer's batch was already handed to the experiment; "
                                    "it cannot be undone here.")
                self._undo_stack.clear()
                return None
            try:
                record = self.journal.undo(target)
            except (JournalError, ValueError) as exc:
                self._error(f"The undo was NOT saved: {exc}")
                return None
            self.answered.emit(record)
            for p, (b, i) in enumerate(self.items):
                if batch_key(b) == target.batch and i == target.index:
                    self.pos = p
                    break
            self.status.setText("Undone.")
            self._show_current()
            return record
        self.status.setText("Nothing to undo.")
        return None

    def skip(self) -> None:
        if self.items:
            self.pos = self._next_open(self.pos)
            self._show_current()

    def move(self, step: int) -> None:
        if self.items:
            self.pos = (self.pos + step) % len(self.items)
            self._show_current()

    def accept(self) -> None:
        """Enter: keep the shown answer and go on (an unanswered image needs a key)."""
        item = self.current()
        if item is None:
            return
        n = self.batch_state(item[0])[2]
        if n[item[1]] >= self.needed():
            self.pos = self._next_open(self.pos)
            self._show_current()
        else:
            self.status.setText("No answer to keep yet: press 1/y, 0/n or ?.")

    def submit_complete(self) -> bool:
        """Hand every fully answered queued batch to state.queue.answer. True if one left."""
        submitted = False
        for batch in self.state.queue.waiting():
            value, _, n, mine = self.batch_state(batch)
            if len(batch) and np.all(n >= self.needed()):
                if self.combine is not None:
                    value = self.combine(batch, mine)
                try:
                    self.state.queue.answer(batch, value, self.state.experiment)
                except ValueError as exc:
                    self._error(f"Could not use the answers of this batch: {exc}. "
                                "Review them with ←/→ and change some.")
                    continue
                submitted = True
                self.batch_submitted.emit(batch)
        if submitted:
            self.refresh()
        return submitted

    def _error(self, text: str) -> None:
        self.status.setText(f"<span style='color:#c0392b'>{text}</span>")

    # ----- keys -----
    def _key_action(self, event: QKeyEvent):
        key = event.key()
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        ctrl = Qt.KeyboardModifier.ControlModifier
        if key == Qt.Key.Key_Z and mods == ctrl:
            return self.undo
        text = event.text()
        if mods & (ctrl | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier):
            return None
        if key == Qt.Key.Key_Question or text == "?":
            return lambda: self.answer(None, "?")
        if key in YES_KEYS:
            return lambda v=YES_KEYS[key]: self.answer(v, "y" if v else "n")
        if Qt.Key.Key_0 <= key <= Qt.Key.Key_9:
            d = int(key) - int(Qt.Key.Key_0)
            if self.digit_mode:
                return lambda: self.answer(1.0 if d == self.state.positive_label else 0.0, d)
            if d in (0, 1):
                return lambda: self.answer(float(d), d)
            return None
        return {Qt.Key.Key_Return: self.accept, Qt.Key.Key_Enter: self.accept,
                Qt.Key.Key_S: self.skip, Qt.Key.Key_Backspace: self.undo,
                Qt.Key.Key_Left: lambda: self.move(-1), Qt.Key.Key_Right: lambda: self.move(1)}.get(key)

    def event(self, event: QEvent) -> bool:  # noqa: D401 - Qt API
        # keys we answer with must not trigger the window's one-letter shortcuts (N = noise, ...)
        if event.type() == QEvent.Type.ShortcutOverride and self._key_action(event) is not None:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        action = self._key_action(event)
        if action is None:
            super().keyPressEvent(event)
            return
        event.accept()
        action()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.setFocus()
        super().mousePressEvent(event)


def _value_text(v: float) -> str:
    if not math.isfinite(v):
        return "?"
    if v == 1.0:
        return "yes (1)"
    if v == 0.0:
        return "no (0)"
    return f"{v:.2f}"
