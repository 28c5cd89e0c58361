"""Be the oracle: answer the queued images with the keyboard, one large image at a time.

Keys (the panel must have the keyboard focus; click the image or the panel):
- ``1`` / ``y``: yes (P(T=1) = 1); ``0`` / ``n``: no (P(T=1) = 0). With a digit behaviour
  (the data set has labels) the digit keys name the digit (T = 1 for the chosen digit) and
  ``y`` / ``n`` still mean yes / no; ``?``: no recognisable answer (NaN).
- Enter: keep the shown answer and go on; ``s``: skip; Left / Right: review and change.
- Backspace / Ctrl+Z: undo the last answer.
- Over K > 2 outcomes (the experiment's, or the data set's): one key per outcome, shown on the panel
  beside its name (core/data/outcome_keys.py: the digits, or the names' first letters), and one button
  per outcome; ``?`` as before. Reviewing an answered image shows (and checks the button of) the
  outcome given.

The panel is the view of an AnswerSession (gui/models/answer_session.py): it journals every answer
before the panel advances, hands complete batches to the experiment, and with "answers per image"
k > 1 brings an image back until it has k answers (the disagreement is shown).
"""
from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from viscause_gui.core.data.outcome_keys import key_index, outcome_keys
from viscause_gui.core.method.experiment import QueryBatch
from viscause_gui.core.store.journal import AnswerRecord, Journal
from viscause_gui.gui.models.answer_session import AnswerSession
from viscause_gui.gui.models.answer_text import binary_answers_text, given_outcome, outcome_answers_text
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.images import image_view, is_colour, show_data_image
from viscause_gui.gui.widgets.outcome_buttons import OutcomeButtons
from viscause_gui.gui.widgets.plain_text import plain_label
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


OUTCOME_HELP = ("<small>the key beside each outcome answers it · ? unknown · Enter keep · s skip · "
                "←/→ review · Backspace/Ctrl+Z undo</small>")


