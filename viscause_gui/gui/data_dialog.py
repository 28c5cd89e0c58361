"""'Open built-in…' dialog: pick a built-in data set; a generated one comes with its generator's
settings (the options its experiment registers, e.g. GRATING's P(T=1 | H1, C))."""
from __future__ import annotations

import contextlib
from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QGroupBox, QLabel,
                               QSpinBox, QVBoxLayout, QWidget)

from viscause_gui.core.experiments.registry import BuiltinData, Option, builtin_datasets


class BuiltinDialog(QDialog):
    """Choose a built-in data set; `request()` gives (name, loader keyword arguments)."""

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Open a built-in data set")
        self.settings = settings
        self.datasets = builtin_datasets()
        self.combo = QComboBox(self)
        for name, data in self.datasets.items():
            self.combo.addItem(data.description.split(":")[0], name)
            self.combo.setItemData(self.combo.count() - 1, data.description, Qt.ItemDataRole.ToolTipRole)
        self.description = QLabel(self)
        self.description.setWordWrap(True)
        self.options_box = QGroupBox(self)
        self.options_form = QFormLayout(self.options_box)
        self.fields: dict[str, QSpinBox | QDoubleSpinBox] = {}
        self.table = QLabel(self)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel, parent=self)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self._layout()
        self.combo.currentIndexChanged.connect(self._show_options)
        self.set_builtin(str(settings.value("builtin/name", "")) if settings is not None else "")
        self._show_options()

    def _layout(self) -> None:
        layout = QVBoxLayout(self)
        layout.addWidget(self.combo)
        layout.addWidget(self.description)
        layout.addWidget(self.options_box)
        layout.addWidget(self.table)
        layout.addWidget(self.buttons)

    @staticmethod
    def _make_field(option: Option) -> QSpinBox | QDoubleSpinBox:
        field = QSpinBox() if option.integer else QDoubleSpinBox()
        if option.integer:
            field.setRange(int(option.lo), int(option.hi))
            field.setGroupSeparatorShown(option.hi >= 10_000)
        else:
            field.setDecimals(option.decimals)
            field.setRange(option.lo, option.hi)
        field.setSingleStep(option.step)
        field.setValue(option.default)
        field.setToolTip(option.tip)
        return field

    # ----- values -----
    def current(self) -> BuiltinData:
        return self.datasets[self.combo.currentData()]

    def set_builtin(self, name: str) -> None:
        self.combo.setCurrentIndex(max(0, self.combo.findData(name)))

    def options(self) -> dict[str, Any]:
        """The chosen data set's generator settings (empty for a data set without any)."""
        return {o.key: o.parse(self.fields[o.key].value()) for o in self.current().options}

    def request(self) -> tuple[str, dict[str, Any]]:
        """The chosen data set and the keyword arguments for its loader."""
        return self.current().name, self.options()

    def is_valid(self) -> bool:
        check = self.current().check_options
        return check is None or check(self.options())[1]

    # ----- updates -----
    def _show_options(self) -> None:
        data = self.current()
        self.description.setText(data.description)
        while self.options_form.rowCount():
            self.options_form.removeRow(0)
        self.fields = {}
        self.options_box.setTitle(f"{data.description.split(':')[0]} generator")
        for option in data.options:
            field = self._make_field(option)
            self._restore(data, option, field)
            field.valueChanged.connect(self._check)
            self.fields[option.key] = field
            self.options_form.addRow(option.label + ":", field)
        self.options_box.setVisible(bool(data.options))
        self._check()

    def _check(self) -> None:
        check = self.current().check_options
        self.table.setVisible(check is not None)
        if check is not None:
            self.table.setText(check(self.options())[0])
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(self.is_valid())

    def _restore(self, data: BuiltinData, option: Option, field: QSpinBox | QDoubleSpinBox) -> None:
        value = None if self.settings is None else self.settings.value(f"builtin/{data.name}/{option.key}")
        if value is not None:
            with contextlib.suppress(TypeError, ValueError):
                field.setValue(option.parse(value))

    def _accept(self) -> None:
        if not self.is_valid():
            return
        if self.settings is not None:
            name, options = self.request()
            self.settings.setValue("builtin/name", name)
            for key, value in options.items():
                self.settings.setValue(f"builtin/{name}/{key}", value)
        self.accept()
