import json
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_mutual_info_score

from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.nets.models import configure_torch_threads
from viscause_gui.core.method.partitions import (
    DiscreteModel,
    FitCancelled,
    ObserveRecipe,
    cct,
    fit_observational_classes,
    partition_from_values,
    partition_relation,
    spurious_classes,
)

SAMPLE_DATA = Path(__file__).resolve().parents[1] / "sample_data"
SHIPPED = {
    "cct_equal.json": "equal",
    "cct_causal_coarsens.json": "causal_coarsens_observational",
    "cct_observational_coarsens.json": "observational_coarsens_causal",
    "cct_incompatible.json": "incompatible",
}


# ----------------------------------------------------------------------------- label helpers

def test_partition_from_values_groups_within_tol_and_orders_by_value():
    labels = partition_from_values([0.7, 0.1, 0.1004, 0.4, 0.7009, 1.0])
    assert labels.tolist() == [2, 0, 0, 1, 2, 3]
    assert labels.dtype.kind == "i"


def test_partition_from_values_tolerance_and_edge_cases():
    assert partition_from_values([0.1, 0.15, 0.2], tol=0.1).tolist() == [0, 0, 0]  # a chain of small gaps
    assert partition_from_values([0.1, 0.15, 0.2], tol=0.01).tolist() == [0, 1, 2]
    assert partition_from_values([]).tolist() == []
    assert partition_from_values([0.3]).tolist() == [0]
    with pytest.raises(ValueError):
        partition_from_values([0.1, np.nan])


def test_spurious_classes_number_observational_classes_inside_each_causal_class():
    obs = np.array([0, 1, 2, 3, 3, 1, 0, 2])
    causal = np.array([0, 0, 1, 1, 1, 0, 0, 1])  # GRATING: {none, v-bar} vs {h-bar, both}
    assert spurious_classes(obs, causal).tolist() == [0, 1, 0, 1, 1, 1, 0, 0]
    # one causal class holding three observational classes, ids not contiguous
    assert spurious_classes([5, 2, 9, 2], [0, 0, 0, 0]).tolist() == [1, 0, 2, 0]
    with pytest.raises(ValueError):
        spurious_classes([0, 1], [0])


def test_spurious_classes_on_grating_truth():
    data = GratingModel().sample(500, seed=3)
    s = spurious_classes(data.obs_class, data.causal_class)
    assert np.array_equal(s, data.obs_class % 2)  # S = the v-bar, inside either causal class


def test_partition_relation():
    assert partition_relation([0, 1, 2], [0, 1, 2]) == "equal"
    assert partition_relation([0, 1, 2, 3], [0, 0, 1, 1]) == "causal_coarsens_observational"
    assert partition_relation([0, 0, 1], [0, 1, 2]) == "observational_coarsens_causal"
    assert partition_relation([0, 0, 1], [0, 1, 1]) == "incompatible"


# ----------------------------------------------------------------------------- CCT

@pytest.mark.parametrize("name, relation", sorted(SHIPPED.items()))
def test_shipped_cct_models_give_their_relation(name, relation):
    spec = json.loads((SAMPLE_DATA / name).read_text())
    assert spec["_comment"], "each shipped model explains itself"
    result = cct(DiscreteModel.from_json(spec))
    assert list(result) == ["observational_partition", "causal_partition", "p_obs", "p_causal", "relation"]
    assert result["relation"] == relation
    json.dumps(result)  # JSON-ready


def test_cct_grating_in_miniature_values():
    spec = json.loads((SAMPLE_DATA / "cct_causal_coarsens.json").read_text())
    result = cct(DiscreteModel.from_json(spec))
    assert result["observational_partition"] == [[0, 4], [1, 5], [2, 6], [3, 7]]
    assert result["causal_partition"] == [[0, 1, 4, 5], [2, 3, 6, 7]]
    assert np.allclose(result["p_obs"], [0.1, 0.4, 0.7, 1.0] * 2)
    assert np.allclose(result["p_causal"], [0.25, 0.25, 0.85, 0.85] * 2)


def test_cct_tolerance_decides_equality():
    model = DiscreteModel.from_json({"p_h": [1.0], "p_i_given_h": [[0.5, 0.5]], "p_t1_given_h_i": [[0.3, 0.3005]]})
    assert cct(model, tol=1e-3)["causal_partition"] == [[0, 1]]
    assert cct(model, tol=1e-4)["causal_partition"] == [[0], [1]]


def test_cct_unobserved_image_has_no_observational_class():
    # image 2 never occurs (P(I=2) = 0) but can still be manipulated into
    model = DiscreteModel.from_json({
        "p_h": [0.5, 0.5],
        "p_i_given_h": [[0.8, 0.2, 0.0], [0.2, 0.8, 0.0]],
        "p_t1_given_h_i": [[0.1, 0.1, 0.5], [0.9, 0.9, 0.5]],
    })
    result = cct(model)
    assert result["p_obs"][2] is None
    assert result["observational_partition"] == [[0], [1]]
    assert result["causal_partition"] == [[0, 1, 2]]
    assert result["relation"] == "causal_coarsens_observational"


BAD_MODELS = [
    ([1, 2], "JSON object"),
    ({"p_h": [1.0], "p_i_given_h": [[1.0]]}, "lacks p_t1_given_h_i"),
    ({"p_h": [1.0], "p_i_given_h": [[1.0]], "p_t1_given_h_i": [[0.5]], "p_t": 1}, "unknown key"),
    ({"p_h": [0.5, 0.6], "p_i_given_h": [[1.0], [1.0]], "p_t1_given_h_i": [[0.5], [0.5]]}, "p_h must sum to 1"),
    ({"p_h": [1.0], "p_i_given_h": [[0.5, 0.4]], "p_t1_given_h_i": [[0.5, 0.5]]}, "row 0 must sum to 1"),
    ({"p_h": [1.0], "p_i_given_h": [[0.5, 0.5]], "p_t1_given_h_i": [[0.5, 1.5]]}, "probabilities in [0, 1]"),
    ({"p_h": [1.0], "p_i_given_h": [[0.5, 0.5]], "p_t1_given_h_i": [[0.5]]}, "expected (1, 2)"),
    ({"p_h": [0.5, 0.5], "p_i_given_h": [[1.0]], "p_t1_given_h_i": [[0.5]]}, "one per h"),
    ({"p_h": [1.0], "p_i_given_h": [[0.5, 0.5], [1.0]], "p_t1_given_h_i": [[0.5, 0.5]]}, "p_i_given_h"),
    ({"p_h": "x", "p_i_given_h": [[1.0]], "p_t1_given_h_i": [[0.5]]}, "p_h"),
    ({"p_h": [], "p_i_given_h": [[1.0]], "p_t1_given_h_i": [[0.5]]}, "non-empty"),
    ({"p_h": [1.0], "p_i_given_h": [[float("nan")]], "p_t1_given_h_i": [[0.5]]}, "probabilities"),
]


@pytest.mark.parametrize("spec, words", BAD_MODELS)
def test_invalid_model_json_raises_one_line_value_error(spec, words):
    with pytest.raises(ValueError) as info:
        DiscreteModel.from_json(spec)
    message = str(info.value)
    assert words in message and "\n" not in message


def test_model_round_trips_through_json():
    spec = json.loads((SAMPLE_DATA / "cct_incompatible.json").read_text())
    model = DiscreteModel.from_json(spec)
    again = DiscreteModel.from_json(json.loads(json.dumps(model.to_json())))
    assert cct(again) == cct(model)


# ----------------------------------------------------------------------------- observational fit

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