class LabellingPanel(QWidget):
    """The oracle queue answered by keyboard: the view of an AnswerSession (models.answer_session), which
    journals every answer first."""

    answered = Signal(object)          # the AnswerRecord / undo record just written
    batch_submitted = Signal(object)   # the QueryBatch handed to state.queue.answer

    def __init__(self, state: AppState, workers: WorkerPool | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.state, self.workers = state, workers
        self.session = AnswerSession(state.queue, lambda: self.state.experiment, self,
                                     data_outcomes=lambda: None if state.dataset is None else state.dataset.outcomes)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._build()
        state.queue.changed.connect(self.refresh)
        state.queue.answer_count = lambda batch: int(self.batch_state(batch)[2].sum())
        state.dataset_changed.connect(self._dataset_changed)
        state.behaviour_changed.connect(self._show_question)
        self._dataset_changed()

    def _build(self) -> None:
        self.progress = QLabel()
        self.progress.setStyleSheet("font-weight: bold")
        self.where = QLabel()
        self.blind = QCheckBox("Blind")
        self.blind.setChecked(True)
        self.blind.setToolTip("Hide the original image, the target class and the model's guess, "
                              "so that the oracle is not led")
        self.blind.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.blind.toggled.connect(self.show_current)
        self.per_image = QSpinBox()
        self.per_image.setRange(1, 20)
        self.per_image.setValue(1)
        self.per_image.setPrefix("answers per image: ")
        self.per_image.setToolTip("Ask for this many answers per image (like several annotators); "
                                  "the oracle's answer is the fraction of yes (over K > 2 outcomes, "
                                  "the share of each outcome)")
        self.per_image.valueChanged.connect(self._per_image_changed)
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
        self.answer_label = plain_label(QLabel())  # the answer(s) of the shown image
        self.answer_label.setStyleSheet("font-size: 14pt")
        self.outcome_buttons = OutcomeButtons()   # over K > 2 outcomes: one per outcome, and '?'
        self.outcome_buttons.chosen.connect(self._button_answer)
        self.outcome_buttons.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.help = QLabel()
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        for widget in (self.question, self.where):
            layout.addWidget(widget)
        layout.addLayout(images, 1)
        for widget in (self.outcome_buttons, self.answer_label, self.info, self.status, self.help):
            layout.addWidget(widget)

    # ----- the answer session, for the session controller, the queue tab and the share window -----
    @property
    def journal(self) -> Journal:
        return self.session.journal

    @property
    def annotator(self) -> str:
        return self.session.annotator

    @property
    def combine(self):
        return self.session.combine

    @combine.setter
    def combine(self, rule) -> None:
        self.session.combine = rule

    @property
    def items(self) -> list[tuple[QueryBatch, int]]:
        return self.session.items

    def close_journal(self) -> None:
        self.session.close_journal()

    def set_journal(self, journal: Journal | None, base_records: list[AnswerRecord] | None = None) -> None:
        self.session.set_journal(journal, base_records)

    def records(self) -> list[AnswerRecord]:
        return self.session.records()

    def batch_state(self, batch: QueryBatch):
        return self.session.batch_state(batch)

    def refresh(self) -> None:
        self.session.refresh()

    def current(self) -> tuple[QueryBatch, int] | None:
        return self.session.current()

    def needed(self) -> int:
        return self.session.needed

    def answered_count(self) -> tuple[int, int]:
        return self.session.answered_count()

    def answer(self, value: float | None, label: int | str | None = None) -> AnswerRecord | None:
        return self.session.answer(value, label)

    def answer_item(self, batch: QueryBatch, i: int, value: float | None) -> AnswerRecord | None:
        return self.session.answer_item(batch, i, value)

    def still_open(self, batch: QueryBatch) -> np.ndarray:
        return self.session.still_open(batch)

    def undo(self) -> AnswerRecord | None:
        return self.session.undo()

    def skip(self) -> None:
        self.session.skip()

    def move(self, step: int) -> None:
        self.session.move(step)

    def accept(self) -> None:
        self.session.accept()

    def submit_complete(self) -> bool:
        return self.session.submit_complete()

    # ----- what a session keeps of the panel (a SettingsPart of controllers.session_content) -----
    def session_settings(self) -> dict:
        return {"blind": self.blind.isChecked(), "answers_per_image": self.session.needed}

    def restore_session_settings(self, settings: Mapping[str, Any]) -> None:
        self.blind.setChecked(bool(settings.get("blind", True)))
        self.per_image.setValue(int(settings.get("answers_per_image", 1) or 1))

    def _per_image_changed(self, k: int) -> None:
        self.session.needed = int(k)
        self.refresh()

    # ----- the data set and the question -----
    @property
    def digit_mode(self) -> bool:
        """T = 1 for one label of a labelled data set: the digit keys name the label."""
        ds = self.state.dataset
        return (ds is not None and ds.labels is not None and self.state.positive_label is not None
                and self.outcome_keys() is None)

    def outcome_keys(self) -> tuple[str, ...] | None:
        """The key of each outcome over K > 2 outcomes; None for a binary T (its keys are yes / no)."""
        names = self.session.outcomes()
        return outcome_keys(names) if len(names) > 2 else None

    def _dataset_changed(self) -> None:
        self._show_question()
        self.refresh()

    def _show_question(self) -> None:
        keys_of = self.outcome_keys()
        self.outcome_buttons.set_outcomes(() if keys_of is None else self.session.outcomes(), keys_of or ())
        self.outcome_buttons.setVisible(keys_of is not None)
        if keys_of is not None:
            self._show_outcome_question(keys_of)
            return
        keys = (f"{self.state.positive_label} or y = yes · another digit or n = no · ? = cannot say"
                if self.digit_mode else "1/y = yes · 0/n = no · ? = cannot say")
        # the keys on a line of their own: a narrow panel wraps the question, never a key in two
        self.question.setText(f"{self.state.question()}<br><span style='font-size: 10pt; font-weight: normal'>"
                              f"{keys.replace(' ', '&nbsp;').replace('&nbsp;·&nbsp;', ' · ')}</span>")
        answer_keys = "digit keys name the digit · y yes · n no" if self.digit_mode else "1/y yes · 0/n no"
        self.help.setText(f"<small>{answer_keys} · ? unknown · Enter keep · s skip · ←/→ review · "
                          "Backspace/Ctrl+Z undo</small>")

    def _show_outcome_question(self, keys: tuple[str, ...]) -> None:
        pairs = [f"{k} = {html.escape(name)}" for k, name in zip(keys, self.session.outcomes())] + ["? = cannot say"]
        shown = " · ".join(pair.replace(" ", "&nbsp;") for pair in pairs)       # a line may wrap between keys only
        self.question.setText(f"{html.escape(self.state.question())}<br><span style='font-size: 10pt; "
                              f"font-weight: normal'>{shown}</span>")
        self.help.setText(OUTCOME_HELP)

    # ----- AnswerView: what the session shows -----
    def show_current(self) -> None:
        done, total = self.session.answered_count()
        self.progress.setText(f"{done} / {total} answered")
        item = self.session.current()
        if item is None:
            for image in (self.image_item, self.original_item):
                image.clear()
            self.original_canvas.setVisible(False)
            self.where.setText("No images wait for an answer.")
            self.answer_label.setText("")
            self.info.setText("")
            return
        batch, i = item
        show_data_image(self.image_item, batch.images[i])
        self.where.setText(batch.describe(i))
        if (self.session.outcomes() if self.outcome_keys() else ()) != self.outcome_buttons.names:
            self._show_question()               # the experiment's outcomes arrived, or changed
        self.answer_label.setText(self._answers_text(batch, i))
        show_original = not self.blind.isChecked() and batch.originals is not None
        self.original_canvas.setVisible(show_original)
        if show_original:
            show_data_image(self.original_item, batch.originals[i])
        self.info.setText("" if self.blind.isChecked() else _hints(batch, i))

    def _answers_text(self, batch: QueryBatch, i: int) -> str:
        value, disagreement, n, _ = self.session.batch_state(batch)
        if value.ndim == 1:
            return binary_answers_text(float(value[i]), float(disagreement[i]), int(n[i]), self.session.needed)
        self.outcome_buttons.mark(*given_outcome(value[i], int(n[i])))
        return outcome_answers_text(value[i], float(disagreement[i]), int(n[i]), self.session.needed,
                                    self.session.outcomes(), self.outcome_keys() or ())

    def _button_answer(self, index: int | None) -> None:
        keys = self.outcome_keys()
        if keys is not None:
            self.answer(None if index is None else float(index), "?" if index is None else keys[index])
        self.setFocus()

    def show_status(self, text: str) -> None:
        self.status.setText(text)

    def show_error(self, text: str) -> None:
        self.status.setText(f"<span style='color:#c0392b'>{text}</span>")

    def record_written(self, record: AnswerRecord) -> None:
        self.answered.emit(record)

    def submitted(self, batch: QueryBatch) -> None:
        self.batch_submitted.emit(batch)

    def shown_image(self) -> np.ndarray | None:
        """The image on screen: grey as it was given (1 = ink), colour as the RGB shown."""
        img = self.image_item.image
        return None if img is None else img if is_colour(img) else 1.0 - img

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
        keys = self.outcome_keys()
        if keys is not None:
            chosen = key_index(keys, text)
            if chosen is not None:
                return lambda: self.answer(float(chosen), keys[chosen])
            return self._moves().get(key)
        if key in YES_KEYS:
            return lambda v=YES_KEYS[key]: self.answer(v, "y" if v else "n")
        if Qt.Key.Key_0 <= key <= Qt.Key.Key_9:
            d = int(key) - int(Qt.Key.Key_0)
            if self.digit_mode:
                return lambda: self.answer(1.0 if d == self.state.positive_label else 0.0, d)
            if d in (0, 1):
                return lambda: self.answer(float(d), d)
            return None
        return self._moves().get(key)

    def _moves(self) -> dict:
        return {Qt.Key.Key_Return: self.accept, Qt.Key.Key_Enter: self.accept,
                Qt.Key.Key_S: self.skip, Qt.Key.Key_Backspace: self.undo,
                Qt.Key.Key_Left: lambda: self.move(-1), Qt.Key.Key_Right: lambda: self.move(1)}

    def event(self, event: QEvent) -> bool:
        # keys we answer with must not trigger the window's one-letter shortcuts (N = noise, ...)
        if event.type() == QEvent.Type.ShortcutOverride and self._key_action(event) is not None:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        action = self._key_action(event)
        if action is None:
            super().keyPressEvent(event)
            return
        event.accept()
        action()

    def mousePressEvent(self, event) -> None:
        self.setFocus()
        super().mousePressEvent(event)


def _hints(batch: QueryBatch, i: int) -> str:
    """The target class, the model's guess and where the original is (shown unless blind)."""
    parts = []
    if batch.targets is not None:
        parts.append(f"target class C = {int(batch.targets[i])}")
    if batch.p_target is not None:
        parts.append(f"model guess P(target) = {float(batch.p_target[i]):.2f}")
    if batch.originals is not None:
        parts.append("original on the right")
    return " · ".join(parts) if parts else "(no target or guess for this image)"
