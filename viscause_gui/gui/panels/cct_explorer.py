"""The CCT explorer: a discrete model (binary H, I with 3 to 6 values, T with 2 to 5 outcomes) with a
slider for every probability; the observational and causal partitions and their relation redrawn
live; the paper's Supplement B models as presets and a button that finds the nearest exception to
the theorem.

A thin view of gui.models.cct_explore.CctExplorer; `viscause cct MODEL.json` is its headless twin.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QHBoxLayout, QHeaderView, QLabel, QPushButton, QScrollArea,
                               QSizePolicy, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from viscause_gui.core.data.outcomes import format_answer
from viscause_gui.core.method.cct import cct
from viscause_gui.gui.models.cct_explore import MAX_IMAGES, MIN_IMAGES, PAPER_P_T0, RELATION_WORDS, CctExplorer
from viscause_gui.gui.models.cct_outcomes import MAX_EXPLORER_OUTCOMES, MIN_EXPLORER_OUTCOMES
from viscause_gui.gui.panels.cct_sliders import SliderKey, slider_grid, slider_value
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.colors import class_color, text_color_on
from viscause_gui.gui.widgets.sliders import keyboard_slider


class CctExplorerPanel(QWidget):
    def __init__(self, state: AppState | None = None, workers=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.explorer = CctExplorer()
        self.sliders: dict[SliderKey, object] = {}
        self.preset = QComboBox()
        self.preset.addItem("(your own)", None)
        for name in PAPER_P_T0:
            self.preset.addItem(name, name)
        self.preset.setToolTip("The paper's Supplement B models (numbers as printed): H binary, I in {0, 1, 2}")
        self.preset.currentIndexChanged.connect(self._preset_chosen)
        self.size_spin = QSpinBox()
        self.size_spin.setRange(MIN_IMAGES, MAX_IMAGES)
        self.size_spin.setValue(self.explorer.n_images)
        self.size_spin.setToolTip("How many values the image I takes")
        self.size_spin.valueChanged.connect(self._size_changed)
        self.outcomes_spin = QSpinBox()
        self.outcomes_spin.setRange(MIN_EXPLORER_OUTCOMES, MAX_EXPLORER_OUTCOMES)
        self.outcomes_spin.setValue(self.explorer.n_outcomes)
        self.outcomes_spin.setToolTip("How many outcomes T has: 2 is a binary T (a slider for P(T=1 | H, I)); "
                                      "over more, a slider for each outcome of each (H, I)")
        self.outcomes_spin.valueChanged.connect(self._outcomes_changed)
        self.tol_spin = QDoubleSpinBox()
        self.tol_spin.setDecimals(6)
        self.tol_spin.setRange(0.0, 0.1)
        self.tol_spin.setSingleStep(0.001)
        self.tol_spin.setValue(self.explorer.tol)
        self.tol_spin.valueChanged.connect(self._tol_changed)
        self.exception_button = QPushButton("Nearest exception")
        self.exception_button.clicked.connect(lambda _c=False: self.find_exception())
        top = QHBoxLayout()
        for widget in (QLabel("Preset"), self.preset, QLabel("images"), self.size_spin, QLabel("outcomes"),
                       self.outcomes_spin, QLabel("equal within"), self.tol_spin, self.exception_button):
            top.addWidget(widget)
        top.addStretch(1)
        self.slider_area = QScrollArea()
        self.slider_area.setWidgetResizable(True)
        self.relation = QLabel()
        self.relation.setObjectName("cctRelation")
        self.relation.setWordWrap(True)
        self.relation.setTextFormat(Qt.TextFormat.RichText)
        self.relation.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.table = QTableWidget(0, 5)
        self._set_headers()
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        for col in range(4):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.slider_area, 3)
        layout.addWidget(self.relation)
        layout.addWidget(self.table, 2)
        layout.addWidget(self.status)
        self._build_sliders()
        self.preset.setCurrentIndex(1)

    # ----- sliders -----
    def _build_sliders(self) -> None:
        self.sliders.clear()
        self.slider_area.setWidget(slider_grid(self.explorer, self._slider))
        self._describe_inputs()

    def _describe_inputs(self) -> None:
        """Tooltips that say what `equal` and the search mean for this T."""
        binary = self.explorer.n_outcomes == 2
        self.tol_spin.setToolTip(
            "Probabilities closer than this count as equal (0: exactly equal)" if binary else
            "Distributions of T within this total variation distance, ½ Σ_k |p_k − q_k|, count as equal "
            "(0: exactly equal)")
        table = "P(T=1 | H, I)" if binary else "P(T | H, I), each row a distribution"
        self.exception_button.setToolTip(f"The closest model (changing only {table}) in which an observational "
                                         "class holds two causal classes: how finely tuned it must be")

    def _slider(self, key: SliderKey, value: float, tip: str):
        slider = keyboard_slider()
        slider.setDecimals(4)
        slider.setRange(0.0, 1.0)
        slider.setSingleStep(0.001)
        slider.setValue(float(value))
        slider.setToolTip(tip)
        slider.valueChanged.connect(lambda v, k=key: self._slid(k, float(v)))
        self.sliders[key] = slider
        return slider

    def _slid(self, key: SliderKey, value: float) -> None:
        kind, h, i = key[:3]
        if kind == "h":
            self.explorer.set_p_h0(value)
        elif kind == "i":
            self.explorer.set_p_i(h, i, value)
        elif len(key) == 4:
            self.explorer.set_p_t(h, i, key[3], value)
        else:
            self.explorer.set_p_t1(h, i, value)
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(0)
        self.preset.blockSignals(False)
        self._sync_sliders()
        self.refresh()

    def _sync_sliders(self) -> None:
        """Show the model's values (a row of P(I|H) or of P(T|H,I) rescales as one of its sliders moves)."""
        for key, slider in self.sliders.items():
            value = slider_value(self.explorer, key)
            if abs(slider.value() - value) > 5e-5:
                slider.blockSignals(True)
                slider.setValue(float(value))
                slider.blockSignals(False)

    # ----- inputs -----
    def _preset_chosen(self) -> None:
        name = self.preset.currentData()
        if name is None:
            return
        self.explorer.load_preset(name)
        self.size_spin.blockSignals(True)
        self.size_spin.setValue(self.explorer.n_images)
        self.size_spin.blockSignals(False)
        self.outcomes_spin.blockSignals(True)
        self.outcomes_spin.setValue(self.explorer.n_outcomes)
        self.outcomes_spin.blockSignals(False)
        self._build_sliders()
        self._set_headers()
        self.status.setText(f"{name}: the numbers as printed in the paper.")
        self.refresh()

    def choose_preset(self, name: str) -> None:
        self.preset.setCurrentIndex(max(self.preset.findData(name), 0))

    def _size_changed(self, n: int) -> None:
        self.explorer.set_size(n)
        self.preset.setCurrentIndex(0)
        self._build_sliders()
        self.refresh()

    def _outcomes_changed(self, k: int) -> None:
        more = k > self.explorer.n_outcomes
        self.explorer.set_outcomes(k)
        self.status.setText(f"T has {k} outcomes: " + (
            "the new ones start at probability 0, so the partitions stay as they were." if more else
            f"the removed ones are lumped into outcome {self.explorer.outcomes[-1]}."))
        self.preset.setCurrentIndex(0)
        self._build_sliders()
        self._set_headers()
        self.refresh()

    def _tol_changed(self, tol: float) -> None:
        self.explorer.tol = float(tol)
        self.refresh()

    def find_exception(self) -> None:
        found = self.explorer.jump_to_nearest_exception()
        if found is None:
            self.status.setText(f"No exception is reachable by changing {self._t()}: here H tells nothing about "
                                "I, so P(T | I) = P(T | man(I)) for every choice.")
            return
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(0)
        self.preset.blockSignals(False)
        self._sync_sliders()
        i, j = found.images
        self.status.setText(
            "Already an exception." if found.max_change == 0 else
            f"Nearest exception: images {i} and {j} now have exactly equal {self._t('I')} but different "
            f"{self._t('man(I)')}. It took changing {self._t()} by at most {found.max_change:.4f}; move any slider "
            "a little and the coincidence, and the exception, are gone.")
        self.refresh()

    # ----- output -----
    def refresh(self) -> None:
        result = self.explorer.result()
        model = self.explorer.model()
        obs = {i: k for k, cell in enumerate(result["observational_partition"]) for i in cell}
        causal = {i: k for k, cell in enumerate(result["causal_partition"]) for i in cell}
        n = self.explorer.n_images
        self.table.setRowCount(n)
        p_i = self.explorer.p_i()
        for i in range(n):
            p_obs = result["p_obs"][i]
            texts = (str(i), f"{p_i[i]:.4f}", "never seen" if p_obs is None else _answer(p_obs),
                     _answer(result['p_causal'][i]), f"{obs.get(i, '—')} / {causal[i]}")
            for col, text in enumerate(texts):
                item = QTableWidgetItem(text)
                if col == 4:
                    bg = class_color(causal[i])
                    item.setBackground(bg)
                    item.setForeground(text_color_on(bg))
                self.table.setItem(i, col, item)

        def cells(partition: list[list[int]]) -> str:
            return " ".join("{" + ", ".join(map(str, cell)) + "}" for cell in partition)
        colour = "#c0392b" if result["exception"] else "#1e7b34"
        exactly = ""
        if self.explorer.tol > 0:
            exact = cct(model, 0.0)
            exactly = (f"<br>Exactly (equal only when equal): {cells(exact['observational_partition'])} and "
                       f"{cells(exact['causal_partition'])}: {RELATION_WORDS[exact['relation']]}")
        self.relation.setText(
            f"Observational partition: <b>{cells(result['observational_partition'])}</b> &nbsp; "
            f"Causal partition: <b>{cells(result['causal_partition'])}</b><br>"
            f"<span style='color:{colour}'><b>{result['relation_words']}</b></span>{exactly}")

    def _t(self, given: str = "H, I") -> str:
        """P(T=1 | given) for a binary T, P(T | given) over K outcomes."""
        return f"P(T{'=1' if self.explorer.n_outcomes == 2 else ''} | {given})"

    def _set_headers(self) -> None:
        names = "" if self.explorer.n_outcomes == 2 else f" over ({', '.join(self.explorer.outcomes)})"
        self.table.setHorizontalHeaderLabels(["image i", "P(I=i)", self._t("I=i") + names,
                                              self._t("man(I=i)") + names, "obs. class / causal class"])


def _answer(p: float | list[float]) -> str:
    """P(T=1) with 5 decimals; a distribution over K outcomes as (p_0, ..., p_K-1) with 3."""
    return f"{p:.5f}" if isinstance(p, float) else format_answer(p, 3)
