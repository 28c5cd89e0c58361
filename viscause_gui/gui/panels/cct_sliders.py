"""The CCT explorer's grid of sliders: P(H=0), P(I | H) and P(T | H, I), one slider per probability;
over K > 2 outcomes one slider per outcome of each (h, i), under a row of the outcomes' names.

`make_slider(key, value, tip)` builds each slider; keys are ("h", 0, 0), ("i", h, i), ("t", h, i)
for a binary T's P(T=1 | h, i) and ("t", h, i, k) for P(T=k | h, i) over K > 2 outcomes.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from viscause_gui.gui.models.cct_explore import CctExplorer

SliderKey = tuple
MakeSlider = Callable[[SliderKey, float, str], QWidget]

ROW_TIP = ("; the outcomes of this (H, I) stay a distribution: moving this slider rescales the others "
           "proportionally so that they sum to 1")


def slider_value(explorer: CctExplorer, key: SliderKey) -> float:
    """The probability the slider of `key` shows."""
    kind, h, i = key[:3]
    if kind == "h":
        return explorer.p_h0
    if kind == "i":
        return float(explorer.p_i_given_h[h, i])
    return float(explorer.p_t[h, i, key[3]] if len(key) == 4 else explorer.p_t1[h, i])


def slider_grid(explorer: CctExplorer, make_slider: MakeSlider) -> QWidget:
    """A widget holding every slider of the explorer's model."""
    box = QWidget()
    grid = QGridLayout(box)
    grid.setContentsMargins(2, 2, 2, 2)
    grid.addWidget(QLabel("P(H=0)"), 0, 0)
    grid.addWidget(make_slider(("h", 0, 0), explorer.p_h0, "P(H=0); P(H=1) is the rest"), 0, 1)
    names = explorer.outcomes
    row = 1
    if explorer.n_outcomes > 2:
        for k, name in enumerate(names):
            grid.addWidget(QLabel(f"T = {name}"), row, 3 + k)
        row += 1
    for h in range(2):
        for i in range(explorer.n_images):
            grid.addWidget(QLabel(f"P(I={i} | H={h})"), row, 0)
            grid.addWidget(make_slider(("i", h, i), explorer.p_i_given_h[h, i],
                                       f"P(I={i} | H={h}); the other images of H={h} share the rest"), row, 1)
            if explorer.n_outcomes == 2:
                grid.addWidget(QLabel(f"P(T=1 | H={h}, I={i})"), row, 2)
                grid.addWidget(make_slider(("t", h, i), explorer.p_t1[h, i], f"P(T=1 | H={h}, I={i})"), row, 3)
            else:
                grid.addWidget(QLabel(f"P(T | H={h}, I={i})"), row, 2)
                for k, name in enumerate(names):
                    grid.addWidget(make_slider(("t", h, i, k), explorer.p_t[h, i, k],
                                               f"P(T={name} | H={h}, I={i}){ROW_TIP}"), row, 3 + k)
            row += 1
    grid.setColumnStretch(1, 1)
    for col in range(3, 4 if explorer.n_outcomes == 2 else 3 + explorer.n_outcomes):
        grid.setColumnStretch(col, 1)
    return box
