"""The confounding slider for GRATING: how much the hidden H1 and the h-bar raise T, as sliders;
the exact P(T=1 | I) and P(T=1 | man(I)) of each kind of image, the two partitions and what an
observational classifier gets right on images we set, redrawn live
(core.experiments.grating_confounding). 'Draw GRATING with these' asks the window for new data.

Every position of the sliders is a valid model: P(T=1 | H1=1, h-bar) = base + H1's weight + the
h-bar's weight must not pass 1, so the slider a person moves wins and the other two give way
(GIVES_WAY, in that order) as far as needed."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractScrollArea, QFormLayout, QLabel, QPushButton, QSizePolicy, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from viscause_gui.core.experiments.grating_confounding import KINDS, Confounding, confounding
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.sliders import keyboard_slider

PARAMETERS = (("w_h1", "H1 raises T by", "How much the hidden H1 (whose trace is the v-bar) adds to P(T=1)", 0.3),
              ("w_c", "the h-bar raises T by", "How much the h-bar, the visual cause, adds to P(T=1)", 0.6),
              ("base", "base P(T=1)", "P(T=1) with H1 off and no h-bar", 0.1),
              ("p_h1", "P(H1 = 1)", "How often the hidden H1 is on", 0.5))
GIVES_WAY = {"w_h1": ("w_c", "base"), "w_c": ("w_h1", "base"), "base": ("w_h1", "w_c")}
UNITS = 10_000                   # values() keeps 4 decimals: the sum is kept in these units


class ConfoundingPanel(QWidget):
    generate = Signal(dict)          # the GRATING generator's settings a person asked data for

    def __init__(self, state: AppState, workers=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.sliders = {}
        form = QFormLayout()
        for key, caption, tip, default in PARAMETERS:
            slider = keyboard_slider()
            slider.setRange(0.0, 1.0)
            slider.setSingleStep(0.05)
            slider.setValue(default)
            slider.setToolTip(tip)
            slider.valueChanged.connect(lambda _v, moved=key: self._moved(moved))
            self.sliders[key] = slider
            form.addRow(caption, slider)
        self.table = QTableWidget(4, 3)
        self.table.setHorizontalHeaderLabels(["image", "P(T=1 | I)", "P(T=1 | man(I))"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
        self.table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        self.table.setToolTip("Exact, from the generator: observed (the v-bar reveals H1) and set by us (H1 keeps "
                              "its prior)")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("QLabel { color: #555; }")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.generate_button = QPushButton("Draw GRATING with these")
        self.generate_button.setToolTip("Open a new GRATING data set drawn with these weights (the data set's own "
                                        "size and seed)")
        self.generate_button.clicked.connect(lambda _c=False: self.generate.emit(self.values()))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.table)
        layout.addWidget(self.summary)
        layout.addWidget(self.generate_button)
        layout.addStretch(1)
        self.result: Confounding | None = None
        self.refresh()

    def values(self) -> dict[str, float]:
        return {key: round(float(s.value()), 4) for key, s in self.sliders.items()}

    def set_values(self, **values: float) -> None:
        for key, value in values.items():
            self.sliders[key].setValue(value)

    def _moved(self, key: str) -> None:
        gave_way = self._make_room(key)
        self.note.setText(_gave_way_text(gave_way))
        self.refresh()

    def _make_room(self, moved: str) -> list[str]:
        """Lower the sliders that give way to `moved` until base + w_h1 + w_c <= 1; the keys lowered."""
        if moved not in GIVES_WAY:
            return []
        units = {k: round(self.sliders[k].value() * UNITS) for k in (moved, *GIVES_WAY[moved])}
        excess = sum(units.values()) - UNITS
        lowered = []
        for key in GIVES_WAY[moved]:
            if excess <= 0:
                break
            take = min(excess, units[key])
            if take > 0:
                slider = self.sliders[key]
                slider.blockSignals(True)            # one refresh, for the slider the person moved
                slider.setValue((units[key] - take) / UNITS)
                slider.blockSignals(False)
                lowered.append(key)
                excess -= take
        return lowered

    def refresh(self) -> None:
        try:
            self.result = c = confounding(**self.values())
        except ValueError as exc:
            self.result = None
            self.summary.setText(f"<span style='color:#c0392b'>{exc}</span>")
            return
        for row, (kind, p_obs, p_causal) in enumerate(c.rows()):
            for col, text in enumerate((kind, f"{p_obs:.2f}", f"{p_causal:.2f}")):
                self.table.setItem(row, col, QTableWidgetItem(text))

        def partition(cells: list[list[int]]) -> str:
            return "  ".join("{" + ", ".join(KINDS[i] for i in cell) + "}" for cell in cells)
        self.summary.setText(
            f"<b>Observational classes</b>: {partition(c.observational_partition)}<br>"
            f"<b>Causal classes</b>: {partition(c.causal_partition)}<br>"
            f"Relation: {c.relation.replace('_', ' ')}<br>"
            f"<b>A classifier of T trained on observations</b>, on images we set ourselves: "
            f"<b>{100 * c.accuracy_observational:.0f} %</b> right (best possible {100 * c.accuracy_causal:.0f} %; "
            f"on observed images {100 * c.accuracy_on_observations:.0f} %).")


def _gave_way_text(keys: list[str]) -> str:
    """Which sliders gave way to the one moved ('' when none had to)."""
    if not keys:
        return ""
    names = {key: caption.removesuffix(" raises T by") for key, caption, _tip, _default in PARAMETERS}
    return f"P(T=1) cannot pass 1 (base + both weights ≤ 1): {' and '.join(names[k] for k in keys)} gave way."
