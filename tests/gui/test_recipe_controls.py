"""The data recipe in the app: a person opens their own images through the File menu, reads in the
Learning panel the recipe chosen from them (the one `viscause run DATA` chooses: the test runs both),
changes it in the Recipe tab, runs it, saves the session and finds the recipe again when the session
is reopened. Built-in data shows its own recipe, read-only; an older session without one still opens."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QInputDialog

from tests.gui.conftest import open_main_window, pick_item
from tests.oracle_models import HBAR_PYTHON, hbar_answer
from viscause_gui.core.method.experiment import ExperimentConfig
from viscause_gui.gui.main_window import MainWindow

from .scenarios.people import press

pytestmark = pytest.mark.slow      # the main window trains with the recipe a person set

WAIT_MS = 60_000
DATA_DIR = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def dialogs(monkeypatch):
    """What the person picks in the file dialogs: `dialogs[kind] = path` ('file', 'folder', 'save')."""
    chosen = {"file": "", "folder": "", "save": "", "function": "answer"}
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (chosen["file"], "")))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: chosen["folder"]))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (chosen["save"], "")))
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: (chosen["function"], True)))
    return chosen


def bars_folder(root: Path) -> Path:
    """60 grey 10x10 images in sub-folders no/ and yes/ (labels 0 and 1); 'yes' images have a bright row."""
    rng = np.random.default_rng(0)
    for label in ("no", "yes"):
        (root / "bars" / label).mkdir(parents=True)
        for i in range(30):
            image = (rng.random((10, 10)) * 60).astype(np.uint8)
            if label == "yes":
                image[rng.integers(10), :] = 255
            Image.fromarray(image).save(root / "bars" / label / f"{i:02d}.png")
    return root / "bars"


def pick(qtbot, combo: QComboBox, key: str) -> None:
    pick_item(qtbot, combo, key)


def click_tab(qtbot, learning, title: str) -> None:
    bar = learning.tabs.tabBar()
    index = next(i for i in range(bar.count()) if bar.tabText(i) == title)
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    assert learning.tabs.currentIndex() == index


def wait_for(qtbot, window: MainWindow, name: str) -> None:
    qtbot.waitUntil(lambda: window.state.dataset is not None and window.state.dataset.name == name, timeout=WAIT_MS)


def new_window(qtbot, settings) -> MainWindow:
    return open_main_window(qtbot, settings)


def test_own_data_runs_with_the_recipe_the_command_chooses(qtbot, shown_window, dialogs, tmp_path):
    rng = np.random.default_rng(1)
    images = (rng.random((60, 10, 10)) * 0.3).astype(np.float32)
    images[30:, 4, :] = 1.0
    np.savez(tmp_path / "mine.npz", images=images, p_obs=np.r_[np.full(30, 0.2), np.full(30, 0.8)])
    window, learning = shown_window, shown_window.panels["learning"]
    dialogs["file"] = str(tmp_path / "mine.npz")
    press(qtbot, window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    wait_for(qtbot, window, "mine")
    assert "MLP, hidden layer of 100 x2 · patches search · invariances: none" in learning.recipe_summary.text()
    pick(qtbot, learning.oracle_combo, "human")
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS) as ended:
        press(qtbot, window, Qt.Key.Key_F4)             # Algorithm 1 asks; the run waits for the person
    assert ended.args == ["human"]
    app_config = learning.experiment.config.to_json()

    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "viscause_gui", "run", str(tmp_path / "mine.npz"), "--oracle",
                           "offline", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    cli_config = ExperimentConfig.from_json(json.loads((out / "history.json").read_text())["config"]).to_json()
    assert app_config == cli_config
    assert app_config["ensemble"] == 2 and app_config["manipulator"] == "patches" and app_config["premise_check"]


def test_a_person_changes_the_recipe_runs_it_and_finds_it_in_the_reopened_session(qtbot, shown_window, dialogs,
                                                                                   settings, tmp_path):
    window, learning = shown_window, shown_window.panels["learning"]
    dialogs["folder"] = str(bars_folder(tmp_path))
    press(qtbot, window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    wait_for(qtbot, window, "bars")
    box = learning.recipe_box
    click_tab(qtbot, learning, "Recipe")
    assert box.text().startswith("Recipe chosen from the data: 60 10x10 grey images")
    assert "search: patches of real images" in box.text() and "invariances: none" in box.text()
    assert box.controls.isVisible() and not box.reset_button.isEnabled()

    qtbot.mouseClick(box.invariance_boxes["flips"], Qt.MouseButton.LeftButton)
    assert "invariances: flips (your choice): declared: each answered image's mirror image" in box.text()
    pick(qtbot, box.manipulator_combo, "pixels")
    assert "search: pixels (your choice)" in box.text()
    assert "pixels search · invariances: flips (changed)" in learning.recipe_summary.text()
    assert box.reset_button.isEnabled()

    assert "No image of bars has the label 7 (its labels: 0, 1)" in learning.status.text()
    learning.label_spin.setValue(1)                     # T = 1 for the images in yes/
    assert learning.status.text() == "" and learning.progress.format() == "idle"
    learning.label_spin.setValue(5)
    assert "No image of bars has the label 5" in learning.status.text()
    learning.label_spin.setValue(1)
    assert learning.status.text() == ""
    learning.iterations_spin.setValue(1)
    learning.queries_spin.setValue(5)
    learning.epochs_spin.setValue(2)
    assert "training: up to 2 epochs, then 2 per iteration" in box.text() and "answers (your choice)" in box.text()
    (tmp_path / "oracle.py").write_text(HBAR_PYTHON)
    dialogs["file"] = str(tmp_path / "oracle.py")
    pick(qtbot, learning.oracle_combo, "python")
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS) as ended:
        press(qtbot, window, Qt.Key.Key_F5)
    assert ended.args == ["goal"], learning.status.text()
    config = learning.experiment.config
    assert (config.augment_flips, config.manipulator, config.epochs, config.ensemble, config.net) == (
        True, "pixels", 2, 2, {"arch": "mlp", "hidden": [100]})
    assert learning.table.rowCount() == 1
    batch = learning.experiment.batches[-1]
    np.testing.assert_allclose(batch.answers, hbar_answer(batch.images))

    dialogs["save"] = str(tmp_path / "bars.vcsession")
    press(qtbot, window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: (tmp_path / "bars.vcsession").exists(), timeout=WAIT_MS)
    window.close()

    again = new_window(qtbot, settings)
    dialogs["file"] = str(tmp_path / "bars.vcsession")
    again.actions["open_session"].trigger()
    wait_for(qtbot, again, "bars")
    learning = again.panels["learning"]
    box = learning.recipe_box
    click_tab(qtbot, learning, "Recipe")
    assert "search: pixels (your choice)" in box.text() and "invariances: flips (your choice)" in box.text()
    assert box.invariance_boxes["flips"].isChecked() and not box.invariance_boxes["shifts"].isChecked()
    assert box.manipulator_combo.currentData() == "pixels" and box.reset_button.isEnabled()
    assert learning.experiment.config.augment_flips and learning.table.rowCount() == 1
    qtbot.mouseClick(box.reset_button, Qt.MouseButton.LeftButton)
    assert "search: patches of real images" in box.text() and not box.invariance_boxes["flips"].isChecked()
    assert again.messages == []


def test_built_in_data_shows_its_own_recipe_read_only(qtbot, shown_window):
    learning = shown_window.panels["learning"]
    box = learning.recipe_box
    click_tab(qtbot, learning, "Recipe")
    assert box.text().startswith("The app's standard recipe (GRATING's)\n")
    assert "invariances: 10 cyclic shifts of each answered image" in box.text()
    assert not box.controls.isVisible()
    shown_window.opener.open_builtin("digits8x8")
    wait_for(qtbot, shown_window, "digits8x8")
    assert box.text().startswith("Digit mode: T = 'shows a 7'")
    learning.label_spin.setValue(3)
    assert box.text().startswith("Digit mode: T = 'shows a 3'")
    assert not box.controls.isVisible() and learning.recipe.to_json() is None


@pytest.mark.parametrize("name", ["grating_before_layout", "digits_before_layout"])
def test_a_session_saved_before_recipes_still_opens(qtbot, shown_window, dialogs, tmp_path, name):
    copy = tmp_path / f"{name}.vcsession"
    copy.write_bytes((DATA_DIR / f"{name}.vcsession").read_bytes())
    dialogs["file"] = str(copy)
    shown_window.actions["open_session"].trigger()
    learning = shown_window.panels["learning"]
    qtbot.waitUntil(lambda: shown_window.session.path == copy, timeout=WAIT_MS)
    assert shown_window.messages == []
    assert not learning.recipe.editable and "sessions saved before recipes run with this one" in \
        learning.recipe_box.text()
