"""What the store writes for a T with K > 2 outcomes: sessions (version 2, the outcomes named), journals (an
outcome index per answer), votes, offline answer files (names), exports and run folders."""
from __future__ import annotations

import csv
import json
import zipfile

import numpy as np
import pytest

from tests.core.method.test_outcomes import NAMES, SignOracle, sign_data
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig, QueryBatch
from viscause_gui.core.store.exports import causal_dataset, export_answers_csv, export_queries_csv
from viscause_gui.core.store.journal import AnswerRecord, Journal, JournalError, read_journal
from viscause_gui.core.store.offline import AnswerFileError, read_answers, write_offline_batch
from viscause_gui.core.store.rundir import RunModel, save_history, save_model
from viscause_gui.core.store.session import SessionData, SessionError
from viscause_gui.core.store.session_reader import load_session
from viscause_gui.core.store.session_writer import save_session
from viscause_gui.core.store.votes import batch_votes


@pytest.fixture(scope="module")
def experiment():
    """A three-outcome experiment after Algorithm 1 and one Algorithm 2 iteration, the second batch waiting."""
    exp = Experiment(sign_data(120), ExperimentConfig(iterations=2, queries=6, seed=2, epochs=3, retrain_epochs=1,
                                                      net={"arch": "mlp", "hidden": [16]}, augment_shifts=0))
    oracle = SignOracle()
    for event in exp.steps():
        if isinstance(event, QueryBatch):
            if event.kind == "algorithm2" and event.iteration == 2:
                break
            exp.answer(oracle.answer(event.images) if event.kind == "algorithm1" else event.targets)
    return exp


def manifest(path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("session.json"))


def test_a_three_outcome_session_is_version_2_and_goes_on_where_it_stopped(experiment, tmp_path):
    path = save_session(tmp_path / "s.vcsession", SessionData(experiment=experiment))
    doc = manifest(path)
    assert doc["version"] == 2 and doc["dataset"]["outcomes"] == list(NAMES)
    assert len(doc["experiment"]["classes"]["causal_levels"][0]) == 3
    exp = load_session(path).experiment
    assert exp.outcomes == NAMES and exp.causal_levels.shape == (3, 3)
    np.testing.assert_allclose(exp.causal_levels, experiment.causal_levels)
    assert exp.batches[-1].answers.shape == (6, 3)
    assert [r.to_json() for r in exp.history] == [r.to_json() for r in experiment.history]
    exp.answer(exp.pending.targets)
    assert len(exp.history) == 2 and exp.phase == "done"


def test_a_version_1_session_naming_three_outcomes_is_refused(experiment, tmp_path):
    path = save_session(tmp_path / "s.vcsession", SessionData(dataset=experiment.data))
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    doc = json.loads(members["session.json"])
    doc["version"] = 1
    members["session.json"] = json.dumps(doc).encode()
    with zipfile.ZipFile(tmp_path / "v1.vcsession", "w") as zf:
        for name, raw in members.items():
            zf.writestr(name, raw)
    with pytest.raises(SessionError, match="version-1 session has a binary T"):
        load_session(tmp_path / "v1.vcsession")


def test_a_journal_of_three_outcomes_holds_outcome_indices(tmp_path):
    path = tmp_path / "j.journal.jsonl"
    with Journal(path, "s1", outcomes=NAMES) as journal:
        journal.answer("algorithm1:0", 0, 2)
        journal.answer("algorithm1:0", 1, None)
        journal.answer("algorithm1:0", 1, 1, annotator="user#2")
        for bad in (0.5, 3, -1):
            with pytest.raises(ValueError, match="outcome 0 to 2"):
                journal.answer("algorithm1:0", 2, bad)
    header = json.loads(path.read_text().splitlines()[0])
    assert header["version"] == 2 and header["outcomes"] == list(NAMES)
    contents = read_journal(path)
    assert [r.value for r in contents.records][::2] == [2.0, 1.0]
    with pytest.raises(JournalError, match="outcomes"):
        Journal(path, "s1", outcomes=("0", "1"))
    value, disagreement, n = batch_votes(contents.records, "algorithm1:0", 3, outcomes=3)
    assert value[0].tolist() == [0, 0, 1] and value[1].tolist() == [0, 1, 0] and np.isnan(value[2]).all()
    assert n.tolist() == [1, 2, 0] and disagreement[0] == 0
    with pytest.raises(ValueError, match="outcome index"):
        AnswerRecord.from_json({**contents.records[0].to_json(), "value": 0.5}, 3)


