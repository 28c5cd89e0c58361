"""The recipe of the next run (a widget the Learning panel shows as a tab): its choices in words and,
for a person's own data, the controls that change them. A thin view: it shows what
controllers.recipe.RecipeModel hands it (`show_recipe`) and passes each change a person makes to
`edits` (the model: set_invariance, set_net, set_hidden, set_ensemble, set_manipulator, reset)."""
from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QRegularExpression, Qt
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (QCheckBox, QComboBox, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QScrollArea, QSizePolicy, QSpinBox, QVBoxLayout, QWidget)

INVARIANCES = (("shifts", "Shifts", "T ignores a small shift of the image (at most an eighth of its smaller side; "
                "the uncovered border is filled with the image's background): each answered image is also "
                "trained as 10 shifted copies"),
               ("cyclic-shifts", "Cyclic shifts", "T ignores any shift wrapped round the border, as a bar in "
                "GRATING: each answered image is also trained as 10 wrapped copies (not with Shifts)"),
               ("flips", "Flips", "T ignores a left-right mirror: each answered image is also trained as its "
                "mirror image (not for letters or digits)"))
NETS = (("mlp", "MLP", "A fully connected net: sees every pixel at once (the paper's, for tiny images)"),
        ("cnn", "CNN", "A convolutional net: 3x3 convolutions, each block max-pooled (for images of real size)"))
MANIPULATORS = (("pixels", "Pixels", "Search in pixel space: exact flips for binary images, an L2 search for grey "
                 "and colour ones (it can make smudges an oracle rejects)"),
                ("manifold", "Manifold", "Search on the data's manifold: a generative model of the images is "
                 "trained first, and the changes look like the data (its decodes can blur small details)"),
                ("patches", "Patches", "Paste regions of real images of the target class: every changed pixel is "
                 "a real one and the rest of the image stays as it was"))
MOST_NETS = 10
HIDDEN_PATTERN = r"\s*[0-9]{1,4}(\s*,\s*[0-9]{1,4}){0,7}\s*"


