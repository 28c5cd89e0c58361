"""The Classes panel's two partition tables: what they show, gathered from the state, and how a row is filled.

For a binary T a level is P(T=1), one number. Over K > 2 outcomes a level is a distribution: a cell shows
its most likely outcome ("mostly 'up' (0.61)") and its tooltip every outcome's probability.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from viscause_gui.core.method.partitions import spurious_classes
from viscause_gui.gui.models.outcome_text import level_text, level_tooltip, many
from viscause_gui.gui.models.summaries import PartitionSummary, causal_summary, observational_summary
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.colors import class_color
from viscause_gui.gui.widgets.plain_text import plain_tooltip


@dataclass
class ClassView:
    """What the panel shows, gathered from the state (None where unknown)."""
    obs: np.ndarray | None
    causal: np.ndarray | None
    spurious: np.ndarray | None
    obs_summary: PartitionSummary | None
    causal_summary: PartitionSummary | None
    causal_source: str
    outcomes: tuple[str, ...] = ("0", "1")      # the names of T's outcomes


def gather(state: AppState) -> ClassView:
    """Observational / causal / spurious classes of the data set and their summaries."""
    exp = state.experiment
    data = exp.data if exp is not None else state.dataset
    if data is None:
        return ClassView(None, None, None, None, None, "no data set")
    obs = data.obs_class
    causal, levels, source = _causal(state)
    spur = None
    if obs is not None and causal is not None:     # the state's S is shared with the readout and browser
        shared = obs is state.obs_classes() and causal is state.causal_classes()
        spur = state.spurious_classes() if shared else spurious_classes(obs, causal)
    k = data.n_outcomes
    obs_sum = None
    if obs is not None:
        obs_sum = observational_summary(obs, data.p_obs, data.t,
                                        None if exp is None else exp.obs_answers,
                                        None if exp is None else exp.obs_to_causal, outcomes=k)
    causal_sum = None if causal is None else causal_summary(causal, levels, outcomes=k)
    return ClassView(obs, causal, spur, obs_sum, causal_sum, source, data.outcome_names)


def _causal(state: AppState):
    exp = state.experiment
    if exp is not None and exp.causal_labels is not None:
        return exp.causal_labels, exp.causal_levels, "learned by Algorithm 1"
    data = state.dataset
    if data is not None and data.causal_class is not None:
        levels = state.truth.causal_levels() if state.truth is not None else None
        return data.causal_class, levels, "ground truth of the data set"
    return None, None, "unknown: run Algorithm 1 (Learning panel)"


OBS_COLUMNS = [("obs", "the observational class"), ("n", "images in the class"),
               ("P(T=1|I)", "P(T=1 | I): how often T = 1 for the class's images"),
               ("answer", "the oracle's P(T=1 | man(I)) for the class's representatives (Algorithm 1)"),
               ("C", "the causal class the answer puts the class in")]
CAUSAL_COLUMNS = [("C", "the causal class"), ("n", "images in the class"),
                  ("P(T=1|man)", "P(T=1 | man(I)): how often T = 1 when an image of the class is set "
                                 "(manipulated), not only seen")]
# over K > 2 outcomes the level columns hold distributions
MANY_LEVEL_COLUMNS = {
    "obs": {2: ("P(T|I)", "P(T | I): how often each outcome of T happens for the class's images; the cell names "
                          "the most likely one, its tooltip every outcome"),
            3: ("answer", "the oracle's P(T | man(I)) for the class's representatives (Algorithm 1): the most "
                          "likely outcome; its tooltip every outcome")},
    "causal": {2: ("P(T|man)", "P(T | man(I)): how often each outcome of T happens when an image of the class is "
                               "set (manipulated); the cell names the most likely one, its tooltip every outcome")},
}


def name_level_columns(table: QTableWidget, which: str, names: Sequence[str]) -> None:
    """The level columns' headers: P(T=1…) for a binary T, P(T…) over K > 2 outcomes."""
    columns = OBS_COLUMNS if which == "obs" else CAUSAL_COLUMNS
    for col in MANY_LEVEL_COLUMNS[which]:
        text, tip = MANY_LEVEL_COLUMNS[which][col] if many(names) else columns[col]
        table.horizontalHeaderItem(col).setText(text)
        table.horizontalHeaderItem(col).setToolTip(tip)


def fill_obs(table: QTableWidget, s: PartitionSummary | None, names: Sequence[str]) -> None:
    n = 0 if s is None else len(s.classes)
    table.setRowCount(n)
    for r in range(n):
        causal = -1 if s.causal is None else int(s.causal[r])
        answer = np.full(np.shape(s.p_t[r]), np.nan) if s.p_man is None else s.p_man[r]
        set_row(table, r, [str(s.classes[r]), str(s.counts[r]), level_text(s.p_t[r], names),
                           level_text(answer, names), "" if causal < 0 else str(causal)], color=causal,
                tips={2: level_tooltip(s.p_t[r], names), 3: level_tooltip(answer, names)})


def fill_causal(table: QTableWidget, s: PartitionSummary | None, names: Sequence[str]) -> None:
    n = 0 if s is None else len(s.classes)
    table.setRowCount(n)
    for r in range(n):
        set_row(table, r, [str(s.classes[r]), str(s.counts[r]), level_text(s.p_t[r], names)],
                color=int(s.classes[r]), tips={2: level_tooltip(s.p_t[r], names)})


def make_table(columns: list[tuple[str, str]], fit: bool = False) -> QTableWidget:
    """A read-only table with (header, tooltip) columns. fit: each column as wide as its header
    and contents (short headers, the meaning in the tooltip), the last one takes the rest;
    else the columns share the width."""
    table = QTableWidget(0, len(columns))
    for i, (text, tip) in enumerate(columns):
        item = QTableWidgetItem(text)
        item.setToolTip(tip)
        table.setHorizontalHeaderItem(i, item)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents if fit else QHeaderView.ResizeMode.Stretch)
    header.setStretchLastSection(fit)
    table.verticalHeader().setDefaultSectionSize(24)
    return table


def set_row(table: QTableWidget, row: int, texts: list[str], color: int = -1,
            tips: dict[int, str] | None = None) -> None:
    for col, text in enumerate(texts):
        item = QTableWidgetItem(text)
        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        if col == 0 and color >= 0:
            item.setBackground(QBrush(class_color(color, 90)))
        if tips and tips.get(col):
            item.setToolTip(plain_tooltip(tips[col]))
        table.setItem(row, col, item)
