"""A data set whose T has three outcomes (benchmarks/three_outcomes.py: a robot turns left, goes up or turns
right at a white disc, square or triangle on a confounded background), opened and run in the main window
as a person does: Ctrl+O, the Python oracle the set comes with picked in the Oracle list, Run Algorithm 1
and 2; the status line, the readout's bars, the Classes tables and the manipulator's targets name the
outcomes, and the answers exported name them too."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog

from benchmarks import three_outcomes
from tests.gui.conftest import pick_item
from viscause_gui.core.data.dataset import Dataset
from viscause_gui.gui.models.dialogs import Choice

from .people import open_file_with_ctrl_o

WAIT_MS = 240_000
OUTCOMES = three_outcomes.OUTCOMES            # left, up, right
MOSTLY = re.compile(r"^mostly '(left|up|right)' \((0\.\d\d|1\.00)\)$")


@pytest.fixture(scope="module")
def three_set(tmp_path_factory) -> Path:
    """The set's folder: data.npz (samples of T, as a person brings it), p_obs.npz (the same images with
    P(T | I) known: the run finds its classes at once) and the oracle.py it comes with."""
    folder = tmp_path_factory.mktemp("three")
    s = three_outcomes.write(folder, seed=0, n=450, n_test=10)
    meta = {"outcomes": list(OUTCOMES)}
    Dataset(s.images, p_obs=s.p_t, meta=meta, name="three_p_obs").save_npz(str(folder / "p_obs.npz"))
    return folder


def pick_python_oracle(qtbot, monkeypatch, learning, oracle: Path) -> list[str]:
    """Pick "Python function…" in the Oracle list, choose the set's oracle.py and its function `answer`."""
    asked: list[str] = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(oracle), "")))
    monkeypatch.setattr(QInputDialog, "getText",
                        staticmethod(lambda parent, title, label, **k: asked.append(label) or ("answer", True)))
    pick_item(qtbot, learning.oracle_combo, "python")
    return asked


def run(qtbot, learning, button: str) -> str:
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(learning.buttons[button], Qt.MouseButton.LeftButton)
    return blocker.args[0]


def test_samples_of_t_over_three_outcomes_open_and_say_their_outcomes(qtbot, shown_window, three_set):
    window = shown_window
    open_file_with_ctrl_o(qtbot, window, three_set / "data.npz", WAIT_MS)
    assert window.state.dataset.outcome_names == OUTCOMES
    assert window.data_label.text().endswith(" · T: 3 outcomes (left, up, right)")
    readout = window.readout
    assert readout.bars.isVisible()
    assert readout.forms["causal"]._captions[readout.values["p_causal"]].text() == "P(T | man(I)):"
    classes = window.panels["classes"]
    qtbot.waitUntil(lambda: classes.obs_table.horizontalHeaderItem(2).text() == "P(T|I)", timeout=WAIT_MS)
    t = OUTCOMES[int(window.state.dataset.t[window.state.current_index])]
    assert f"T {t}" in readout.values["source"].text()

    qtbot.keyClick(window, Qt.Key.Key_F11)                       # presenter mode on a three-outcome set
    assert window.teaching.presenter.on and readout.bars.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_F11)
    assert not window.teaching.presenter.on

    window.session.dialogs.ask_save = lambda title, text: Choice.DISCARD
    window.opener.open_builtin("grating", n=300, seed=3)         # back to a binary T: as it always was
    qtbot.waitUntil(lambda: window.state.dataset.name.startswith("grating"), timeout=WAIT_MS)
    assert not readout.bars.isVisible() and " · T:" not in window.data_label.text()
    assert readout.forms["causal"]._captions[readout.values["p_causal"]].text() == "P(T=1 | man(I)):"
    qtbot.waitUntil(lambda: classes.obs_table.horizontalHeaderItem(2).text() == "P(T=1|I)", timeout=WAIT_MS)


def test_a_three_outcome_run_shows_its_outcomes_everywhere(qtbot, shown_window, three_set, monkeypatch, tmp_path):
    window = shown_window
    open_file_with_ctrl_o(qtbot, window, three_set / "p_obs.npz", WAIT_MS)
    learning = window.panels["learning"]
    asked = pick_python_oracle(qtbot, monkeypatch, learning, three_set / "oracle.py")
    assert asked == ["The function in oracle.py that answers P(T) over the 3 outcomes (left, up, right) "
                     "for a batch of images:"]
    for spin, value in ((learning.iterations_spin, 1), (learning.queries_spin, 12), (learning.epochs_spin, 2),
                        (learning.retrain_spin, 2)):
        spin.setValue(value)
    assert run(qtbot, learning, "run1") == "goal"
    exp = window.state.experiment
    assert exp.n_outcomes == 3 and exp.obs_answers.shape[1] == 3

    classes = window.panels["classes"]
    qtbot.waitUntil(lambda: classes.causal_table.rowCount() == len(exp.causal_levels), timeout=WAIT_MS)
    assert classes.causal_table.horizontalHeaderItem(2).text() == "P(T|man)"
    for r in range(classes.causal_table.rowCount()):
        cell = classes.causal_table.item(r, 2)
        level = exp.causal_levels[int(classes.causal_table.item(r, 0).text())]
        assert cell.text() == f"mostly '{OUTCOMES[int(np.argmax(level))]}' ({level.max():.2f})"
        assert cell.toolTip() == " · ".join(f"{n} {p:.2f}" for n, p in zip(OUTCOMES, level))
    answers = [classes.obs_table.item(r, 3).text() for r in range(classes.obs_table.rowCount())]
    assert answers and all(MOSTLY.match(a) for a in answers), answers

    assert run(qtbot, learning, "run2") == "goal"
    window.state.select([0])
    readout = window.readout
    qtbot.waitUntil(lambda: readout.values["p_causal"].text().startswith("mostly '"), timeout=30_000)
    readings = window.teaching.stage.readings()                  # what a lesson reads: distributions over K
    assert readings["p_causal"].shape == (3,) and readings["p_obs"].shape == (3,)
    bars = readout.bars
    manipulated = bars.values["P(T | man(I))"]
    assert manipulated is not None and manipulated.shape == (3,) and abs(manipulated.sum() - 1) < 1e-6
    probs = exp.predict_causal(window.state.current_image[None])[0]
    np.testing.assert_allclose(manipulated, probs @ window.state.experiment.causal_levels)
    assert bars.names == OUTCOMES

    manipulator = window.panels["manipulator"]
    combo = manipulator.target_combo
    targets = [combo.itemText(i) for i in range(1, combo.count())]
    levels = window.state.experiment.causal_levels
    assert targets == [f"C{k}: mostly '{OUTCOMES[int(np.argmax(v))]}' ({v.max():.2f})" for k, v in enumerate(levels)]

    window.session.exports.answers(tmp_path / "answers.csv")
    with open(tmp_path / "answers.csv", encoding="utf-8") as f:
        assert next(csv.reader(f))[-1] == "outcome"
