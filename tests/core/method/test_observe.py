"""Observational classes from samples of T."""
from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.metrics import adjusted_mutual_info_score

from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.method.observe import FitCancelled, ObserveRecipe, fit_observational_classes
from viscause_gui.core.nets.models import configure_torch_threads


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
