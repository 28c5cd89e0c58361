"""A person moves the Confounding panel's sliders, by mouse or keyboard, as far as they go: every
position is a valid GRATING model (P(T=1 | H1, C) in [0, 1]), the table shows that model and no
red error appears. The Barometer lesson's last step ("make H1 weigh more than the h-bar") works
by raising H1 alone."""
from __future__ import annotations

import itertools

import pytest
from PySide6.QtCore import Qt

from viscause_gui.core.experiments.grating_confounding import confounding

SUMMED = ("base", "w_h1", "w_c")          # P(T=1 | H1=1, h-bar) = base + w_h1 + w_c


@pytest.fixture
def panel(qtbot, shown_window):
    window = shown_window
    window.docks["confounding"].toggleViewAction().trigger()       # View → Confounding
    window.docks["confounding"].raise_()                            # its tab in front
    panel = window.teaching.confounding
    qtbot.waitUntil(panel.isVisible, timeout=5_000)
    return panel


def _key(qtbot, panel, key: str, press: Qt.Key, times: int = 1) -> None:
    """Keys on a slider the person moved to with Tab (the slider itself takes the focus)."""
    inner = panel.sliders[key]._slider
    inner.setFocus(Qt.FocusReason.TabFocusReason)
    for _ in range(times):
        qtbot.keyClick(inner, press)


def _assert_shows_a_valid_model(panel) -> None:
    values = panel.values()
    assert "must lie in" not in panel.summary.text() and "c0392b" not in panel.summary.text(), panel.summary.text()
    assert sum(values[k] for k in SUMMED) <= 1 + 1e-9, values
    assert panel.result is not None
    expected = confounding(**values).rows()
    shown = [tuple(panel.table.item(r, c).text() for c in range(3)) for r in range(4)]
    assert shown == [(kind, f"{p:.2f}", f"{q:.2f}") for kind, p, q in expected], (values, shown)


def test_raising_h1_above_the_h_bar_as_the_barometer_lesson_says(qtbot, panel):
    before = panel.result.accuracy_observational
    _key(qtbot, panel, "w_h1", Qt.Key.Key_Right, times=5)          # H1: 0.30 -> 0.55
    values = panel.values()
    assert values["w_h1"] == pytest.approx(0.55) and values["w_h1"] > values["w_c"]
    _assert_shows_a_valid_model(panel)
    assert panel.result.accuracy_observational < before - 0.05     # the lesson's point: the classifier goes wrong
    assert "the h-bar gave way" in panel.note.text()
    _key(qtbot, panel, "p_h1", Qt.Key.Key_Right)                     # nothing needs to give way to P(H1 = 1)
    assert panel.note.text() == ""


@pytest.mark.parametrize("key, press", itertools.product(SUMMED, (Qt.Key.Key_End, Qt.Key.Key_PageUp)),
                         ids=lambda v: v if isinstance(v, str) else v.name.removeprefix("Key_"))
def test_every_slider_pushed_to_its_end_by_keyboard(qtbot, panel, key, press):
    _key(qtbot, panel, key, press, times=3)
    assert panel.values()[key] == pytest.approx(1.0)
    _assert_shows_a_valid_model(panel)
    for other in SUMMED:                   # and back down: still valid at every step
        _key(qtbot, panel, other, Qt.Key.Key_Home)
        _assert_shows_a_valid_model(panel)


def test_sliders_set_one_after_another_to_the_extremes(qtbot, panel):
    for key, value in (("w_h1", 1.0), ("w_c", 1.0), ("base", 1.0), ("w_h1", 0.7), ("p_h1", 0.0), ("w_c", 0.45),
                       ("base", 0.0), ("w_h1", 0.0), ("w_c", 0.0), ("base", 0.35)):
        panel.sliders[key].setValue(value)                 # a drag ends where the person lets go
        assert panel.values()[key] == pytest.approx(value)
        _assert_shows_a_valid_model(panel)
