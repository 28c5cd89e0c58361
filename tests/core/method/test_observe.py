"""Observational classes from samples of T."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_mutual_info_score

from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.method.observe import FitCancelled, ObserveRecipe, fit_memory_bytes, fit_observational_classes
from viscause_gui.core.nets.models import configure_torch_threads

pytestmark = pytest.mark.slow      # fits of the observational classes: nets trained on thousands of images


@pytest.fixture(scope="module")
def grating_fit():
    configure_torch_threads(1)
    data = GratingModel().sample(4000, seed=0)
    started = time.perf_counter()
    fit = fit_observational_classes(data.images, data.t, seed=0)
    return data, fit, time.perf_counter() - started


def test_fit_observational_classes_recovers_grating_classes(grating_fit):
    data, fit, seconds = grating_fit
    assert adjusted_mutual_info_score(data.obs_class, fit.obs_class) >= 0.9
    assert fit.n_classes == 4 and fit.criterion.startswith("K=4")
    assert np.allclose(fit.class_p, [0.1, 0.4, 0.7, 1.0], atol=0.06)
    assert np.all(np.diff(fit.class_p) > 0)  # ids ordered by P(T=1)
    assert np.array_equal(fit.p_obs, fit.class_p[fit.obs_class])
    assert fit.obs_class.shape == (4000,) and fit.obs_class.dtype.kind == "i"
    assert set(fit.scores) >= {1, 4}
    assert seconds < 20


def test_fit_observational_classes_is_deterministic():
    data = GratingModel().sample(1000, seed=5)
    quick = ObserveRecipe(regress_members=1, refine_rounds=2)
    a = fit_observational_classes(data.images, data.t, seed=1, recipe=quick)
    b = fit_observational_classes(data.images, data.t, seed=1, recipe=quick)
    assert np.array_equal(a.obs_class, b.obs_class)
    assert np.array_equal(a.p_obs, b.p_obs) and np.array_equal(a.p_net, b.p_net)
    assert a.scores == b.scores and a.criterion == b.criterion


def test_fit_observational_classes_trivial_and_bad_input():
    images = np.zeros((30, 6, 6), np.float32)
    fit = fit_observational_classes(images, np.ones(30, int))
    assert fit.n_classes == 1 and np.all(fit.p_obs == 1.0)
    with pytest.raises(ValueError, match="one per image"):
        fit_observational_classes(images, np.ones(29, int))
    with pytest.raises(ValueError, match="binary"):
        fit_observational_classes(images, np.full(30, 2))


def test_fit_observational_classes_can_be_cancelled():
    data = GratingModel().sample(400, seed=2)
    calls = []

    def progress(stage, fraction):
        calls.append((stage, fraction))
        return True

    with pytest.raises(FitCancelled):
        fit_observational_classes(data.images, data.t, progress=progress)
    assert len(calls) == 1 and 0 <= calls[0][1] <= 1


_FIT_PEAK = """
import sys
import numpy as np
import sklearn.mixture  # imported before measuring, as the fit's own working memory is counted
from viscause_gui.core.method.observe import ObserveRecipe, fit_memory_bytes, fit_observational_classes
from viscause_gui.core.nets.models import configure_torch_threads
configure_torch_threads(1)
n, h = int(sys.argv[1]), int(sys.argv[2])
images = np.zeros((n, h, h), np.float32)
images[: n // 2, 0, :] = 1
images[::3, :, 1] = 1
t = np.zeros(n, np.int64)
t[::5] = 1
t[: n // 2][::2] = 1
before = int(open("/proc/self/statm").read().split()[1]) * 4096
quick = ObserveRecipe(regress_epochs=1, refine_rounds=1, refine_epochs=1, refine_steps=1, regress_members=1)
fit_observational_classes(images, t, recipe=quick)
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so it would report the pytest parent's size
peak = int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))) * 1024
print(peak - before, fit_memory_bytes(n, (h, h)) - images.nbytes)
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident size from /proc")
def test_the_memory_estimate_bounds_what_the_fit_takes():
    """What `viscause observe` refuses by: the fit's peak RSS growth stays below fit_memory_bytes
    (the images themselves were there before). Measured: 343 MB of 361 MB at 200,000 10x10 images,
    480 of 491 at 50,000 of 20x20, 1421 of 1553 at 12,500 of 40x40."""
    out = subprocess.run([sys.executable, "-c", _FIT_PEAK, "100000", "10"], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    growth, estimate = (int(v) for v in out.stdout.split())
    assert growth <= estimate, (growth, estimate)
    assert estimate < 3 * growth, (growth, estimate)          # an estimate, not a blanket refusal


def test_eighteen_million_small_images_need_more_than_a_24_gb_machine_gives():
    need = fit_memory_bytes(18_000_000, (10, 10))
    assert 24 * 1024**3 < need < 40 * 1024**3


def _two_features(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """8x8 images with a mark (the cause C: a bright 3x3 corner) and a background level (H); T drawn with
    P(T=1 | C, H) = .1 / .45 / .55 / .9, so the kinds (C, H) = (0, 1) and (1, 0) differ by .1 in P(T=1)."""
    rng = np.random.default_rng(seed)
    hidden = rng.random(n) < 0.5
    cause = rng.random(n) < np.where(hidden, 0.75, 0.25)
    images = rng.random((n, 8, 8)).astype(np.float32) * 0.2 + np.where(hidden, 0.4, 0.1)[:, None, None]
    images[cause, :3, :3] = 1.0
    p_t = np.array([[0.1, 0.45], [0.55, 0.9]])[cause.astype(int), hidden.astype(int)]
    return images, (rng.random(n) < p_t).astype(np.int64), cause.astype(np.int64) * 2 + hidden


def test_feature_classes_keep_apart_kinds_whose_p_t_is_close():
    """The kinds at P(T=1) .45 and .55 overlap on the net's one output, and 1,500 samples of T cannot tell
    them apart (the likelihood partition merges them); the net's features keep them apart, so no fine
    class mixes images with and without the cause (which the Causal Coarsening Theorem needs)."""
    configure_torch_threads(1)
    images, t, kind = _two_features(1500, seed=3)

    def mixed(fit) -> int:
        return sum(np.bincount(kind[fit.obs_class == c] // 2, minlength=2).min() for c in range(fit.n_classes))

    recipe = ObserveRecipe(partition="features", regress_members=1)
    fit = fit_observational_classes(images, t, seed=0, recipe=recipe)
    assert 4 <= fit.n_classes <= recipe.feature_classes
    assert mixed(fit) <= 0.01 * len(t)
    assert mixed(fit_observational_classes(images, t, seed=0, recipe=ObserveRecipe(regress_members=1))) > 0.05 * len(t)
    assert np.all(np.bincount(fit.obs_class) >= 0.01 * len(t))
    assert fit.criterion.startswith(f"K={fit.n_classes}: k-means") and fit.details["partition"] == "features"
    with pytest.raises(ValueError, match="partition must be one of"):
        ObserveRecipe(partition="clusters")
