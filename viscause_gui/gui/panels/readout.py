"""The readout under the canvas: what the observational model, the causal nets and (when an
experiment knows it) the truth say about the image on the canvas."""
from __future__ import annotations

import html
from typing import ClassVar

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont, QFontMetrics, QTextDocument, QTextDocumentFragment
from PySide6.QtWidgets import QFrame, QGridLayout, QGroupBox, QLabel, QSizePolicy, QWidget

from viscause_gui.gui.help import HELP_TEXT
from viscause_gui.gui.models.outcome_text import level_tooltip, many, most_likely
from viscause_gui.gui.models.readout import ObservationalModel
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.colors import class_color, text_color_on
from viscause_gui.gui.widgets.outcome_bars import OutcomeBars
from viscause_gui.gui.widgets.plain_text import plain_tooltip

READOUT_MS = 40      # debounce of the readout
NB_HYPHEN = "\u2011"
ONE_LINE_CHARS = 16    # "needs obs. class": a status of a few words never wraps


def phrases(text: str) -> str:
    """' · '-separated phrases as rich text that wraps between phrases only ("h-bar no · v-bar no"
    broke as "v-" / "bar no" in a narrow readout); a single phrase stays as it is."""
    parts = text.split(" · ")      # <nobr> keeps the spaces, the non-breaking hyphen the hyphens
    if len(parts) == 1:
        return html.escape(text, quote=False)
    return " · ".join(f"<nobr>{html.escape(p).replace('-', NB_HYPHEN)}</nobr>" for p in parts)


def plain(text: str) -> str:
    """What a reader sees of a value: rich text as plain text, non-breaking hyphens as '-'."""
    return QTextDocumentFragment.fromHtml(text).toPlainText().replace(NB_HYPHEN, "-")


def show_value(label: QLabel, text: str) -> None:
    """Show a value whole: a few words on one line (the label is as wide as they are), a longer
    text wrapped between words, a text of phrases (<nobr>) between phrases."""
    wraps = "<nobr>" in text or len(plain(text)) > ONE_LINE_CHARS
    if wraps != label.wordWrap():              # (setWordWrap lays the window out again, even unchanged)
        label.setWordWrap(wraps)
    label.setMinimumWidth(widest_word(label, text) if wraps else 0)
    label.setText(text)


def widest_word(label: QLabel, text: str) -> int:
    """The width of the widest part of `text` no line may break inside: a word, or a <nobr> phrase
    (a wrapping label may be as narrow as its widest word, and Qt breaks a phrase wider anywhere)."""
    doc = QTextDocument()
    doc.setHtml(text)
    bold = QFont(label.font())          # the class chips are bold: measured bold, the widest a part can be
    bold.setBold(True)
    metrics = QFontMetrics(bold)
    return max(metrics.horizontalAdvance(word) for word in doc.toRawText().split(" ")) + 1


def value_label(text_format: Qt.TextFormat = Qt.TextFormat.RichText) -> QLabel:
    """A value of the readout: never narrower than its text or its widest phrase (no Ignored width
    policy: that cut "not trained" to "not trai" at 1280 x 720)."""
    label = QLabel("—")
    label.setTextFormat(text_format)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
    return label


