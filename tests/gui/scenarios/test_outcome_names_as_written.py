"""Outcome names that look like HTML ("<b>up</b>", "a & b") are shown as written, never rendered: a
person opens such a data set (Ctrl+O) and reads the names in the status line, the readout, its bars'
tooltip, the Classes table's tooltips and on the answer buttons."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocumentFragment
from PySide6.QtWidgets import QLabel

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.gui.widgets.outcome_buttons import OutcomeButtons

from .people import open_file_with_ctrl_o, press

NAMES = ("<b>up</b>", "<i>left</i>", "a & b")
WAIT_MS = 60_000
DISTRIBUTION = re.compile(r"^<b>up</b> [01]\.\d\d · <i>left</i> [01]\.\d\d · a & b [01]\.\d\d$")


def seen(text: str, label: QLabel | None = None) -> str:
    """What a person reads of a label's text or a tooltip: Qt renders text that looks like HTML as HTML,
    unless the label is plain text."""
    if label is not None and label.textFormat() == Qt.TextFormat.PlainText:
        return text
    if not Qt.mightBeRichText(text):
        return text
    return QTextDocumentFragment.fromHtml(text).toPlainText()


@pytest.fixture
def html_named(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    p_obs = np.repeat(np.eye(3) * 0.8 + 0.2 / 3, 20, axis=0)
    path = tmp_path / "html_named.npz"
    Dataset(rng.random((60, 8, 8)).astype(np.float32), p_obs=p_obs, meta={"outcomes": list(NAMES)},
            name="html_named").save_npz(str(path))
    return path


def test_html_looking_outcome_names_show_as_written(qtbot, shown_window, html_named):
    window = shown_window
    open_file_with_ctrl_o(qtbot, window, html_named, WAIT_MS)
    label = window.data_label
    assert seen(label.text(), label).endswith("T: 3 outcomes (<b>up</b>, <i>left</i>, a & b)")
    assert seen(label.toolTip()).endswith("T's outcomes: 3 outcomes (<b>up</b>, <i>left</i>, a & b)")

    window.state.select([0])
    readout = window.readout
    value = readout.values["p_obs"]
    qtbot.waitUntil(lambda: "mostly" in seen(value.text(), value), timeout=WAIT_MS)
    assert re.match(r"^mostly '(<b>up</b>|<i>left</i>|a & b)' \([01]\.\d\d\)", seen(value.text(), value))
    assert DISTRIBUTION.match(seen(value.toolTip()))
    assert DISTRIBUTION.match(seen(readout.bars.toolTip()).splitlines()[0].split(": ", 1)[1])

    table = window.panels["classes"].obs_table
    qtbot.waitUntil(lambda: table.rowCount() == 3, timeout=WAIT_MS)
    assert all(DISTRIBUTION.match(seen(table.item(r, 2).toolTip())) for r in range(3))


def test_answer_buttons_show_html_looking_names_as_written(qtbot):
    buttons = OutcomeButtons()
    qtbot.addWidget(buttons)
    buttons.set_outcomes(NAMES, ("u", "l", "a"))
    assert [b.text() for b in buttons.buttons] == ["<b>up</b>  [u]", "<i>left</i>  [l]", "a & b  [a]"]
    assert seen(buttons.buttons[0].toolTip()) == "The oracle sees the outcome <b>up</b> (key u)"


def test_the_start_hint_and_f1_speak_of_the_outcomes(qtbot, shown_window, html_named):
    window = shown_window
    open_file_with_ctrl_o(qtbot, window, html_named, WAIT_MS)
    hint = " ".join(seen(label.text()) for label in window.teaching.start_hint.findChildren(QLabel))
    assert "bars of P(T | I) and P(T | man(I)) over T's 3 outcomes" in hint, hint
    assert "P(T=1" not in hint
    press(qtbot, window, Qt.Key.Key_F1)
    assert "Here T has 3 outcomes (<b>up</b>, <i>left</i>, a & b)" in seen(window.messages[-1][2])