def test_votes_over_outcomes_disagree_as_yes_no_votes_do():
    records = [AnswerRecord("answer", f"id{i}", i, f"a{i}", "t", batch="b:1", index=0, value=float(v))
               for i, v in enumerate([0, 0, 1, 2])]
    value, disagreement, _ = batch_votes(records, "b:1", 1, outcomes=3)
    assert value[0].tolist() == [0.5, 0.25, 0.25] and 0 < disagreement[0] <= 1
    binary = [AnswerRecord("answer", f"id{i}", i, f"a{i}", "t", batch="b:1", index=0, value=float(v))
              for i, v in enumerate([0, 1])]
    _, yes_no, _ = batch_votes(binary, "b:1", 1)
    as_outcomes = np.minimum(1.0, 2 * np.sqrt((1 - (0.5 ** 2 + 0.5 ** 2)) / 2))
    assert yes_no[0] == pytest.approx(as_outcomes)


def test_offline_answers_are_outcome_names_or_numbers(experiment, tmp_path):
    batch = experiment.pending
    path = write_offline_batch(tmp_path, batch, NAMES)
    assert np.load(path.parent / "images.npz")["outcomes"].tolist() == list(NAMES)
    rows = list(csv.DictReader(path.open()))
    cells = ["left", "UP", "2", "?", "right", "0"]
    for row, cell in zip(rows, cells):
        row["answer"] = cell
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    values = read_answers(path, batch, experiment.batches, NAMES)
    assert values[[0, 1, 2, 4, 5]].tolist() == [0, 1, 2, 2, 0] and np.isnan(values[3])
    rows[0]["answer"] = "down"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(AnswerFileError, match="one of left, up, right"):
        read_answers(path, batch, experiment.batches, NAMES)


def test_exports_name_the_outcomes(experiment, tmp_path):
    records = [AnswerRecord("answer", "a", 1, "user", "t", batch="algorithm1:0", index=0, value=2.0),
               AnswerRecord("answer", "b", 2, "user", "t", batch="algorithm1:0", index=1, value=float("nan"))]
    export_answers_csv(tmp_path / "answers.csv", records, NAMES)
    rows = list(csv.DictReader((tmp_path / "answers.csv").open()))
    assert rows[0]["value"] == "2" and rows[0]["outcome"] == "right" and rows[1]["outcome"] == ""
    export_queries_csv(tmp_path / "queries.csv", experiment)
    rows = list(csv.DictReader((tmp_path / "queries.csv").open()))
    answered = [r for r in rows if r["kind"] == "algorithm2" and r["answer"]]
    assert answered and all(r["answer"] in NAMES for r in answered)
    assert all(float(r[f"P({r['answer']})"]) == 1.0 for r in answered)
    data = causal_dataset(experiment)
    assert data["p_causal"].shape == (len(data["images"]), 3)


def test_a_run_folder_states_the_outcomes_and_predicts_distributions(experiment, tmp_path):
    save_history(tmp_path, experiment)
    save_model(tmp_path, experiment)
    assert json.loads((tmp_path / "history.json").read_text())["outcomes"] == list(NAMES)
    model = RunModel(tmp_path)
    assert model.outcomes == NAMES
    p_causal, _ = model.predict(experiment.data.images[:5])
    assert p_causal.shape == (5, 3) and np.allclose(p_causal.sum(axis=1), 1)
    np.testing.assert_allclose(p_causal, experiment.p_causal(experiment.data.images[:5]), atol=1e-6)
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["causal_levels"][0] = [0.5, 0.5, 0.5]
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="distributions over the 3 outcomes"):
        RunModel(tmp_path)