class ValueRows(QGridLayout):
    """'caption: value' rows. (A QFormLayout gave a value that began to wrap one line of height in a
    box tall enough for more: "new (obs 1 never seen …)" under S(i) was clipped at any size.)"""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setContentsMargins(6, 4, 6, 4)
        self.setColumnStretch(1, 1)
        self.setAlignment(Qt.AlignmentFlag.AlignTop)     # a box taller than its rows: rows at its top
        self._captions: dict[QLabel, QLabel] = {}

    def add_row(self, caption: str, value: QLabel) -> None:
        row = self.rowCount() if self.count() else 0
        self._captions[value] = QLabel(caption)
        self.addWidget(self._captions[value], row, 0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        self.addWidget(value, row, 1)

    def set_caption(self, value: QLabel, caption: str) -> None:
        self._captions[value].setText(caption)

    def remove_row(self, value: QLabel) -> None:
        for widget in (self._captions.pop(value), value):
            self.removeWidget(widget)
            widget.deleteLater()


class PredictionReadout(QFrame):
    """What the observational model, the causal nets and the experiment's truth say about the image."""

    SECTIONS: ClassVar[dict[str, tuple[str, tuple[tuple[str, str], ...]]]] = {
        "observational": ("Observational model", (("p_obs", "P(T=1 | I)"), ("obs_class", "obs. class"))),
        "causal": ("Causal model", (("causal", "C(i)"), ("p_causal", "P(T=1 | man(I))"), ("spurious", "S(i)"))),
        "data": ("Data", (("source", "image"),)),
    }

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.truth_box: QGroupBox | None = None      # the data set's experiment knows its truth
        self.truth_values: dict[str, QLabel] = {}     # caption -> its value
        self.obs_model: ObservationalModel | None = None
        self.obs_status = "no observational model yet"
        self.values: dict[str, QLabel] = {}
        self.groups: dict[str, QGroupBox] = {}
        self.forms: dict[str, ValueRows] = {}
        self.bars = OutcomeBars()         # over K > 2 outcomes: P(T | I) and P(T | man(I)) of the image
        self._answers: dict[str, np.ndarray | None] = {"p_obs": None, "p_causal": None}   # what the bars show
        self._spurious_table: dict[tuple[int, int], int] = {}
        self._timer = QTimer(self, singleShot=True, interval=READOUT_MS)
        self._timer.timeout.connect(self.refresh)
        self._layout()
        self.setToolTip(HELP_TEXT)
        state.current_image_changed.connect(self.schedule)
        state.model_changed.connect(self.schedule)
        state.classes_changed.connect(self._on_classes)
        state.dataset_changed.connect(self._on_dataset)
        state.behaviour_changed.connect(self.schedule)
        self._show_truth_box()
        self._name_outcomes()
        self._on_classes()

    def _make_group(self, key: str) -> QGroupBox:
        title, rows = self.SECTIONS[key]
        group = QGroupBox(title, self)
        form = ValueRows(group)
        self.forms[key] = form
        for name, label in rows:
            value = value_label()
            self.values[name] = value
            form.add_row(label + ":", value)
        group.setToolTip(HELP_TEXT)
        self.groups[key] = group
        return group

    def _layout(self) -> None:
        grid = QGridLayout(self)
        grid.setContentsMargins(2, 2, 2, 2)
        self.truth_box = QGroupBox(self)
        self.truth_form = ValueRows(self.truth_box)
        self.truth_box.setToolTip("What the experiment's exact generative model says about the image")
        self.truth_box.setVisible(False)
        boxes = [self._make_group("observational"), self.truth_box, self._make_group("causal"),
                 self._make_group("data")]
        for i, box in enumerate(boxes):
            grid.addWidget(box, i % 2, i // 2)
        self.bars.setVisible(False)
        grid.addWidget(self.bars, 2, 0, 1, 2)
        hint = QLabel("Hover over the readout for what C, S, P(T=1 | I) and P(T=1 | man(I)) mean; "
                      "F1 explains the method.")
        hint.setWordWrap(True)
        hint.setStyleSheet("QLabel { color: #555; }")
        self.hint = hint
        grid.addWidget(hint, 3, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)

    # ----- inputs -----
    def set_obs_model(self, model: ObservationalModel | None, status: str = "") -> None:
        self.obs_model = model
        self.obs_status = status or ("ready" if model is not None else "no observational model yet")
        self.schedule()

    def schedule(self) -> None:
        """Recompute soon (several changes in a burst give one update)."""
        self._timer.start()

    def _on_dataset(self) -> None:
        self.obs_model = None
        self.obs_status = "training…"
        self._show_truth_box()
        self._name_outcomes()
        self.schedule()

    def outcomes(self) -> tuple[str, ...]:
        """The names of T's outcomes (a binary T's without a data set)."""
        data = self.state.dataset
        return ("0", "1") if data is None else data.outcome_names

    def _name_outcomes(self) -> None:
        """Captions and the bar chart for a binary T (P(T=1 …)) or one of K > 2 outcomes (P(T …))."""
        k = many(self.outcomes())
        self.bars.setVisible(k)
        self.forms["observational"].set_caption(self.values["p_obs"], "P(T | I):" if k else "P(T=1 | I):")
        self.forms["causal"].set_caption(self.values["p_causal"], "P(T | man(I)):" if k else "P(T=1 | man(I)):")
        what = "P(T | I) and P(T | man(I))" if k else "P(T=1 | I) and P(T=1 | man(I))"
        self.hint.setText(f"Hover over the readout for what C, S, {what} mean; F1 explains the method.")

    def _show_truth_box(self) -> None:
        """A section for the data set's truth, titled by its experiment (hidden when there is none)."""
        truth = self.state.truth
        self.truth_box.setVisible(truth is not None)
        self.truth_box.setTitle("" if truth is None else truth.title)
        for value in self.truth_values.values():
            self.truth_form.remove_row(value)
        self.truth_values.clear()

    def _on_classes(self) -> None:
        obs, causal, spurious = (self.state.obs_classes(), self.state.causal_classes(),
                                 self.state.spurious_classes())
        self._spurious_table = {}
        if obs is not None and causal is not None and spurious is not None and len(obs):
            # S is a function of (obs, C): one image per pair. A 1-D code, as np.unique over
            # rows (axis=0) sorts structured rows, ~5 ms per 10,000 images on the GUI thread
            obs, causal = np.asarray(obs, np.int64), np.asarray(causal, np.int64)
            span = int(causal.max() - causal.min()) + 1
            _, first = np.unique((obs - obs.min()) * span + (causal - causal.min()), return_index=True)
            self._spurious_table = {(int(obs[i]), int(causal[i])): int(spurious[i]) for i in first}
        self.schedule()

    # ----- output -----
    def refresh(self) -> None:
        image = self.state.current_image
        self._answers = {"p_obs": None, "p_causal": None}
        if image is None:
            for label in self.values.values():
                show_value(label, "—")
        else:
            obs_class = self._show_observational(image)
            causal = self._show_causal(image)
            self._show_spurious(obs_class, causal)
            self._show_truth(image)
            self._show_source()
        if self.bars.isVisible():
            self.bars.show_answers(self.outcomes(), self._answers["p_obs"], self._answers["p_causal"])
        self._fit_height()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.FontChange:       # presenter mode: the values' widths change
            self.schedule()

    def _fit_height(self) -> None:
        """As tall as the wrapped values need at this width. (The canvas panel's layout did not always
        ask again when a value began to wrap: "new (obs 1 never seen …)" showed one line of two.)"""
        self.setMinimumHeight(max(self.heightForWidth(self.width()), 0))

    def _set(self, key: str, text: str, color_class: int | None = None, extra: str = "") -> None:
        """Show text; a class number is shown as a chip in the class colour."""
        if color_class is not None:
            bg = class_color(color_class)
            text = (f"<span style='background-color:{bg.name()}; color:{text_color_on(bg).name()};'>"
                    f"&nbsp;<b>{text}</b>&nbsp;</span>")
        show_value(self.values[key], text + extra)

    def _show_observational(self, image: np.ndarray) -> int | None:
        model = self.obs_model
        if model is None or image.shape != model.in_shape:
            self._set("p_obs", self._t_from_label() or self.obs_status)
            self._set("obs_class", self._data_class("obs") or "—")
            return self._data_class_value("obs")
        pred = model.predict(image[None])
        self._set_answer("p_obs", pred.p_t[0])
        k = int(pred.obs_class[0])
        if k < 0:
            self._set("obs_class", "unknown")
            return None
        self._set("obs_class", f"{k}", k)
        return k

    def _label_is_t(self) -> int | None:
        """The label that is T = 1 on a data set with labels and no T of its own (digit mode: the
        Learning panel sets it; T and the observational classes a run adds come from it)."""
        ds = self.state.dataset
        return None if ds is None or ds.labels is None else self.state.positive_label

    def _t_from_label(self) -> str | None:
        """Digit mode: P(T=1 | I) of a data set image read off its label (an edited image has none)."""
        label = self._label_is_t()
        if label is None:
            return None
        i = self.state.current_index
        if i is None:
            return f"from the label (T = 1 for label {label}); an edited image has none"
        own = self.state.dataset.labels[i]
        return f"{float(own == label):.2f} (label {own}; T = 1 for label {label})"

    def _show_causal(self, image: np.ndarray) -> int | None:
        exp = self.state.experiment
        if exp is None or not exp.nets:
            self._set("causal", "not trained")
            self._set("p_causal", "not trained")
            return None
        try:
            probs = exp.predict_causal(image[None])[0]
        except Exception as exc:  # a net for another image size, a net mid-update
            self._set("causal", f"unavailable ({type(exc).__name__})")
            self._set("p_causal", "—")
            return None
        c = int(np.argmax(probs))
        self._set("causal", f"{c}", c, f"&nbsp; <nobr>(p = {probs[c]:.2f})</nobr>")
        self._set_answer("p_causal", probs @ exp.causal_levels)
        return c

    def _set_answer(self, key: str, value: np.ndarray) -> None:
        """P(T=1 …) as a number, or over K > 2 outcomes the most likely one (the bars show them all)."""
        names = self.outcomes()
        if many(names):
            self._answers[key] = np.asarray(value, np.float64)
            self._set(key, html.escape(most_likely(value, names), quote=False))
        else:
            self._set(key, f"{float(value):.2f}")
        self.values[key].setToolTip(plain_tooltip(level_tooltip(value, names)))

    def _show_spurious(self, obs_class: int | None, causal: int | None) -> None:
        if obs_class is None or causal is None:
            self._set("spurious", "needs C" if causal is None else "needs obs. class")
            return
        s = self._spurious_table.get((obs_class, causal))
        if s is None:
            self._set("spurious", f"new (obs {obs_class} never seen with C = {causal})")
        else:
            self._set("spurious", f"{s}", s)

    def truth_text(self, caption: str) -> str:
        """What the truth section shows for `caption` ("" when it shows no such line)."""
        value = self.truth_values.get(caption)
        return "" if value is None else plain(value.text())

    def _show_truth(self, image: np.ndarray) -> None:
        """The experiment's truth lines (e.g. GRATING's bars and exact probabilities)."""
        truth = self.state.truth
        lines = None if truth is None else truth.readout(image)
        self.truth_box.setEnabled(lines is not None)
        if lines is None:
            for value in self.truth_values.values():
                show_value(value, "does not apply to this image")
            return
        for caption, text in lines:
            if caption not in self.truth_values:
                self.truth_values[caption] = value_label(Qt.TextFormat.AutoText)
                self.truth_form.add_row(caption + ":", self.truth_values[caption])
            show_value(self.truth_values[caption], phrases(text))

    def _show_source(self) -> None:
        i = self.state.current_index
        if i is None or self.state.dataset is None:
            self._set("source", "edited on the canvas")
            return
        parts = [f"#{i}"]
        for kind, name in (("obs", "obs"), ("causal", "C"), ("spurious", "S")):
            k = self._data_class_value(kind)
            if k is not None:
                parts.append(f"{name} {k}")
        ds = self.state.dataset
        label_is_t = self._label_is_t()
        if label_is_t is not None:
            parts.append(f"T {int(ds.labels[i] == label_is_t)}")
        elif ds.t is not None:
            parts.append(f"T {ds.outcome_names[int(ds.t[i])] if many(ds.outcome_names) else int(ds.t[i])}")
        if ds.labels is not None:
            parts.append(f"label {ds.labels[i]}")
        self._set("source", phrases(" · ".join(parts)))

    def _data_class_value(self, kind: str) -> int | None:
        i = self.state.current_index
        arr = {"obs": self.state.obs_classes, "causal": self.state.causal_classes,
               "spurious": self.state.spurious_classes}[kind]()
        return None if i is None or arr is None else int(arr[i])

    def _data_class(self, kind: str) -> str | None:
        k = self._data_class_value(kind)
        return None if k is None else f"{k} (from the data)"
