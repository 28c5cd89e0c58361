"""Colour images in the panels that show learned results: the manipulator (original, result,
difference with its key), the Oracle (label) panel, the Classes panel's C x S examples, the
queue's thumbnails and the readout under the canvas, on an experiment trained on colour bars."""
from __future__ import annotations

import numpy as np
import pytest

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig, QueryBatch
from viscause_gui.gui.main_window import CanvasPanel
from viscause_gui.gui.panels.classes import ClassesPanel
from viscause_gui.gui.panels.labelling import LabellingPanel
from viscause_gui.gui.panels.manipulator import ManipulatorPanel
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.images import DIFFERENCE_LEGEND
from viscause_gui.gui.workers import WorkerPool

WAIT_MS = 20_000


class BarOracle:
    """T = a horizontal bar, whatever its colour."""
    name = "bar"

    def answer(self, images: np.ndarray) -> np.ndarray:
        return ((images.max(axis=3) > 0.3).sum(axis=2).max(axis=1) >= 5).astype(np.float64)


def colour_bars(n: int = 160, seed: int = 0) -> Dataset:
    """8 x 8 x 3 on black: a horizontal bar (T) or a vertical one, red or green (correlated with T)."""
    rng = np.random.default_rng(seed)
    bar = rng.random(n) < 0.5
    colour = np.where(rng.random(n) < 0.8, bar, ~bar).astype(int)
    images = np.zeros((n, 8, 8, 3), np.float32)
    for i in range(n):
        if bar[i]:
            images[i, 3 + rng.integers(0, 2), 1:7, colour[i]] = 1.0
        else:
            images[i, 1:7, 3 + rng.integers(0, 2), colour[i]] = 1.0
    return Dataset(images=images, obs_class=2 * bar + colour, name="colour bars")


@pytest.fixture(scope="module")
def trained() -> Experiment:
    exp = Experiment(colour_bars(), ExperimentConfig(iterations=1, queries=6, epochs=6, retrain_epochs=2, seed=1))
    exp.run(BarOracle())
    assert exp.nets and exp.batches
    return exp


@pytest.fixture
def state(trained) -> AppState:
    st = AppState()
    st.set_dataset(trained.data)
    st.set_experiment(trained)
    return st


def test_the_manipulator_shows_colour_and_its_difference_key(qtbot, state):
    workers = WorkerPool()
    panel = ManipulatorPanel(state, workers)
    qtbot.addWidget(panel)
    panel.show()
    state.select([0])
    qtbot.waitUntil(lambda: panel.manipulation.result is not None, timeout=WAIT_MS)
    image = state.current_image
    np.testing.assert_array_equal(panel.original_item.image, image)          # RGB as it is
    np.testing.assert_allclose(panel.result_item.image, panel.manipulation.result.images[0])
    assert panel.diff_item.image.shape == (8, 8, 3)
    assert panel.diff_key.isVisible() and panel.diff_box.toolTip() == DIFFERENCE_LEGEND[True]
    changed = np.abs(panel.manipulation.result.images[0] - image).sum(axis=2) > 0
    assert (panel.diff_item.image[changed] < 255).any(axis=1).all()          # every change shows
    assert (panel.diff_item.image[~changed] == 255).all()                     # white elsewhere
    workers.stop_all()


def test_the_oracle_sees_colour(qtbot, state, trained):
    panel = LabellingPanel(state)
    qtbot.addWidget(panel)
    panel.blind.setChecked(False)
    done = trained.batches[-1]
    batch = QueryBatch("manual", 1, done.images, done.source_index, originals=done.originals, targets=done.targets,
                       p_target=done.p_target)
    state.queue.add(batch)
    qtbot.waitUntil(lambda: panel.image_item.image is not None, timeout=WAIT_MS)
    np.testing.assert_array_equal(panel.shown_image(), batch.images[0])
    np.testing.assert_allclose(panel.image_item.image, batch.images[0])
    np.testing.assert_allclose(panel.original_item.image, batch.originals[0])


def test_the_classes_table_shows_colour_examples(qtbot, state):
    panel = ClassesPanel(state, WorkerPool())
    qtbot.addWidget(panel)
    panel.show()
    icon = panel.cross.item(0, 0).icon().pixmap(40, 40).toImage()
    colours = {(icon.pixelColor(x, y).red(), icon.pixelColor(x, y).green(), icon.pixelColor(x, y).blue())
               for x in range(2, 38) for y in range(2, 38)}
    assert colours & {(255, 0, 0), (0, 255, 0)}


def test_the_readout_reads_a_painted_colour_image(qtbot, state, settings):
    panel = CanvasPanel(state, settings)
    qtbot.addWidget(panel)
    canvas = panel.canvas
    canvas.actions["clear"].trigger()
    canvas.drawing.set_pen_colour([0.0, 0.0, 1.0])                # blue: a colour the data never had
    canvas.drawing.set_tool("hbar")
    canvas.drawing.press(4, 0)
    canvas.drawing.release()
    qtbot.waitUntil(lambda: "(p =" in panel.readout.values["causal"].text(), timeout=WAIT_MS)
    assert "edited" in panel.readout.values["source"].text()