class RecipeBox(QWidget):
    """The recipe in words, the controls that change it, and "Reset to the data's recipe"."""

    def __init__(self, edits: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.edits = edits
        self._plain = ""
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setTextFormat(Qt.TextFormat.RichText)
        self.description.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.description.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.description.setToolTip("What the next new experiment (Run Algorithm 1) uses, one choice a line with "
                                    "its reason; 'your choice' marks what you changed. An experiment that exists "
                                    "keeps the recipe it was made with.")
        self.controls = self._controls()
        box = QWidget()
        column = QVBoxLayout(box)
        column.addWidget(self.title)
        column.addWidget(self.controls)
        column.addWidget(self.description, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

    def _controls(self) -> QWidget:
        controls = QWidget()
        grid = QGridLayout(controls)
        grid.setContentsMargins(0, 0, 0, 0)
        self.invariance_boxes: dict[str, QCheckBox] = {}
        row = QHBoxLayout()
        for key, text, tip in INVARIANCES:
            check = QCheckBox(text)
            check.setToolTip(f"{tip}. None ticked: no invariance (the default: only you know whether T ignores "
                             "such a change)")
            check.clicked.connect(lambda on, k=key: self.edits.set_invariance(k, on))
            self.invariance_boxes[key] = check
            row.addWidget(check)
        row.addStretch(1)
        self.net_combo = _combo(NETS, "The causal net's family (default: an MLP for images of at most 12 pixels "
                                      "a side, a CNN for larger ones)")
        self.net_combo.activated.connect(lambda i: self.edits.set_net(self.net_combo.itemData(i)))
        self.hidden_edit = QLineEdit()
        self.hidden_edit.setValidator(QRegularExpressionValidator(QRegularExpression(HIDDEN_PATTERN)))
        self.hidden_edit.setToolTip("The causal net's hidden layers, units per layer: e.g. 100, or 300,100 for two "
                                    "(Enter to apply)")
        self.hidden_edit.setAccessibleName("Hidden units")
        self.hidden_edit.editingFinished.connect(lambda: self.edits.set_hidden(self.hidden_edit.text()))
        self.ensemble_spin = QSpinBox()
        self.ensemble_spin.setRange(1, MOST_NETS)
        self.ensemble_spin.setToolTip("Causal nets trained with different seeds; the manipulator must convince "
                                      "every one (default 2)")
        self.ensemble_spin.valueChanged.connect(lambda n: self.edits.set_ensemble(n))
        self.manipulator_combo = _combo(MANIPULATORS, "Where the manipulator searches for the changed image "
                                                      "(default: pixel flips for binary images, patches of real "
                                                      "images for grey and colour ones)")
        self.manipulator_combo.activated.connect(
            lambda i: self.edits.set_manipulator(self.manipulator_combo.itemData(i)))
        self.reset_button = QPushButton("Reset to the data's recipe")
        self.reset_button.setToolTip("Forget your changes: the recipe chosen from the images, as "
                                     "`viscause run DATA` chooses it with no options")
        self.reset_button.clicked.connect(lambda: self.edits.reset())
        cells = [("Invariances", row), ("Net", self.net_combo), ("Hidden units", self.hidden_edit),
                 ("Ensemble", self.ensemble_spin), ("Search", self.manipulator_combo)]
        for n, (caption, item) in enumerate(cells):
            label = QLabel(caption)
            r, c = (0, 0) if n == 0 else ((n + 1) // 2, 2 * ((n + 1) % 2))
            if isinstance(item, QHBoxLayout):
                grid.addWidget(label, r, c)
                grid.addLayout(item, r, c + 1, 1, 3)
            else:
                label.setBuddy(item)
                grid.addWidget(label, r, c)
                grid.addWidget(item, r, c + 1)
        grid.addWidget(self.reset_button, 3, 0, 1, 4)
        return controls

    def show_recipe(self, shown: Any) -> None:
        """Show a controllers.recipe.RecipeShown; no control reports a change made here."""
        self._plain = "\n".join([shown.title, *([shown.problem] if shown.problem else []), *shown.lines])
        self.title.setText(f"<b>{html.escape(shown.title)}</b>")
        problem = f"<p style='color:#c0392b'>{html.escape(shown.problem)}</p>" if shown.problem else ""
        lines = "".join(f"<li>{html.escape(line)}</li>" for line in shown.lines)
        self.description.setText(f"{problem}<ul style='margin-left:0px'>{lines}</ul>")
        self.controls.setVisible(shown.editable)
        if not shown.editable:
            return
        for key, check in self.invariance_boxes.items():
            check.setChecked(key in shown.invariances)
        self.net_combo.setCurrentIndex(self.net_combo.findData(shown.net))
        self.hidden_edit.setText(shown.hidden)
        self.ensemble_spin.blockSignals(True)
        self.ensemble_spin.setValue(shown.ensemble)
        self.ensemble_spin.blockSignals(False)
        self.manipulator_combo.setCurrentIndex(self.manipulator_combo.findData(shown.manipulator))
        self.manipulator_combo.setEnabled(not shown.manipulator_fixed)
        self.manipulator_combo.setToolTip(
            "Binary images always flip pixels: the search is exact there" if shown.manipulator_fixed
            else self.manipulator_combo.property("tip"))
        self.reset_button.setEnabled(shown.changed)

    def text(self) -> str:
        """The title, a refused change and the description as a person reads them (plain text)."""
        return self._plain

    def set_enabled(self, enabled: bool) -> None:
        """No change while a run owns the experiment."""
        self.controls.setEnabled(enabled)


def _combo(items: tuple[tuple[str, str, str], ...], tip: str) -> QComboBox:
    combo = QComboBox()
    for n, (key, text, item_tip) in enumerate(items):
        combo.addItem(text, key)
        combo.setItemData(n, item_tip, Qt.ItemDataRole.ToolTipRole)
    combo.setToolTip(tip)
    combo.setProperty("tip", tip)
    return combo
