"""The CCT explorer's model: the paper's Supplement B models against exact rational arithmetic,
the sliders' normalisation, and the nearest exception."""
from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from viscause_gui.core.method.cct import DiscreteModel, cct
from viscause_gui.gui.models.cct_explore import (PAPER_P_T0, CctExplorer, is_exception, nearest_exception,
                                                  paper_model)
from viscause_gui.core.method.partitions import partition_relation

# the paper's numbers as exact fractions (every printed digit, nothing rounded again)
P_H = (Fraction("0.4572"), 1 - Fraction("0.4572"))
P_I = ((Fraction("0.3426"), Fraction("0.1239")), (Fraction("0.3255"), Fraction("0.5097")))


def exact(name: str) -> tuple[list[Fraction], list[Fraction]]:
    """P(T=1 | I=i) and P(T=1 | man(I=i)) of a Supplement B model, in rational arithmetic."""
    p_i_h = [[a, b, 1 - a - b] for a, b in P_I]
    t1 = [[1 - Fraction(str(v)) for v in PAPER_P_T0[name][3 * h:3 * h + 3]] for h in range(2)]
    p_obs, p_causal = [], []
    for i in range(3):
        joint = [P_H[h] * p_i_h[h][i] for h in range(2)]
        p_obs.append(sum(joint[h] * t1[h][i] for h in range(2)) / sum(joint))
        p_causal.append(sum(P_H[h] * t1[h][i] for h in range(2)))
    return p_obs, p_causal


def exact_partition(values: list[Fraction], tol: Fraction) -> list[int]:
    """Sorted, a new class wherever the gap is > tol (the rule of partitions.partition_from_values)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    labels, k = [0] * len(values), 0
    for a, b in itertools.pairwise(order):
        k += values[b] - values[a] > tol
        labels[b] = k
    return labels


@pytest.mark.parametrize("name", list(PAPER_P_T0))
@pytest.mark.parametrize("tol", ["0", "0.001", "0.01"])
def test_paper_models_relations_match_exact_arithmetic(name, tol):
    p_obs, p_causal = exact(name)
    obs, causal = exact_partition(p_obs, Fraction(tol)), exact_partition(p_causal, Fraction(tol))
    want = partition_relation(obs, causal)
    explorer = CctExplorer()
    explorer.load_preset(name)
    explorer.tol = float(tol)
    got = explorer.result()
    assert got["relation"] == want
    assert np.allclose(got["p_obs"], [float(v) for v in p_obs], atol=1e-12)
    assert np.allclose(got["p_causal"], [float(v) for v in p_causal], atol=1e-12)
    assert sorted(map(sorted, got["observational_partition"])) == sorted(
        sorted(i for i in range(3) if obs[i] == k) for k in set(obs))


def test_what_the_paper_models_are_exactly():
    """Exactly, the printed numbers give three distinct values of P(T|I) and of P(T|man I) in every
    model (each image its own class: 'equal'); the coincidences the models were built on hold only to
    about 4e-5, so within 1e-3 they show: model 1 incompatible, model 2 the generic coarsening,
    model 3 the observational partition coarser than the causal one."""
    relations, tol = {}, Fraction("0.001")
    for name in PAPER_P_T0:
        p_obs, p_causal = exact(name)
        assert len(set(p_obs)) == 3 and len(set(p_causal)) == 3
        relations[name] = partition_relation(exact_partition(p_obs, tol), exact_partition(p_causal, tol))
    assert list(relations.values()) == ["incompatible", "causal_coarsens_observational",
                                        "observational_coarsens_causal"]


def test_sliders_keep_rows_normalised_and_sizes_change():
    ex = CctExplorer()
    ex.set_p_i(0, 1, 0.5)
    assert ex.p_i_given_h[0].sum() == pytest.approx(1) and ex.p_i_given_h[0, 1] == 0.5
    ex.set_size(6)
    assert ex.p_i_given_h.shape == (2, 6) and np.allclose(ex.p_i_given_h.sum(axis=1), 1)
    assert ex.result()["relation"]
    ex.set_size(3)
    assert ex.p_t1.shape == (2, 3) and np.allclose(ex.p_i_given_h.sum(axis=1), 1)
    with pytest.raises(ValueError):
        ex.set_size(7)


def test_nearest_exception_is_an_exception_and_close():
    model = paper_model("Supplement B, model 2")       # generic: the CCT holds within 1e-3
    assert not is_exception(cct(model, 1e-3))
    found = nearest_exception(model, 1e-3)
    assert found is not None and is_exception(cct(found.model, 1e-3))
    assert 0 < found.max_change < 0.2
    assert np.allclose(found.model.p_h, model.p_h) and np.allclose(found.model.p_i_given_h, model.p_i_given_h)
    i, j = found.images
    p = found.model.p_obs()
    assert p[i] == pytest.approx(p[j], abs=1e-9)
    # one more nudge of one probability and the exception is gone: it is finely tuned
    nudged = found.model.p_t1_given_h_i.copy()
    nudged[0, i] += 0.01
    assert not is_exception(cct(DiscreteModel(model.p_h, model.p_i_given_h, nudged), 1e-3))


def test_no_exception_without_confounding():
    """H independent of I: P(T|I) = P(T|man I) for every table, so no change of P(T|H,I) breaks the CCT."""
    model = DiscreteModel([0.3, 0.7], [[0.2, 0.3, 0.5]] * 2, [[0.1, 0.5, 0.9], [0.2, 0.4, 0.8]])
    assert nearest_exception(model, 1e-3) is None


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("tol", ["0", "0.001"])
def test_viscause_cct_is_the_explorers_headless_twin(k, tol, capsys):
    """sample_data/cct_supplement_b_modelK.json through `viscause cct` says what the explorer's preset says."""
    import json
    from pathlib import Path

    from viscause_gui.cli import main

    path = Path(__file__).parents[2] / "sample_data" / f"cct_supplement_b_model{k}.json"
    assert main(["cct", str(path), "--tol", tol]) == 0
    headless = json.loads(capsys.readouterr().out)
    explorer = CctExplorer()
    explorer.load_preset(f"Supplement B, model {k}")
    explorer.tol = float(tol)
    live = explorer.result()
    assert headless["relation"] == live["relation"]
    assert np.allclose(headless["p_obs"], live["p_obs"], atol=1e-9)
    assert np.allclose(headless["p_causal"], live["p_causal"], atol=1e-9)
