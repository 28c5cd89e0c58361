"""The main window: opening data of every kind, errors, status bar, settings, closing."""
from __future__ import annotations

import gzip
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QDialogButtonBox, QMenu

from viscause_gui.core.experiments.grating import GratingModel, TruthOracle
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
from viscause_gui.gui.data_dialog import BuiltinDialog
from viscause_gui.gui.main_window import MainWindow
from viscause_gui.gui.models.actions import ActionRegistry

WAIT_MS = 10_000


def make_window(qtbot, settings, **kwargs) -> MainWindow:
    window = MainWindow(settings=settings, **kwargs)
    window.messages = []
    window.show_message = lambda level, title, text: window.messages.append((level, title, text))
    qtbot.addWidget(window)
    return window


@pytest.fixture
def window(qtbot, settings) -> MainWindow:
    return make_window(qtbot, settings)


def wait_loaded(qtbot, window: MainWindow, name: str) -> None:
    qtbot.waitUntil(lambda: window.state.dataset is not None and window.state.dataset.name == name,
                    timeout=WAIT_MS)


def write_idx(folder: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    n, h, w = images.shape
    img_path = folder / "train-images-idx3-ubyte.gz"
    with gzip.open(img_path, "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, h, w) + images.astype(np.uint8).tobytes())
    with open(folder / "train-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + labels.astype(np.uint8).tobytes())
    return img_path


# ----- first start -----

def test_first_start_shows_grating(window):
    ds = window.state.dataset
    assert ds is not None and len(ds) == 2000 and ds.shape == (10, 10)
    assert window.state.truth is not None
    assert "2,000 × 10 × 10" in window.data_label.text()
    assert window.status_line.device_label.text().split()[-1] in ("CPU", "CUDA")
    assert window.state.current_image is not None
    assert window.browser.model.rowCount() == 2000


@pytest.mark.slow
def test_observational_model_trains_in_the_background(qtbot, window):
    qtbot.waitUntil(lambda: window.readout.obs_model is not None, timeout=WAIT_MS)
    window.state.select([0])
    window.readout.refresh()
    float(window.readout.values["p_obs"].text())          # a number, not a status


# ----- opening data -----

def test_open_npz_with_t_estimates_observational_classes(qtbot, window, tmp_path):
    rng = np.random.default_rng(0)
    images = (rng.random((40, 8, 8)) < 0.2).astype(np.float32)   # < 50 images: a quick one-class fit
    t = (images[:, 0, 0] > 0).astype(np.int64)
    path = tmp_path / "mine.npz"
    np.savez(path, images=images, t=t)
    window.opener.open_path(path)
    wait_loaded(qtbot, window, "mine")
    assert "40 × 8 × 8" in window.data_label.text()
    assert window.state.truth is None
    qtbot.waitUntil(lambda: window.state.obs_classes() is not None, timeout=WAIT_MS)
    assert window.browser.shown.classes["obs"] is not None
    assert window.settings.value("paths/last_folder") == str(tmp_path)
    assert window.messages == []


def test_open_folder_of_images(qtbot, window, tmp_path):
    for k in range(3):
        Image.fromarray(np.full((6, 5), 40 * k, np.uint8)).save(tmp_path / f"{k}.png")
    window.opener.open_path(tmp_path)
    wait_loaded(qtbot, window, tmp_path.name)
    assert window.state.dataset.shape == (6, 5)
    assert "3 × 6 × 5" in window.data_label.text()


def test_open_mnist_idx(qtbot, window, tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (7, 28, 28))
    path = write_idx(tmp_path, images, np.arange(7) % 10)
    window.opener.open_path(path)
    wait_loaded(qtbot, window, "train")
    assert window.state.dataset.labels.tolist() == list(range(7))


def test_open_builtins(qtbot, window):
    window.opener.open_builtin("digits8x8")
    wait_loaded(qtbot, window, "digits8x8")
    assert window.state.truth is None and window.state.dataset.shape == (8, 8)
    window.opener.open_builtin("grating", n=300, seed=3, w_c=0.5)
    wait_loaded(qtbot, window, "grating")
    assert len(window.state.dataset) == 300
    assert window.state.truth.model == GratingModel(w_c=0.5)
    assert window.messages == []


def test_corrupt_file_gives_one_warning_and_keeps_the_data(qtbot, window, tmp_path):
    before = window.state.dataset
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a zip archive")
    window.opener.open_path(bad)
    qtbot.waitUntil(lambda: len(window.messages) > 0, timeout=WAIT_MS)
    qtbot.wait(100)
    assert len(window.messages) == 1
    level, _title, text = window.messages[0]
    assert level == "warning" and "broken.npz" in text
    assert window.state.dataset is before
    assert "2,000 × 10 × 10" in window.data_label.text()


def test_drop_a_file_opens_it(qtbot, window, tmp_path):
    path = tmp_path / "dropped.npz"
    np.savez(path, images=np.zeros((4, 5, 5), np.float32))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(drop)
    wait_loaded(qtbot, window, "dropped")


def test_builtin_dialog(qtbot, settings):
    dialog = BuiltinDialog(settings)
    qtbot.addWidget(dialog)
    dialog.set_builtin("grating")
    dialog.fields["n"].setValue(500)
    dialog.fields["w_c"].setValue(0.5)
    name, options = dialog.request()
    assert name == "grating" and options["n"] == 500 and options["w_c"] == 0.5
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    dialog.fields["w_c"].setValue(0.9)           # 0.1 + 0.3 + 0.9 > 1
    assert not ok.isEnabled() and not dialog.is_valid()
    dialog.fields["w_c"].setValue(0.6)
    assert ok.isEnabled()
    ok.click()
    assert int(settings.value("builtin/grating/n")) == 500
    dialog.set_builtin("digits8x8")
    assert dialog.request() == ("digits8x8", {}) and dialog.options_box.isHidden()


# ----- the readout with a trained experiment -----

def test_readout_shows_causal_prediction(qtbot, window):
    model = GratingModel()
    window.state.set_dataset(model.sample(500, 0))
    exp = Experiment(window.state.dataset, ExperimentConfig(iterations=1, queries=10, epochs=2))
    exp.run(TruthOracle(model))
    window.state.set_experiment(exp)
    window.state.select([0])
    qtbot.waitUntil(lambda: "(p = " in window.readout.values["causal"].text(), timeout=WAIT_MS)
    float(window.readout.values["p_causal"].text())
    assert window.browser.shown.classes["spurious"] is not None


# ----- actions, settings, workers -----

def test_actions_have_shortcuts_and_tooltips(window):
    shortcuts = {key: window.actions[key].shortcut().toString() for key in
                 ("open_file", "open_folder", "open_builtin", "quit", "help")}
    assert shortcuts == {"open_file": "Ctrl+O", "open_folder": "Ctrl+Shift+O", "open_builtin": "Ctrl+B",
                         "quit": "Ctrl+Q", "help": "F1"}
    for menu_action in window.menuBar().actions():
        for action in menu_action.menu().actions():
            if not action.isSeparator():
                assert action.toolTip() and action.toolTip() != action.text().replace("&", ""), action.text()


def test_the_menus_are_the_action_registry(window):
    """Every command of the window is one declared spec (title, shortcut, menu section) and the
    File menu shows them in the registry's sections, a line between sections."""
    registry = ActionRegistry()
    registry.add(window.teaching.lesson_specs())
    assert set(window.actions) == {spec.id for spec in registry}
    for spec in registry:
        action = window.actions[spec.id]
        assert action.text() == spec.title, spec.id
        assert action.shortcut() == QKeySequence(spec.shortcut or ""), spec.id
    file_menu = window.findChild(QMenu, "menu_file")
    assert [a.text() or "—" for a in file_menu.actions()] == [
        "&Open file…", "Open &folder…", "Open &built-in…", "Open s&weep…", "Open &lesson…", "Save as lesson…", "—",
        "&Save session", "Save session &as…", "Open &session…", "—",
        "Export answers CSV…", "Export causal data set (npz)…", "Export plots (PNG)…", "—", "&Quit"]
    help_menu = window.findChild(QMenu, "menu_help")
    lessons = next(a.menu() for a in help_menu.actions() if a.menu() is not None)
    assert len(lessons.actions()) == len(window.teaching.lesson_specs()) > 0


def test_help_explains_the_method(window):
    window.actions["help"].trigger()
    level, _title, text = window.messages[-1]
    assert level == "info" and "causal" in text.lower() and "spurious" in text.lower()


def test_worker_errors_reach_the_user(qtbot, window):
    def boom():
        raise RuntimeError("out of cheese")
    window.workers.start("boom", boom)
    qtbot.waitUntil(lambda: any("out of cheese" in m[2] for m in window.messages), timeout=WAIT_MS)
    assert window.messages[-1][0] == "error"


def test_status_bar_shows_worker_state(qtbot, window):
    def slow():
        for _ in range(20):
            time.sleep(0.01)
            yield
    window.workers.start("slow job", slow)
    assert "slow job" in window.worker_label.text()
    qtbot.waitUntil(lambda: "slow job" not in window.worker_label.text(), timeout=WAIT_MS)


@pytest.mark.slow
def test_settings_are_remembered(qtbot, settings):
    first = make_window(qtbot, settings)
    first.show()
    qtbot.waitExposed(first)
    first.canvas.drawing.set_tool("vbar")
    first.canvas.set_pen_size(3)
    first.browser.set_thumb_size(40)
    first.docks["browser"].hide()
    first.settings.setValue("paths/last_folder", "/some/where")
    first.close()
    assert settings.value("window/geometry") is not None
    second = make_window(qtbot, settings)
    second.show()
    qtbot.waitExposed(second)
    assert second.canvas.drawing.tool == "vbar" and second.canvas.drawing.pen_size == 3
    assert second.browser.delegate.thumb == 40
    assert not second.docks["browser"].isVisible()        # the layout came back
    assert second.opener.last_folder() == "/some/where"
    second.reset_layout()
    assert second.docks["browser"].isVisible()


def test_close_during_a_running_worker_is_quick(qtbot, window, qtlog):
    def forever():
        while True:
            time.sleep(0.02)
            yield
    window.workers.start("forever", forever)
    window.opener.open_builtin("grating", n=20_000, seed=1)      # and a load plus training behind it
    qtbot.wait(200)
    start = time.perf_counter()
    window.close()
    assert time.perf_counter() - start < 2.5
    assert not window.workers.describe()
    bad = [r for r in qtlog.records if r.type_name in ("QtCriticalMsg", "QtFatalMsg")]
    assert bad == []


def test_both_answer_lists_share_one_journal(window):
    """The Learning panel's queue list answers through the Oracle (label) panel's journal."""
    assert window.panels["learning"].queue.oracle is window.panels["labelling"]


@pytest.mark.slow
def test_close_while_algorithm2_trains_in_the_child_process(qtbot, window, qtlog):
    """Mid-epoch of a long training: the window still closes within 2 s and ends the child."""
    window.opener.open_builtin("grating", n=20_000, seed=1)
    qtbot.waitUntil(lambda: window.state.dataset is not None and len(window.state.dataset) == 20_000,
                    timeout=WAIT_MS)
    learning = window.panels["learning"]
    learning.epochs_spin.setValue(200)
    learning.buttons["run1"].click()
    qtbot.waitUntil(lambda: "epoch" in learning.progress.format(), timeout=60_000)
    assert learning.training_process.is_alive()
    start = time.perf_counter()
    window.close()
    assert time.perf_counter() - start < 2.5
    assert not window.workers.describe() and not learning.training_process.is_alive()
    bad = [r for r in qtlog.records if r.type_name in ("QtCriticalMsg", "QtFatalMsg")]
    assert bad == []


def test_app_entry_point(qtbot):
    from viscause_gui.gui import app

    qapp = app.create_app()
    assert qapp.organizationName() == "viscause" and qapp.applicationName() == "viscause_gui"
    assert app._parse(["data.npz"]).data == "data.npz" and app._parse([]).data is None
    assert callable(app.main)


def test_startup_objects_are_left_out_of_full_garbage_collections():
    import gc

    from viscause_gui.gui import app

    app.freeze_startup_objects()
    try:
        assert gc.get_freeze_count() > 100_000      # torch, Qt, pyqtgraph, numpy: all frozen
    finally:
        gc.unfreeze()


def test_the_app_starts_the_training_process_before_the_first_run():
    from viscause_gui.core.runtime.training_process import shared_training_process
    from viscause_gui.gui import app

    app._prestart_training()
    assert shared_training_process().is_alive()        # later runs and tests reuse it
