"""A binary T (two outcomes) runs exactly as it did before T could have K outcomes.

Where the expected numbers come from: every value below was recorded by running these same
calls on the code of commit 1f5b526 (the last commit before outcomes other than 0/1 existed),
on one torch thread, before any of the K-outcome code was written. Nothing here was computed by
the code under test. Digests are the first 16 hex digits of SHA-256 over an array's bytes
(int64 indices and targets, float32 images, float64 answers).

Three runs, each compared iteration by iteration:
- GRATING with its default recipe and the truth oracle (graded answers, active queries);
- GRATING with the premise check on and one sampled T per answer (0/1 answers, random queries);
- `viscause run DATA` on a binary data set with only samples of T (the fine observational classes,
  the premise check splitting classes, a python: oracle, history.json and the iteration files).
"""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from tests.cli_runner import viscause
from tests.oracle_models import HBAR_PYTHON
from viscause_gui.core.experiments.grating import GratingModel, SampledTruthOracle, TruthOracle
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig


def digest(values: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()[:16]


def record(experiment: Experiment, images: np.ndarray) -> dict:
    """What the recorded runs kept of an experiment (the same code made the expected values)."""
    return {"history": [[r.iteration, r.merr, r.mdist, r.n_train] for r in experiment.history],
            "levels": np.asarray(experiment.causal_levels).tolist(),
            "obs_to_causal": np.asarray(experiment.obs_to_causal).tolist(),
            "obs_answers": np.asarray(experiment.obs_answers).tolist(),
            "batches": [[b.kind, b.iteration, digest(b.source_index.astype(np.int64)),
                         None if b.targets is None else digest(b.targets.astype(np.int64)),
                         digest(np.asarray(b.images, np.float32)), digest(np.asarray(b.answers, np.float64))]
                        for b in experiment.batches],
            "p_causal": np.round(experiment.p_causal(images[:6]), 6).tolist()}


TRUTH = {"history": [[1, 0.5, 6.633333206176758, 1500], [2, 0.9333333333333333, 8.366666793823242, 1530],
                     [3, 0.9, 9.333333015441895, 1560]],
         "levels": [0.25, 0.85], "obs_to_causal": [0, 0, 1, 1], "obs_answers": [0.25, 0.25, 0.85, 0.85],
         "batches": [["algorithm1", 0, "3c4426a106d08c82", None, "b6a3bee8a3ab0151", "2d3475f1e58762dc"],
                     ["algorithm2", 1, "e001eacd4ad7a3bb", "4be0f5c00d415f7a", "4d09bb549e230cbe", "dadc8789b61d80c3"],
                     ["algorithm2", 2, "4c9596c898269766", "f1ebb8fab6154ef2", "2b66d650b47c6b57", "dadc8789b61d80c3"],
                     ["algorithm2", 3, "05396df2af2d435d", "f1ebb8fab6154ef2", "5a495eb16c356f49",
                      "544ed98046b23b5c"]],
         "p_causal": [0.250005, 0.250024, 0.250004, 0.678473, 0.764505, 0.773753]}

SAMPLED = {"history": [[1, 0.5333333333333333, 7.099999904632568, 1500],
                       [2, 0.8333333333333334, 8.399999618530273, 1530]],
           "levels": [0.0, 0.20833333333333334, 0.8229166666666667], "obs_to_causal": [1, 0, 2, 2],
           "obs_answers": [0.20833333333333334, 0.0, 0.8333333333333334, 0.8125],
           "batches": [["algorithm1", 0, "d17113edb72184bd", None, "81f86bff331b6f76", "b9d912b7d273cead"],
                       ["algorithm2", 1, "233be4756d2bea63", "52926a7e212b054b", "d2dcf35447c749d6",
                        "0620fb6b754ad9c0"],
                       ["algorithm2", 2, "79fad796fa251a83", "1fa4545b4b838a0f", "1d38020eb1cf84b9",
                        "51e368e169f83c69"]],
           "p_causal": [0.183827, 0.820008, 0.817506, 0.01284, 0.199286, 0.802752]}

SAMPLED_PREMISE = ("Premise check: 72 answers, 40 of them asked beyond the representatives (budget 40), 1 follow-up "
                   "round(s); binary answers: split where Fisher's exact test on leave-one-out predictions gives "
                   "p <= 0.01 / looks.\nno class split\n  agree: 0, 1, 2, 3")


pytestmark = pytest.mark.slow      # three real runs (5-10 s each on the development machine)


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def test_grating_with_the_truth_oracle_runs_as_before():
    model = GratingModel()
    data = model.sample(1500, 3)
    experiment = Experiment(data, ExperimentConfig(iterations=3, queries=30, seed=5))
    experiment.run(TruthOracle(model))
    assert record(experiment, data.images) == TRUTH


def test_grating_with_sampled_answers_and_the_premise_check_runs_as_before():
    model = GratingModel()
    data = model.sample(1500, 4)
    config = ExperimentConfig(iterations=2, queries=30, seed=6, premise_check=True, representatives=8,
                              queries_by="random", epochs=10)
    experiment = Experiment(data, config)
    experiment.run(SampledTruthOracle(model, samples=1, seed=2))
    assert record(experiment, data.images) == SAMPLED
    assert experiment.premise is not None and experiment.premise.to_json()["summary"] == SAMPLED_PREMISE


DATA_RUN = {"iterations": [[1, 0.25, 4.5, 400], [2, 0.625, 4.5, 408]], "n_obs_classes": 8,
            "files": {"originals": ["bce5a2e51fe22454", "45913be930b1323a"],
                      "manipulated": ["d0d81778cdf7504c", "81be629e03663776"],
                      "targets": ["18305a79c0409539", "63b5754492a82ce5"],
                      "answers": ["3a663e0389e302db", "0905cf37af978a45"]}}

DATA_RUN_PREMISE = (
    "Premise check: 80 answers, 40 of them asked beyond the representatives (budget 40), 2 follow-up round(s); "
    "graded answers: one class's answers lie within 0.1 of each other.\nsplit: 2, 3, 4, 5\n"
    "  class 2: 17 answers, mean 0.36: split into 2 (33 images, answer 0.25), 8 (3 images, answer 0.85) "
    "(answers fall in 2 groups more than 0.1 apart (means 0.25, 0.85; 14/3 answers))\n"
    "  class 3: 15 answers, mean 0.65: split into 3 (40 images, answer 0.25), 9 (26 images, answer 0.85) "
    "(answers fall in 2 groups more than 0.1 apart (means 0.25, 0.85; 5/10 answers))\n"
    "  class 4: 13 answers, mean 0.67: split into 4 (37 images, answer 0.85), 10 (4 images, answer 0.25) "
    "(answers fall in 2 groups more than 0.1 apart (means 0.25, 0.85; 4/9 answers))\n"
    "  class 5: 15 answers, mean 0.65: split into 5 (46 images, answer 0.85), 11 (6 images, answer 0.25) "
    "(answers fall in 2 groups more than 0.1 apart (means 0.25, 0.85; 5/10 answers))\n"
    "  agree: 0, 1, 6, 7")


def test_a_binary_data_run_runs_as_before(tmp_path):
    data = GratingModel().sample(400, 4)
    np.savez_compressed(tmp_path / "t.npz", images=data.images, t=data.t)
    (tmp_path / "hbar.py").write_text(HBAR_PYTHON)
    viscause("run", tmp_path / "t.npz", "--oracle", f"python:{tmp_path / 'hbar.py'}:answer", "--iterations", 2,
             "--queries", 8, "--seed", 1, "--out", tmp_path / "run")
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    files = [np.load(tmp_path / "run" / f"iteration_{i:02d}.npz") for i in (1, 2)]
    got = {"iterations": [[r["iteration"], r["merr"], r["mdist"], r["n_train"]] for r in history["iterations"]],
           "n_obs_classes": history["config"]["n_obs_classes"],
           "files": {key: [digest(f[key]) for f in files]
                     for key in ("originals", "manipulated", "targets", "answers")}}
    assert got == DATA_RUN
    assert history["premise"]["summary"] == DATA_RUN_PREMISE
