"""Sessions saved before the package's layout changed still open, and go on with the same numbers.

The files in tests/data were written by the code before the move (a GRATING experiment waiting for
its second Algorithm 2 batch, and a digits experiment with the robust-training recipe, finished);
before_layout_expected.json holds what that code computed from them.
"""
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from viscause_gui.core.experiments import mnist
from viscause_gui.core.experiments.grating import GratingModel, TruthOracle
from viscause_gui.core.experiments.registry import load_builtin
from viscause_gui.core.method.experiment import Experiment, QueryBatch
from viscause_gui.core.nets.training import RobustTraining
from viscause_gui.core.store.session_reader import load_session

DATA = Path(__file__).resolve().parents[2] / "data"
EXPECTED = json.loads((DATA / "before_layout_expected.json").read_text())


def _history(exp: Experiment) -> list[tuple]:
    return [(r.iteration, r.merr, r.mdist, r.n_train) for r in exp.history]


def _expected_history(key: str) -> list[tuple]:
    return [(r["iteration"], r["merr"], r["mdist"], r["n_train"]) for r in EXPECTED[key]["history"]]


def test_a_grating_session_opens_and_goes_on():
    session = load_session(DATA / "grating_before_layout.vcsession")
    exp, expected = session.experiment, EXPECTED["grating"]
    assert _history(exp) == _expected_history("grating")
    assert exp.iteration == expected["iteration"] and exp.pending is not None
    assert exp.pending.targets.tolist() == expected["pending_targets"]
    np.testing.assert_allclose(exp.causal_levels, expected["levels"])
    np.testing.assert_allclose(exp.p_causal(exp.data.images[:5]), expected["p_causal"], rtol=1e-6)
    assert session.settings["goal"] == 2
    oracle = TruthOracle(GratingModel())
    for event in exp.steps():                      # the pending batch first, then nothing more
        if isinstance(event, QueryBatch):
            exp.answer(oracle.answer(event.images))
    assert [r.iteration for r in exp.history] == [1, 2]


def test_a_digits_session_with_robust_training_opens():
    session = load_session(DATA / "digits_before_layout.vcsession")
    exp, expected = session.experiment, EXPECTED["digits"]
    assert isinstance(exp.train_fn, RobustTraining) and exp.train_fn.to_json() == expected["train_recipe"]
    config = exp.config.to_json()
    assert {k: config[k] for k in expected["config"]} == expected["config"]
    assert config["manipulator"] == "pixels"       # saved before the manifold manipulator: as it was run
    assert _history(exp) == _expected_history("digits")
    np.testing.assert_allclose(exp.p_causal(exp.data.images[:5]), expected["p_causal"], rtol=1e-6)


def test_the_digit_recipe_gives_the_same_numbers_as_before_the_move():
    digits = load_builtin("digits8x8").subset(np.arange(400))
    t = (digits.labels == 3).astype(np.int64)
    data = replace(digits, t=t, p_obs=t.astype(float), obs_class=t.copy(), meta={})
    config = mnist.experiment_config(iterations=1, queries=8, seed=1, epochs=2, retrain_epochs=1,
                                     manipulator="pixels")   # the recipe as it was before the manifold search
    config.ensemble = 2
    exp = Experiment(data, config)
    for event in exp.steps():
        if isinstance(event, QueryBatch):
            exp.answer((data.labels[event.source_index] == 3).astype(float) if event.kind == "algorithm1"
                       else np.where(event.targets == 1, 1.0, 0.0))
    assert _history(exp) == _expected_history("digits")
    np.testing.assert_allclose(exp.p_causal(data.images[:5]), EXPECTED["digits"]["p_causal"], rtol=1e-6)
