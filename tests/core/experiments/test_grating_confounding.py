"""The confounding slider's numbers: exact, and checked against GRATING's own truth and samples."""
from __future__ import annotations

import numpy as np
import pytest

from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.experiments.grating_confounding import confounding


def test_default_grating():
    c = confounding()
    assert c.p_obs.tolist() == pytest.approx([0.1, 0.4, 0.7, 1.0])
    assert c.p_causal.tolist() == pytest.approx([0.25, 0.25, 0.85, 0.85])
    assert c.relation == "causal_coarsens_observational"
    assert sorted(map(sorted, c.causal_partition)) == [[0, 1], [2, 3]]
    assert c.accuracy_observational == pytest.approx(c.accuracy_causal) == pytest.approx(0.8)


def test_no_confounding_gives_equal_partitions():
    c = confounding(w_h1=0.0)
    assert c.relation == "equal" and np.allclose(c.p_obs, c.p_causal)


def test_strong_confounding_misleads_the_classifier():
    """H1 weighs more than the h-bar: the observational classifier calls a v-bar 'T = 1', wrong when
    we draw the v-bar ourselves."""
    c = confounding(base=0.1, w_h1=0.5, w_c=0.3)
    assert c.accuracy_observational < c.accuracy_causal - 0.05
    assert c.accuracy_on_observations > c.accuracy_observational


def test_matches_the_generator():
    gm = GratingModel(w_h1=0.4, w_c=0.5)
    data = gm.sample(4000, 1)
    c = confounding(w_h1=0.4, w_c=0.5)
    kind = gm.obs_class(data.images)          # 0 none, 1 v-bar, 2 h-bar, 3 both
    assert np.allclose(c.p_obs[kind], data.p_obs)
    assert np.allclose(c.p_causal[kind], gm.p_causal(data.images))
    assert np.allclose(np.bincount(kind, minlength=4) / len(kind), c.p_kind_observed, atol=0.03)


def test_impossible_weights_are_refused():
    with pytest.raises(ValueError):
        confounding(base=0.5, w_h1=0.4, w_c=0.4)
