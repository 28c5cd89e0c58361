"""The CCT explorer's model over a T with K > 2 outcomes: rows that stay distributions, results equal
to core cct on the same OutcomeModel, K = 2 exactly the binary explorer, and the nearest exception."""
from __future__ import annotations

import numpy as np
import pytest

from viscause_gui.core.data.outcomes import distance
from viscause_gui.core.method.cct import DiscreteModel, OutcomeModel, cct
from viscause_gui.gui.models.cct_explore import CctExplorer, is_exception, nearest_exception, paper_model
from viscause_gui.gui.models.cct_outcomes import resize_outcomes, set_in_row


def three_outcomes() -> CctExplorer:
    """Supplement B, model 2 with T over 3 outcomes, the third made likely in every (h, i)."""
    ex = CctExplorer()
    ex.load_preset("Supplement B, model 2")
    ex.set_outcomes(3)
    for h in range(2):
        for i in range(3):
            ex.set_p_t(h, i, 2, 0.15 + 0.1 * i + 0.05 * h)
    return ex


def test_a_slider_of_an_outcome_rescales_the_others_of_its_row():
    ex = three_outcomes()
    before = ex.p_t.copy()
    ex.set_p_t(1, 2, 0, 0.5)
    row, old = ex.p_t[1, 2], before[1, 2]
    assert row[0] == 0.5 and row.sum() == pytest.approx(1, abs=1e-12)
    assert row[1] / row[2] == pytest.approx(old[1] / old[2])         # the others keep their proportions
    assert np.array_equal(np.delete(ex.p_t.reshape(6, 3), 5, axis=0), np.delete(before.reshape(6, 3), 5, axis=0))
    assert np.allclose(ex.p_t.sum(axis=2), 1, atol=1e-12)
    ex.set_p_t(0, 0, 1, 1.0)                 # the others all 0 ...
    ex.set_p_t(0, 0, 1, 0.4)                 # ... then share the rest equally
    assert np.allclose(ex.p_t[0, 0], [0.3, 0.4, 0.3])
    ex.set_p_t(0, 1, 2, 1.7)                 # clipped to a probability
    assert np.allclose(ex.p_t[0, 1], [0, 0, 1])


def test_the_result_is_core_cct_on_the_same_outcome_model():
    ex = three_outcomes()
    ex.tol = 0.01
    ex.set_p_i(0, 1, 0.2)
    ex.set_p_h0(0.3)
    same = OutcomeModel([0.3, 0.7], ex.p_i_given_h.copy(), ex.p_t.copy())
    model = ex.model()
    assert isinstance(model, OutcomeModel) and model.outcomes == ("0", "1", "2")
    got, want = ex.result(), cct(same, 0.01)
    for key in ("observational_partition", "causal_partition", "relation", "outcomes"):
        assert got[key] == want[key]
    assert np.allclose(got["p_obs"], want["p_obs"]) and np.allclose(got["p_causal"], want["p_causal"])
    assert np.allclose(np.sum(got["p_obs"], axis=1), 1)
    assert got["relation_words"] and got["exception"] == is_exception(want)


def test_more_outcomes_keep_the_model_and_two_again_is_the_binary_explorer_exactly():
    binary = CctExplorer()
    binary.load_preset("Supplement B, model 3")
    ex = CctExplorer()
    ex.load_preset("Supplement B, model 3")
    ex.set_outcomes(4)                        # the new outcomes get probability 0: the same partitions
    assert ex.p_t.shape == (2, 3, 4) and not ex.p_t[:, :, 2:].any()
    assert ex.result()["relation"] == binary.result()["relation"] == "observational_coarsens_causal"
    ex.set_outcomes(2)
    model = ex.model()
    assert isinstance(model, DiscreteModel) and ex.outcomes == ("0", "1")
    assert np.array_equal(model.p_t1_given_h_i, binary.model().p_t1_given_h_i)       # bit for bit
    assert ex.result() == binary.result()
    want = nearest_exception(paper_model("Supplement B, model 2"))
    got = nearest_exception(_loaded("Supplement B, model 2", outcomes=(3, 2)).model())
    assert want is not None and got is not None and isinstance(got.model, DiscreteModel)
    assert (got.images, got.max_change, got.l2_change) == (want.images, want.max_change, want.l2_change)


