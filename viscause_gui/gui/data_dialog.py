"""'Open built-in…' dialog: pick a built-in data set; GRATING comes with its generator settings."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout,
                               QGroupBox, QLabel, QSpinBox, QVBoxLayout, QWidget)

from viscause_gui.core.data.readers import BUILTIN_DATASETS

GRATING_DEFAULTS: dict[str, Any] = {"n": 2000, "seed": 0, "noise": 0.03, "p_h1": 0.5,
                                    "base": 0.1, "w_h1": 0.3, "w_c": 0.6}
GRATING_TIPS = {
    "n": "Number of images to draw",
    "seed": "Random seed: the same seed gives the same images",
    "noise": "Fraction of the other pixels that are random ink",
    "p_h1": "P(H1 = 1): how often the hidden confounder is on (it draws the v-bar and raises T)",
    "base": "P(T=1 | H1=0, no h-bar)",
    "w_h1": "How much the hidden H1 adds to P(T=1) (its trace in the image is the v-bar: spurious)",
    "w_c": "How much the h-bar adds to P(T=1) (the visual cause)",
}
GRATING_LABELS = {"n": "images n", "seed": "seed", "noise": "noise", "p_h1": "P(H1 = 1)",
                  "base": "base P(T=1)", "w_h1": "weight of H1", "w_c": "weight of h-bar (C)"}


class BuiltinDialog(QDialog):
    """Choose a built-in data set; `request()` gives (name, loader keyword arguments)."""

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Open a built-in data set")
        self.settings = settings
        self.combo = QComboBox(self)
        for name, text in BUILTIN_DATASETS.items():
            self.combo.addItem(text.split(":")[0], name)
            self.combo.setItemData(self.combo.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
        self.description = QLabel(self)
        self.description.setWordWrap(True)
        self.fields: dict[str, QSpinBox | QDoubleSpinBox] = {}
        self.grating_box = self._make_grating_box()
        self.table = QLabel(self)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel, parent=self)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self._layout()
        self.combo.currentIndexChanged.connect(self._update)
        self._restore()
        self._update()

    def _make_grating_box(self) -> QGroupBox:
        box = QGroupBox("GRATING generator", self)
        form = QFormLayout(box)
        for key in GRATING_DEFAULTS:
            field = self._make_field(key)
            field.setToolTip(GRATING_TIPS[key])
            field.valueChanged.connect(self._update)
            self.fields[key] = field
            form.addRow(GRATING_LABELS[key] + ":", field)
        return box

    @staticmethod
    def _make_field(key: str) -> QSpinBox | QDoubleSpinBox:
        if key == "n":
            field = QSpinBox()
            field.setRange(10, 1_000_000)
            field.setSingleStep(1000)
            field.setGroupSeparatorShown(True)
        elif key == "seed":
            field = QSpinBox()
            field.setRange(0, 2**31 - 1)
        else:
            field = QDoubleSpinBox()
            field.setDecimals(3)
            field.setSingleStep(0.01 if key == "noise" else 0.05)
            field.setRange(0.0, 0.49 if key == "noise" else 1.0)
        field.setValue(GRATING_DEFAULTS[key])
        return field

    def _layout(self) -> None:
        layout = QVBoxLayout(self)
        layout.addWidget(self.combo)
        layout.addWidget(self.description)
        layout.addWidget(self.grating_box)
        layout.addWidget(self.table)
        layout.addWidget(self.buttons)

    # ----- values -----
    def set_builtin(self, name: str) -> None:
        self.combo.setCurrentIndex(max(0, self.combo.findData(name)))

    def grating_settings(self) -> dict[str, Any]:
        return {k: (int(f.value()) if k in ("n", "seed") else float(f.value())) for k, f in self.fields.items()}

    def request(self) -> tuple[str, dict[str, Any]]:
        """The chosen data set and the keyword arguments for core.datasets.load_builtin."""
        name = self.combo.currentData()
        return name, (self.grating_settings() if name == "grating" else {})

    def corners(self) -> list[float]:
        """P(T=1 | H1, C) for (H1, C) = (0,0), (1,0), (0,1), (1,1)."""
        g = self.grating_settings()
        return [g["base"] + g["w_h1"] * h1 + g["w_c"] * c for c in (0, 1) for h1 in (0, 1)]

    def is_valid(self) -> bool:
        return self.combo.currentData() != "grating" or all(0.0 <= p <= 1.0 for p in self.corners())

    # ----- updates -----
    def _update(self) -> None:
        name = self.combo.currentData()
        self.description.setText(BUILTIN_DATASETS.get(name, ""))
        is_grating = name == "grating"
        self.grating_box.setVisible(is_grating)
        self.table.setVisible(is_grating)
        if is_grating:
            self.table.setText(self._table_html())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(self.is_valid())

    def _table_html(self) -> str:
        p00, p10, p01, p11 = self.corners()
        cell = lambda p: (f"<td align=right>{p:.2f}</td>" if 0 <= p <= 1  # noqa: E731
                          else f"<td align=right style='color:#c00'>{p:.2f}</td>")
        note = "" if self.is_valid() else "<br><span style='color:#c00'>each P(T=1 | H1, C) must lie in [0, 1]</span>"
        return ("<b>P(T=1 | H1, C)</b><table cellspacing=4>"
                "<tr><td></td><td>H1=0</td><td>H1=1</td></tr>"
                f"<tr><td>no h-bar</td>{cell(p00)}{cell(p10)}</tr>"
                f"<tr><td>h-bar</td>{cell(p01)}{cell(p11)}</tr></table>{note}")

    def _restore(self) -> None:
        if self.settings is None:
            return
        self.set_builtin(str(self.settings.value("builtin/name", "grating")))
        for key, field in self.fields.items():
            value = self.settings.value(f"builtin/grating/{key}")
            if value is not None:
                try:
                    field.setValue(int(value) if key in ("n", "seed") else float(value))
                except (TypeError, ValueError):
                    pass

    def _accept(self) -> None:
        if not self.is_valid():
            return
        if self.settings is not None:
            name, _ = self.request()
            self.settings.setValue("builtin/name", name)
            for key, value in self.grating_settings().items():
                self.settings.setValue(f"builtin/grating/{key}", value)
        self.accept()
