"""One button per outcome of T ("name  key"), and '?': how a person answers over K > 2 outcomes with the
mouse (the keys do the same). The button of the answer given to the shown image is checked."""
from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QPushButton, QWidget

from viscause_gui.gui.widgets.plain_text import plain_tooltip

PER_ROW = 5


class OutcomeButtons(QWidget):
    """`chosen` fires with the outcome's index, or None for '?'."""

    chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.buttons: list[QPushButton] = []
        self.unknown: QPushButton | None = None
        self.names: tuple[str, ...] = ()

    def set_outcomes(self, names: Sequence[str], keys: Sequence[str]) -> None:
        """A button per outcome, then '?'; none at all for no names."""
        if tuple(names) == self.names and self.buttons:
            return
        for button in [*self.buttons, *([self.unknown] if self.unknown else [])]:
            self.grid.removeWidget(button)
            button.deleteLater()
        self.names, self.buttons, self.unknown = tuple(names), [], None
        if not self.names:
            return
        for i, (name, key) in enumerate(zip(names, keys)):
            button = self._button(f"{name}  [{key}]", f"The oracle sees the outcome {name} (key {key})")
            button.clicked.connect(lambda _=False, k=i: self.chosen.emit(k))
            self.buttons.append(button)
            self.grid.addWidget(button, i // PER_ROW, i % PER_ROW)
        self.unknown = self._button("?  [?]", "No outcome can be told for this image (key ?)")
        self.unknown.clicked.connect(lambda: self.chosen.emit(None))
        n = len(self.buttons)
        self.grid.addWidget(self.unknown, n // PER_ROW, n % PER_ROW)

    def _button(self, text: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(plain_tooltip(tip))
        button.setCheckable(True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)       # the keys stay with the panel
        return button

    def mark(self, given: int | None, known: bool) -> None:
        """Check the button of the answer given (`known`: an answer was given; None: it was '?')."""
        for i, button in enumerate(self.buttons):
            button.setChecked(known and given == i)
        if self.unknown is not None:
            self.unknown.setChecked(known and given is None)