def _loaded(name: str, outcomes: tuple[int, ...]) -> CctExplorer:
    ex = CctExplorer()
    ex.load_preset(name)
    for k in outcomes:
        ex.set_outcomes(k)
    return ex


def test_fewer_outcomes_lump_the_removed_ones_into_the_last_kept():
    p_t = np.array([[[0.2, 0.3, 0.1, 0.4]]])
    assert np.allclose(resize_outcomes(p_t, 2), [[[0.2, 0.8]]])
    assert np.allclose(resize_outcomes(p_t, 3), [[[0.2, 0.3, 0.5]]])
    assert np.array_equal(set_in_row(np.array([0.25, 0.75]), 1, 0.6), [0.4, 0.6])


def test_sizes_outcomes_and_models_out_of_range():
    ex = three_outcomes()
    ex.set_size(5)
    assert ex.p_t.shape == (2, 5, 3) and np.allclose(ex.p_t[:, 3:], 1 / 3)
    assert np.allclose(ex.p_t.sum(axis=2), 1)
    for k in (1, 6):
        with pytest.raises(ValueError, match="outcomes: 2 to 5"):
            ex.set_outcomes(k)
    named = OutcomeModel([0.5, 0.5], [[0.2, 0.3, 0.5]] * 2, np.full((2, 3, 3), 1 / 3), ("left", "right", "none"))
    ex.set_model(named)
    assert ex.outcomes == ("left", "right", "none") and ex.result()["outcomes"] == ["left", "right", "none"]
    with pytest.raises(ValueError, match="at most 5 outcomes"):
        ex.set_model(OutcomeModel([0.5, 0.5], [[0.2, 0.3, 0.5]] * 2, np.full((2, 3, 6), 1 / 6)))
    ex.load_preset("Supplement B, model 1")        # the presets are the paper's binary models
    assert ex.n_outcomes == 2 and ex.outcomes == ("0", "1")


def test_nearest_exception_over_three_outcomes_is_an_exception_and_finely_tuned():
    ex = three_outcomes()
    model = ex.model()
    assert not is_exception(cct(model, 1e-3))
    found = ex.jump_to_nearest_exception()
    assert found is not None and isinstance(found.model, OutcomeModel)
    assert is_exception(ex.result()) and np.allclose(ex.p_t, found.model.p_t_given_h_i)
    assert np.allclose(found.model.p_h, model.p_h) and np.allclose(found.model.p_i_given_h, model.p_i_given_h)
    assert np.allclose(found.model.p_t_given_h_i.sum(axis=2), 1)
    assert 0 < found.max_change < 0.2
    i, j = found.images
    p_obs, p_causal = found.model.p_obs(), found.model.p_causal()
    assert distance(p_obs[[i]], p_obs[[j]])[0] < 1e-9 and distance(p_causal[[i]], p_causal[[j]])[0] >= 0.02 - 1e-9
    # one more nudge of one probability and the exception is gone
    ex.set_p_t(0, i, 0, ex.p_t[0, i, 0] + 0.01)
    assert not is_exception(ex.result())


def test_an_unused_outcome_gives_an_exception_at_least_as_close_as_the_binary_one():
    """With P(T=2 | h, i) = 0 everywhere the binary search's change is one of those the K search
    looks at, so the K search finds one no farther (it may move mass through more outcomes)."""
    binary = nearest_exception(paper_model("Supplement B, model 2"), 1e-3)
    over_three = nearest_exception(_loaded("Supplement B, model 2", outcomes=(3,)).model(), 1e-3)
    assert binary is not None and over_three is not None
    assert is_exception(cct(over_three.model, 1e-3))
    assert over_three.l2_change <= binary.l2_change + 1e-9


def test_no_exception_over_outcomes_without_confounding():
    """H independent of I: P(T|I) = P(T|man I) for every table, so no change of P(T|H,I) breaks the CCT."""
    rng = np.random.default_rng(3)
    p_t = rng.dirichlet(np.ones(4), size=(2, 3))
    model = OutcomeModel([0.3, 0.7], [[0.2, 0.3, 0.5]] * 2, p_t)
    assert nearest_exception(model, 1e-3) is None
