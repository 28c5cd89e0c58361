"""The run settings' controls (oracle, T's label, N, Q, queries by, α, seed, epochs), bound both ways to a
RunForm: a person's change goes to the form, the form's change (a session, a lesson) shows here."""
from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QSpinBox,
                               QWidget)

from viscause_gui.core.method.limits import LEARNING_LIMITS
from viscause_gui.core.method.query_choice import DESCRIPTIONS as QUERY_CHOICE_DESCRIPTIONS
from viscause_gui.core.method.query_choice import QUERY_CHOICES
from viscause_gui.gui.models.run_form import RunForm

ORACLES = (("truth", "Truth (the exact generative model)"), ("model", "Model oracle (a trained classifier)"),
           ("human", "Human (you answer in the queue)"), ("python", "Python function…"),
           ("model_file", "Model file (torch/ONNX)…"))
SPINS = (("label", "T = 1 for label", "With a labelled data set and no observed T: T = 1 for images with this label "
          "(e.g. the digit d)"),
         ("iterations", "Iterations N", "Algorithm 2 iterations to run with 'Run Algorithm 2'"),
         ("queries", "Queries Q", "Queries Q: images manipulated and sent to the oracle per iteration"),
         ("seed", "Seed", "Seed of the experiment (same seed, same run)"),
         ("epochs", "Epochs", "Epochs of the first training of the causal net"),
         ("retrain_epochs", "Retrain epochs", "Epochs of each later retraining"))


class RunFormBox:
    """Builds the controls into a grid and keeps them and the form in step (not a widget itself: the
    Learning panel lays the grid out)."""

    def __init__(self, form: RunForm, grid: QGridLayout):
        self.form = form
        self.oracle_combo = QComboBox()
        for key, text in ORACLES:
            self.oracle_combo.addItem(text, key)
        self.oracle_combo.setToolTip("Who answers P(T=1 | man(I)): the exact generative model (where an "
                                     "experiment knows it, e.g. GRATING), a classifier standing in for "
                                     "people, or you")
        self.spins = {key: _spin(key, getattr(form, key), tip) for key, _caption, tip in SPINS}
        self.queries_by_combo = QComboBox()
        for key in QUERY_CHOICES:
            self.queries_by_combo.addItem(key, key)
        self.queries_by_combo.setToolTip("Queries by: how Algorithm 2 chooses the Q images it asks about.<br>"
                                         + "<br>".join(f"• {QUERY_CHOICE_DESCRIPTIONS[k]}" for k in QUERY_CHOICES))
        self.queries_by_combo.setAccessibleName("Queries by")
        self.alpha_spin = QDoubleSpinBox()
        self.alpha_spin.setRange(LEARNING_LIMITS["alpha"].lo, LEARNING_LIMITS["alpha"].hi)
        self.alpha_spin.setSingleStep(0.05)
        self.alpha_spin.setToolTip("α of the manipulator: 0 = reach the target class at any distance, 1 = stay close")
        self._lay_out(grid)
        self._show({"oracle", "queries_by", "alpha", *self.spins})
        for key, spin in self.spins.items():
            spin.valueChanged.connect(lambda value, key=key: self.form.set(**{key: int(value)}))
        self.alpha_spin.valueChanged.connect(lambda value: self.form.set(alpha=float(value)))
        self.queries_by_combo.currentIndexChanged.connect(
            lambda _i: self.form.set(queries_by=self.queries_by_combo.currentData()))
        self.oracle_combo.currentIndexChanged.connect(lambda _i: self.form.set(oracle=self.oracle_combo.currentData()))
        form.subscribe(self._show)

    def _lay_out(self, grid: QGridLayout) -> None:
        queries_cell = QWidget()
        row = QHBoxLayout(queries_cell)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.spins["queries"], 1)
        row.addWidget(self.queries_by_combo)
        captions = dict((key, caption) for key, caption, _tip in SPINS)
        cells = [("Oracle", self.oracle_combo), (captions["label"], self.spins["label"]),
                 (captions["iterations"], self.spins["iterations"]), (captions["queries"], queries_cell),
                 ("α", self.alpha_spin), (captions["seed"], self.spins["seed"]),
                 (captions["epochs"], self.spins["epochs"]), (captions["retrain_epochs"], self.spins["retrain_epochs"])]
        for n, (caption, widget) in enumerate(cells):
            label = QLabel(caption)
            label.setBuddy(self.spins["queries"] if widget is queries_cell else widget)
            grid.addWidget(label, n // 2, 2 * (n % 2))
            grid.addWidget(widget, n // 2, 2 * (n % 2) + 1)
            if n == 1:
                self.label_caption = label
        self.rows = len(cells) // 2

    def _show(self, changed: set[str]) -> None:
        """The form's values on the controls, without echoing them back."""
        for key in changed & set(self.spins):
            _quietly(self.spins[key], lambda key=key: self.spins[key].setValue(getattr(self.form, key)))
        if "alpha" in changed:
            _quietly(self.alpha_spin, lambda: self.alpha_spin.setValue(self.form.alpha))
        if "queries_by" in changed:
            _quietly(self.queries_by_combo, lambda: self.queries_by_combo.setCurrentIndex(
                self.queries_by_combo.findData(self.form.queries_by)))
        if "oracle" in changed:
            _quietly(self.oracle_combo, lambda: self.oracle_combo.setCurrentIndex(
                self.oracle_combo.findData(self.form.oracle)))

    def enabled_oracles(self) -> tuple[str, ...]:
        model = self.oracle_combo.model()
        return tuple(self.oracle_combo.itemData(i) for i in range(self.oracle_combo.count())
                     if model.item(i).isEnabled())

    def allow_truth(self, allowed: bool) -> None:
        """The truth oracle only for data whose exact model an experiment knows; chosen there by default."""
        item = self.oracle_combo.model().item(0)
        item.setEnabled(allowed)
        item.setToolTip("" if allowed else "Only for data whose exact generative model an experiment knows "
                        "(e.g. GRATING)")
        if allowed:
            self.form.set(oracle="truth")
        elif self.form.oracle == "truth":
            self.form.set(oracle="model")

    def show_label_choice(self, shown: bool) -> None:
        spin = self.spins["label"]
        spin.setEnabled(shown)
        spin.setVisible(shown)
        self.label_caption.setVisible(shown)

    def set_enabled(self, enabled: bool) -> None:
        """What a running experiment owns: the oracle, the seed and the first training's epochs."""
        for widget in (self.oracle_combo, self.spins["seed"], self.spins["epochs"]):
            widget.setEnabled(enabled)


def _quietly(widget: QWidget, change) -> None:
    widget.blockSignals(True)
    try:
        change()
    finally:
        widget.blockSignals(False)


def _spin(key: str, value: int, tip: str) -> QSpinBox:
    """A spin box for the learning setting `key`, its range from LEARNING_LIMITS (lessons read the same)."""
    spin = QSpinBox()
    spin.setRange(int(LEARNING_LIMITS[key].lo), int(LEARNING_LIMITS[key].hi))
    spin.setValue(value)
    spin.setToolTip(tip)
    spin.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return spin
