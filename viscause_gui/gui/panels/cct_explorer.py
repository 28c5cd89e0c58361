"""The CCT explorer: a discrete model (binary H and T, I with 3 to 6 values) with a slider for every
probability; the observational and causal partitions and their relation redrawn live; the paper's
Supplement B models as presets and a button that finds the nearest exception to the theorem.

A thin view of gui.models.cct_explore.CctExplorer; `viscause cct MODEL.json` is its headless twin.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QScrollArea, QSizePolicy, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from viscause_gui.core.method.cct import cct
from viscause_gui.gui.models.cct_explore import MAX_IMAGES, MIN_IMAGES, PAPER_P_T0, RELATION_WORDS, CctExplorer
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.colors import class_color, text_color_on
from viscause_gui.gui.widgets.sliders import keyboard_slider


class CctExplorerPanel(QWidget):
    def __init__(self, state: AppState | None = None, workers=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.explorer = CctExplorer()
        self.sliders: dict[tuple[str, int, int], object] = {}
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
        self.tol_spin = QDoubleSpinBox()
        self.tol_spin.setDecimals(6)
        self.tol_spin.setRange(0.0, 0.1)
        self.tol_spin.setSingleStep(0.001)
        self.tol_spin.setValue(self.explorer.tol)
        self.tol_spin.setToolTip("Probabilities closer than this count as equal (0: exactly equal)")
        self.tol_spin.valueChanged.connect(self._tol_changed)
        self.exception_button = QPushButton("Nearest exception")
        self.exception_button.setToolTip("The closest model (changing only P(T=1 | H, I)) in which an observational "
                                         "class holds two causal classes: how finely tuned it must be")
        self.exception_button.clicked.connect(lambda _c=False: self.find_exception())
        top = QHBoxLayout()
        for widget in (QLabel("Preset"), self.preset, QLabel("images"), self.size_spin, QLabel("equal within"),
                       self.tol_spin, self.exception_button):
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
        self.table.setHorizontalHeaderLabels(["image i", "P(I=i)", "P(T=1 | I=i)", "P(T=1 | man(I=i))",
                                              "obs. class / causal class"])
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
        ex = self.explorer
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(2, 2, 2, 2)
        self.sliders.clear()
        row = 0
        grid.addWidget(QLabel("P(H=0)"), row, 0)
        grid.addWidget(self._slider(("h", 0, 0), ex.p_h0, "P(H=0); P(H=1) is the rest"), row, 1)
        row += 1
        for h in range(2):
            for i in range(ex.n_images):
                grid.addWidget(QLabel(f"P(I={i} | H={h})"), row, 0)
                grid.addWidget(self._slider(("i", h, i), ex.p_i_given_h[h, i],
                                            f"P(I={i} | H={h}); the other images of H={h} share the rest"), row, 1)
                grid.addWidget(QLabel(f"P(T=1 | H={h}, I={i})"), row, 2)
                grid.addWidget(self._slider(("t", h, i), ex.p_t1[h, i], f"P(T=1 | H={h}, I={i})"), row, 3)
                row += 1
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.slider_area.setWidget(box)

    def _slider(self, key: tuple[str, int, int], value: float, tip: str):
        slider = keyboard_slider()
        slider.setDecimals(4)
        slider.setRange(0.0, 1.0)
        slider.setSingleStep(0.001)
        slider.setValue(float(value))
        slider.setToolTip(tip)
        slider.valueChanged.connect(lambda v, k=key: self._slid(k, float(v)))
        self.sliders[key] = slider
        return slider

    def _slid(self, key: tuple[str, int, int], value: float) -> None:
        kind, h, i = key
        if kind == "h":
            self.explorer.set_p_h0(value)
        elif kind == "i":
            self.explorer.set_p_i(h, i, value)
        else:
            self.explorer.set_p_t1(h, i, value)
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(0)
        self.preset.blockSignals(False)
        self._sync_sliders()
        self.refresh()

    def _sync_sliders(self) -> None:
        """Show the model's values (a row of P(I|H) rescales as one of its sliders moves)."""
        ex = self.explorer
        for (kind, h, i), slider in self.sliders.items():
            value = ex.p_h0 if kind == "h" else (ex.p_i_given_h[h, i] if kind == "i" else ex.p_t1[h, i])
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
        self._build_sliders()
        self.status.setText(f"{name}: the numbers as printed in the paper.")
        self.refresh()

    def choose_preset(self, name: str) -> None:
        self.preset.setCurrentIndex(max(self.preset.findData(name), 0))

    def _size_changed(self, n: int) -> None:
        self.explorer.set_size(n)
        self.preset.setCurrentIndex(0)
        self._build_sliders()
        self.refresh()

    def _tol_changed(self, tol: float) -> None:
        self.explorer.tol = float(tol)
        self.refresh()

    def find_exception(self) -> None:
        found = self.explorer.jump_to_nearest_exception()
        if found is None:
            self.status.setText("No exception is reachable by changing P(T=1 | H, I): here H tells nothing about "
                                "I, so P(T | I) = P(T | man(I)) for every choice.")
            return
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(0)
        self.preset.blockSignals(False)
        self._sync_sliders()
        i, j = found.images
        self.status.setText(
            "Already an exception." if found.max_change == 0 else
            f"Nearest exception: images {i} and {j} now have exactly equal P(T=1 | I) but different "
            f"P(T=1 | man(I)). It took changing P(T=1 | H, I) by at most {found.max_change:.4f}; move any slider "
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
        p_i = model.p_i
        for i in range(n):
            p_obs = result["p_obs"][i]
            texts = (str(i), f"{p_i[i]:.4f}", "never seen" if p_obs is None else f"{p_obs:.5f}",
                     f"{result['p_causal'][i]:.5f}", f"{obs.get(i, '—')} / {causal[i]}")
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
