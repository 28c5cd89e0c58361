"""The manipulator panel with the patch search: the default where the run searches patches, real pixels only."""
from __future__ import annotations

import numpy as np
import pytest

from tests.core.method.test_patches import MarkOracle, background, has_mark, marked
from tests.gui.panels.test_manipulator_manifold import _choose, shown_panel
from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
from viscause_gui.core.method.manipulator_model import MANIFOLD, PATCHES, PIXELS

pytestmark = pytest.mark.slow      # an experiment trained with the patch search first


@pytest.fixture(scope="module")
def trained():
    images, cause, light = marked(600, seed=3)
    data = Dataset(images=images, obs_class=cause + 2 * light, name="marks")
    exp = Experiment(data, ExperimentConfig(iterations=1, queries=10, seed=0, manipulator="patches", epochs=12,
                                            augment_shifts=0, batch_size=64,
                                            net={"arch": "cnn", "channels": [8, 16], "hidden": [32], "pool": True}))
    exp.run(MarkOracle())
    return data, exp


@pytest.fixture
def panel(qtbot, trained):
    yield from shown_panel(qtbot, *trained)


def test_a_patch_run_offers_patches_first_and_pastes_only_real_pixels(qtbot, panel, trained):
    data, _ = trained
    combo = panel.search_combo
    assert combo.currentData() == PATCHES and combo.isEnabled()
    assert not combo.model().item(combo.findData(MANIFOLD)).isEnabled()       # no generative model in this run
    unmarked = int(np.flatnonzero(has_mark(data.images) == 0)[0])
    panel.state.show_image(unmarked)
    jobs = panel.manipulation
    qtbot.waitUntil(lambda: jobs.result is not None and jobs.result.codes is None, timeout=15000)
    original, changed = data.images[unmarked], panel.manipulation.result.images[0]
    assert has_mark(changed[None])[0] == 1                                     # the cause is there now
    moved = ~np.isclose(changed, original)
    donors = panel.model.donors.images
    donor = next(d for d in donors if np.array_equal(changed[moved], d[moved]))   # every changed pixel from one donor
    assert np.linalg.norm(changed - original) < np.linalg.norm(donor - original)  # less than the whole donor
    assert background(changed[None])[0] == background(original[None])[0]     # the confounded level as it was

    _choose(qtbot, combo, PIXELS)
    qtbot.waitUntil(lambda: panel.model.search == PIXELS and panel.manipulation.result is not None, timeout=15000)
    assert combo.currentData() == PIXELS
