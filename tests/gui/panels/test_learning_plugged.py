"""The Learning panel's plugged oracles: a person picks "Python function…" or "Model file
(torch/ONNX)…" in the Oracle list, chooses the file (the dialogs are stood in for), and runs."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog, QInputDialog

from tests.gui.conftest import pick_item
from tests.oracle_models import HBAR_PYTHON, export_hbar, hbar_answer
from viscause_gui.gui.panels.learning import LearningPanel
from viscause_gui.gui.state import AppState
from viscause_gui.gui.workers import WorkerPool

TIMEOUT = 30000


@pytest.fixture
def panel(qtbot, grating):
    state, workers = AppState(), WorkerPool()
    state.set_dataset(grating[1])
    panel = LearningPanel(state, workers)
    qtbot.addWidget(panel)
    panel.show()
    panel.iterations_spin.setValue(2)
    panel.queries_spin.setValue(10)
    panel.epochs_spin.setValue(2)
    panel.retrain_spin.setValue(2)
    yield panel
    workers.stop_all()


@pytest.fixture
def dialogs(monkeypatch):
    """What the person answers in the file dialog and the prompts; records what they were asked."""
    answers = {"file": "", "function": ("answer", True), "class": (1, True)}
    asked: list[str] = []

    def file(parent, caption, folder, filters):
        asked.append(caption)
        return answers["file"], ""

    def text(parent, title, label, **kw):
        asked.append(label)
        return answers["function"]

    def integer(parent, title, label, *args):
        asked.append(label)
        return answers["class"]

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(file))
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(text))
    monkeypatch.setattr(QInputDialog, "getInt", staticmethod(integer))
    answers["asked"] = asked
    return answers


def pick(qtbot, panel: LearningPanel, key: str) -> None:
    """Open the Oracle list and click the item, as a person does."""
    pick_item(qtbot, panel.oracle_combo, key)


def run2(qtbot, panel: LearningPanel) -> str:
    with qtbot.waitSignal(panel.run_finished, timeout=TIMEOUT) as blocker:
        panel.buttons["run2"].click()
    return blocker.args[0]


def test_a_python_function_answers_the_run(qtbot, panel, dialogs, tmp_path):
    (tmp_path / "my_oracle.py").write_text(HBAR_PYTHON)
    dialogs["file"] = str(tmp_path / "my_oracle.py")
    pick(qtbot, panel, "python")
    assert panel.oracle_combo.currentText() == "Python function…"
    assert dialogs["asked"][1] == "The function in my_oracle.py that answers P(T=1) for a batch of images:"
    assert panel.plugged_label.isVisible()
    assert panel.plugged_label.text() == f"Oracle: python:{tmp_path / 'my_oracle.py'}:answer"
    assert run2(qtbot, panel) == "goal"
    assert panel.table.rowCount() == 2
    batch = panel.experiment.batches[-1]
    np.testing.assert_allclose(batch.answers, hbar_answer(batch.images))


@pytest.mark.slow
def test_a_model_file_with_its_positive_class(qtbot, panel, dialogs, tmp_path):
    dialogs["file"] = str(export_hbar(tmp_path / "hbar.pt2"))
    dialogs["class"] = (1, True)
    pick(qtbot, panel, "model_file")
    assert dialogs["asked"][-1] == "The class whose probability is P(T=1):"
    assert panel.plugged_label.text() == f"Oracle: torch:{tmp_path / 'hbar.pt2'} · P(T=1) = P(class 1)"
    assert run2(qtbot, panel) == "goal"
    batch = panel.experiment.batches[-1]
    assert np.array_equal(batch.answers > 0.5, hbar_answer(batch.images) > 0.5)


def test_cancel_or_a_bad_file_goes_back_to_the_oracle_before(qtbot, panel, dialogs, tmp_path):
    assert panel.oracle_combo.currentData() == "truth"
    dialogs["file"] = ""                                  # the person cancels the file dialog
    pick(qtbot, panel, "python")
    assert panel.oracle_combo.currentData() == "truth" and not panel.plugged_label.isVisible()
    (tmp_path / "empty.py").write_text("x = 1\n")
    dialogs["file"] = str(tmp_path / "empty.py")
    pick(qtbot, panel, "python")
    assert panel.oracle_combo.currentData() == "truth"
    assert "empty.py has no 'answer'" in panel.status.text()
    dialogs["file"], dialogs["class"] = str(tmp_path / "empty.py"), (5, True)
    pick(qtbot, panel, "model_file")
    assert panel.oracle_combo.currentData() == "truth" and "not a torch.export or TorchScript file" in \
        panel.status.text()


def test_a_failing_oracle_stops_the_run_with_one_message_and_keeps_the_batch(qtbot, panel, dialogs, tmp_path):
    (tmp_path / "bad.py").write_text("def answer(images):\n    return [0.5] * (len(images) - 1)\n")
    dialogs["file"] = str(tmp_path / "bad.py")
    pick(qtbot, panel, "python")
    assert run2(qtbot, panel) == "error"
    text = panel.status.text()
    assert f"oracle python:{tmp_path / 'bad.py'}:answer returned shape (19,) for 20 images" in text
    exp = panel.experiment
    assert exp is not None and exp.pending is not None and exp.pending.kind == "algorithm1"
    (tmp_path / "good.py").write_text(HBAR_PYTHON)
    dialogs["file"] = str(tmp_path / "good.py")
    pick(qtbot, panel, "python")                            # picked again: a new file
    assert run2(qtbot, panel) == "goal" and panel.table.rowCount() == 2
