import json
from pathlib import Path

import numpy as np
import pytest

from viscause_gui.core.method.cct import DiscreteModel, cct
from viscause_gui.core.method.partitions import partition_relation as relation

SAMPLE = Path(__file__).resolve().parents[3] / "sample_data"


@pytest.mark.parametrize("name,expected", [
    ("cct_equal.json", "equal"),
    ("cct_causal_coarsens.json", "causal_coarsens_observational"),
    ("cct_observational_coarsens.json", "observational_coarsens_causal"),
    ("cct_incompatible.json", "incompatible"),
])
def test_shipped_models(name, expected):
    assert cct(DiscreteModel.from_json(json.loads((SAMPLE / name).read_text())))["relation"] == expected


GRATING_IN_MINIATURE = {  # images: none, v-bar, h-bar, both; H=1 draws the v-bar
    "p_h": [0.5, 0.5], "p_i_given_h": [[0.5, 0.0, 0.5, 0.0], [0.0, 0.5, 0.0, 0.5]],
    "p_t1_given_h_i": [[0.1, 0.1, 0.7, 0.7], [0.4, 0.4, 1.0, 1.0]]}


def test_grating_probabilities_and_partitions():
    result = cct(DiscreteModel.from_json(GRATING_IN_MINIATURE))
    np.testing.assert_allclose(result["p_obs"], [0.1, 0.4, 0.7, 1.0])
    np.testing.assert_allclose(result["p_causal"], [0.25, 0.25, 0.85, 0.85])
    assert result["causal_partition"] == [[0, 1], [2, 3]]


def test_random_models_are_generic():
    """The CCT: for almost all parameters the causal partition coarsens the observational one."""
    rng = np.random.default_rng(0)
    for _ in range(50):
        n_h, n_i = rng.integers(2, 4), rng.integers(2, 6)
        spec = {"p_h": rng.dirichlet(np.ones(n_h)).tolist(),
                "p_i_given_h": rng.dirichlet(np.ones(n_i), n_h).tolist(),
                "p_t1_given_h_i": rng.random((n_h, n_i)).tolist()}
        assert cct(DiscreteModel.from_json(spec), tol=1e-9)["relation"] in ("equal", "causal_coarsens_observational")


def test_unobserved_images_are_left_out():
    spec = {"p_h": [1.0], "p_i_given_h": [[0.5, 0.5, 0.0]], "p_t1_given_h_i": [[0.2, 0.7, 0.9]]}
    result = cct(DiscreteModel.from_json(spec))
    assert result["p_obs"][2] is None
    assert result["observational_partition"] == [[0], [1]]
    assert result["relation"] == "equal"


def test_tolerance():
    obs, causal = np.array([0, 1]), np.array([0, 0])
    assert relation(obs, causal) == "causal_coarsens_observational"
    spec = {"p_h": [1.0], "p_i_given_h": [[0.5, 0.5]], "p_t1_given_h_i": [[0.5, 0.5004]]}
    assert len(cct(DiscreteModel.from_json(spec), tol=1e-3)["observational_partition"]) == 1
    assert len(cct(DiscreteModel.from_json(spec), tol=1e-4)["observational_partition"]) == 2


@pytest.mark.parametrize("spec,needle", [
    ({"p_h": [0.5, 0.5]}, "lacks"),
    ({"p_h": [0.5, 0.6], "p_i_given_h": [[1], [1]], "p_t1_given_h_i": [[0.1], [0.2]]}, "sum to 1"),
    ({"p_h": [1.0], "p_i_given_h": [[0.5, 0.5]], "p_t1_given_h_i": [[0.1]]}, "shape"),
    ({"p_h": [1.0], "p_i_given_h": [[0.5, 0.5]], "p_t1_given_h_i": [[0.1, 1.5]]}, "[0, 1]"),
    ({"p_h": [1.0], "p_i_given_h": [[0.5, 0.4]], "p_t1_given_h_i": [[0.1, 0.5]]}, "sum to 1"),
    ({"p_h": "x", "p_i_given_h": [[1]], "p_t1_given_h_i": [[1]]}, "numbers"),
    ([1, 2], "object"),
])
def test_invalid_models(spec, needle):
    with pytest.raises(ValueError, match=None) as info:
        DiscreteModel.from_json(spec)
    assert needle in str(info.value)


SAMPLE_DATA = Path(__file__).resolve().parents[3] / "sample_data"


SHIPPED = {
    "cct_equal.json": "equal",
    "cct_causal_coarsens.json": "causal_coarsens_observational",
    "cct_observational_coarsens.json": "observational_coarsens_causal",
    "cct_incompatible.json": "incompatible",
}


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


# ---------------------------------------------------------------- T with K > 2 outcomes

ROBOT = {  # images: disc, square; H (the weather) draws the disc more often and pushes T towards "left"
    "p_h": [0.5, 0.5], "p_i_given_h": [[0.8, 0.2], [0.2, 0.8]],
    "p_t_given_h_i": [[[0.8, 0.1, 0.1], [0.5, 0.4, 0.1]], [[0.6, 0.2, 0.2], [0.3, 0.5, 0.2]]],
    "outcomes": ["left", "up", "right"]}


def test_three_outcomes_by_hand():
    from viscause_gui.core.method.cct import model_from_json

    result = cct(model_from_json(ROBOT))
    # P(T | I = disc) = .8 P(T | h0, disc) + .2 P(T | h1, disc) (P(h | disc) = .8 / .2)
    np.testing.assert_allclose(result["p_obs"][0], [0.76, 0.12, 0.12])
    np.testing.assert_allclose(result["p_causal"][0], [0.7, 0.15, 0.15])
    np.testing.assert_allclose(result["p_causal"][1], [0.4, 0.45, 0.15])
    assert result["outcomes"] == ["left", "up", "right"]
    assert result["causal_partition"] == [[0], [1]] and result["relation"] == "equal"


def test_three_outcomes_merge_where_their_distributions_agree():
    from viscause_gui.core.method.cct import model_from_json

    same = {"p_h": [0.5, 0.5], "p_i_given_h": [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]],
            "p_t_given_h_i": [[[0.2, 0.3, 0.5]] * 3, [[0.6, 0.2, 0.2]] * 3]}
    result = cct(model_from_json(same))
    # T ignores the image: one causal class; the images differ in what they say of H: three observational
    assert result["causal_partition"] == [[0, 1, 2]]
    assert len(result["observational_partition"]) == 3
    assert result["relation"] == "causal_coarsens_observational" and result["outcomes"] == ["0", "1", "2"]


@pytest.mark.parametrize("change,needle", [
    ({"p_t_given_h_i": [[[0.5, 0.5, 0.5]] * 2] * 2}, "must sum to 1"),
    ({"p_t_given_h_i": [[[0.5, 0.5]] * 2] * 2}, "K from 3"),
    ({"p_t_given_h_i": [[[0.5, 0.5, 0.0]] * 3] * 2}, "shape"),
    ({"outcomes": ["left", "left", "right"]}, "must differ"),
    ({"outcomes": "left"}, "must be a list"),
    ({"p_t1_given_h_i": [[0.1, 0.2], [0.3, 0.4]]}, "unknown key"),
])
def test_bad_three_outcome_models_are_one_line(change, needle):
    from viscause_gui.core.method.cct import model_from_json

    with pytest.raises(ValueError, match=needle) as info:
        model_from_json({**ROBOT, **change})
    assert "\n" not in str(info.value)
