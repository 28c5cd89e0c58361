"""Files written before T could have K outcomes open unchanged, as a binary T (K = 2, outcomes "0" and "1").

tests/data/grating_run_before_outcomes/ and tests/data/data_run_before_outcomes/ were written by the code of
commit 1f5b526 (before outcomes had names), with tests/data/README.md's commands; the numbers below
(`PREDICTED`, `ANSWERED`) are what that code computed from them, recorded at that commit.
"""
from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.cli_runner import viscause
from tests.oracle_models import HBAR_PYTHON
from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.lessons import resources_dir
from viscause_gui.core.store.journal import Journal, read_journal
from viscause_gui.core.store.rundir import RunModel
from viscause_gui.core.store.session_reader import load_session
from viscause_gui.core.store.session_writer import save_session

DATA = Path(__file__).resolve().parents[2] / "data"
BINARY = ("0", "1")

# RunModel(grating_run_before_outcomes).predict(GratingModel().sample(6, 5).images), by the code of 1f5b526
PREDICTED = {"p_causal": [0.829404, 0.782763, 0.827341, 0.25052, 0.259517, 0.849305],
             "causal_class": [1, 1, 1, 0, 0, 1], "levels": [0.25, 0.85]}
# `viscause answer data_run_before_outcomes data_run_before_outcomes_answers.csv --oracle python:hbar.py:answer`,
# by the code of 1f5b526: history.json's iterations and each iteration file's targets and answers
ANSWERED = {"iterations": [[1, 0.75, 2.0, 120], [2, 0.5, 2.75, 124]],
            "targets": [[0, 1, 0, 1], [0, 0, 1, 1]],
            "answers": [[0.25, 0.25, 0.85, 0.25], [0.25, 0.25, 0.25, 0.25]]}


def test_the_example_session_opens_as_a_binary_t_and_saves_as_version_1(tmp_path):
    session = load_session(resources_dir() / "examples" / "grating_example.vcsession")
    assert session.dataset.outcomes == BINARY and session.dataset.n_outcomes == 2
    exp = session.experiment
    if exp is not None and exp.causal_levels is not None:
        assert exp.causal_levels.ndim == 1 and exp.n_outcomes == 2
    again = save_session(tmp_path / "again.vcsession", session)
    with zipfile.ZipFile(again) as zf:
        doc = json.loads(zf.read("session.json"))
    assert doc["version"] == 1 and doc["dataset"]["outcomes"] == list(BINARY)
    reopened = load_session(again)
    assert reopened.dataset.outcomes == BINARY
    if exp is not None:
        assert [r.to_json() for r in reopened.experiment.history] == [r.to_json() for r in exp.history]


def test_sessions_written_before_outcomes_open_as_binary():
    for name in ("grating_before_layout.vcsession", "digits_before_layout.vcsession"):
        session = load_session(DATA / name)
        assert session.dataset.outcomes == BINARY, name
        assert session.experiment.causal_levels.ndim == 1


def test_a_run_folder_written_before_outcomes_predicts_as_it_did():
    model = RunModel(DATA / "grating_run_before_outcomes")
    assert model.outcomes == BINARY and model.levels.tolist() == PREDICTED["levels"]
    p_causal, causal_class = model.predict(GratingModel().sample(6, 5).images)
    assert p_causal.shape == (6,)
    np.testing.assert_allclose(p_causal, PREDICTED["p_causal"], atol=1e-6)
    assert causal_class.tolist() == PREDICTED["causal_class"]


@pytest.mark.slow
def test_a_data_run_written_before_outcomes_goes_on_as_it_did(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(DATA / "data_run_before_outcomes", run)
    (tmp_path / "hbar.py").write_text(HBAR_PYTHON)
    viscause("answer", run, DATA / "data_run_before_outcomes_answers.csv", "--oracle",
             f"python:{tmp_path / 'hbar.py'}:answer")
    history = json.loads((run / "history.json").read_text())
    assert [[r["iteration"], r["merr"], r["mdist"], r["n_train"]] for r in history["iterations"]] == \
        ANSWERED["iterations"]
    assert history["outcomes"] == list(BINARY) and history["config"]["t_from_labels"] is False
    files = [np.load(run / f"iteration_{i:02d}.npz") for i in (1, 2)]
    assert [f["targets"].tolist() for f in files] == ANSWERED["targets"]
    assert [f["answers"].tolist() for f in files] == ANSWERED["answers"]


def test_a_journal_written_before_outcomes_is_a_binary_one(tmp_path):
    path = tmp_path / "old.journal.jsonl"
    path.write_text('{"type":"header","format":"viscause-journal","version":1,"session_id":"s1",'
                    '"created":"2026-01-01T00:00:00.000000+00:00"}\n'
                    '{"type":"answer","id":"a1","seq":1,"batch":"algorithm1:0","index":0,"value":0.5,"label":null,'
                    '"annotator":"user","time":"2026-01-01T00:00:01.000000+00:00","image_sha256":null}\n')
    assert [r.value for r in read_journal(path).records] == [0.5]
    with Journal(path, "s1", outcomes=BINARY) as journal:
        assert journal.outcomes == BINARY
        journal.answer("algorithm1:0", 1, 1.0)
    assert json.loads(path.read_text().splitlines()[0])["version"] == 1
