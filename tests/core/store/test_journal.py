"""The answer journal (core/journal.py): durability under SIGKILL, torn lines, undo, voting, recovery."""
import csv
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viscause_gui.core.experiments.grating import GratingModel, TruthOracle
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig, QueryBatch
from viscause_gui.core.store.exports import export_answers_csv
from viscause_gui.core.store.journal import AnswerRecord, Journal, JournalError, image_hash, parse_journal, read_journal
from viscause_gui.core.store.recovery import EarlierAnswers, recover
from viscause_gui.core.store.session import SessionData, SessionError, journal_path
from viscause_gui.core.store.session_writer import save_session
from viscause_gui.core.store.votes import aggregate, batch_votes, check_images, record_status, resolve, votes

ROOT = Path(__file__).resolve().parents[3]
SID = "session-1"



# ---------------------------------------------------------------- writing and reading

def test_answers_are_on_disk_when_the_call_returns(tmp_path):
    path = tmp_path / "j.jsonl"
    with Journal(path, SID, annotator="alice") as j:
        a = j.answer("algorithm2:1", 3, 1.0, image=np.ones((10, 10), np.float32), label=1)
        b = j.answer("algorithm2:1", 4, None)                 # '?'
        c = j.answer("algorithm2:1", 5, float("nan"), annotator="bob")
        seen = read_journal(path)                             # another reader, journal still open
        assert [r.id for r in seen.records] == [a.id, b.id, c.id]
        assert [r.seq for r in seen.records] == [1, 2, 3]
    assert seen.session_id == SID and not seen.torn and seen.skipped == 0
    r = seen.records[0]
    assert (r.batch, r.index, r.value, r.label, r.annotator) == ("algorithm2:1", 3, 1.0, 1, "alice")
    assert r.image_sha256 == image_hash(np.ones((10, 10), np.float32))
    assert math.isnan(seen.records[1].value) and seen.records[2].annotator == "bob"
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["format"] == "viscause-journal"
    assert json.loads(lines[2])["value"] is None                # strict JSON: '?' is null
    with Journal(path, SID) as j, pytest.raises(ValueError):
        j.answer("x", 0, 1.5)


def test_reopening_continues_the_sequence_and_checks_the_session(tmp_path):
    path = tmp_path / "j.jsonl"
    with Journal(path, SID) as j:
        j.answer("data", 0, 1.0)
    with Journal(path, SID) as j:
        assert j.answer("data", 1, 0.0).seq == 2 and len(j.records) == 2
    with Journal(path) as j:                                   # no id given: adopt the file's
        assert j.session_id == SID
    with pytest.raises(JournalError, match="belongs to session session-1"):
        Journal(path, "another")


def test_one_writer_at_a_time(tmp_path):
    with Journal(tmp_path / "j", SID), pytest.raises(JournalError, match="open in another process"):
        Journal(tmp_path / "j", SID)


def test_a_torn_last_line_is_skipped_and_cut_off_by_the_next_writer(tmp_path):
    path = tmp_path / "j.jsonl"
    with Journal(path, SID) as j:
        keep = [j.answer("data", i, 1.0).id for i in range(3)]
    with open(path, "ab") as f:
        f.write(b'{"type":"answer","id":"half')                # a kill in the middle of a write
    seen = read_journal(path)
    assert [r.id for r in seen.records] == keep and seen.torn and seen.skipped == 0
    with Journal(path, SID) as j:
        assert j.repaired_bytes == len(b'{"type":"answer","id":"half')
        keep.append(j.answer("data", 3, 0.0).id)
    seen = read_journal(path, strict=True)
    assert [r.id for r in seen.records] == keep and not seen.torn


def test_a_torn_header_is_an_empty_journal(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"type":"header","form')
    seen = read_journal(path)
    assert seen.header is None and seen.records == [] and seen.torn
    with Journal(path, SID) as j:
        j.answer("data", 0, 1.0)
    assert read_journal(path).session_id == SID


def test_corrupt_lines_are_counted_or_refused(tmp_path):
    path = tmp_path / "j.jsonl"
    with Journal(path, SID) as j:
        first = j.answer("data", 0, 1.0)
    with open(path, "ab") as f:
        f.write(b"not json\n")
        f.write(b'{"type":"answer","id":"x","seq":2,"batch":"data","index":0,"value":7,"annotator":"a","time":"t"}\n')
        f.write(b'{"type":"teleport","id":"y"}\n')
        f.write(json.dumps(first.to_json()).encode() + b"\n")   # a duplicate id
        f.write(b"\xff\xfe\n")
    with Journal(path, SID) as j:
        second = j.answer("data", 1, 0.0)
    seen = read_journal(path)
    assert [r.id for r in seen.records] == [first.id, second.id]
    assert seen.skipped == 5 and not seen.torn
    assert [p.split(":")[0] for p in seen.problems] == ["line 3", "line 4", "line 5", "line 6", "line 7"]
    assert "'value'" in seen.problems[1] and "duplicate" in seen.problems[3]
    with pytest.raises(JournalError, match="line 3"):
        read_journal(path, strict=True)


@pytest.mark.parametrize("content, message", [
    (b"hello world\n", "not a viscause answer journal"),
    (b'{"type":"header","format":"other","version":1,"session_id":"s"}\n', "not a viscause answer journal"),
    (b'{"type":"header","format":"viscause-journal","version":99,"session_id":"s"}\n', "newer viscause"),
    (b'{"type":"header","format":"viscause-journal","version":1}\n', "session_id"),
    (b"\x00\x01\x02\n\x03", "not a viscause answer journal"),
])
def test_foreign_files_are_refused(tmp_path, content, message):
    path = tmp_path / "j"
    path.write_bytes(content)
    with pytest.raises(JournalError, match=message):
        read_journal(path)
    with pytest.raises(JournalError, match=message):
        Journal(path, SID)
    assert path.read_bytes() == content                       # refusing changed nothing


def test_a_failed_write_is_cut_back_and_the_next_answer_is_kept(tmp_path, monkeypatch):
    """A full disk: the answer is refused, and once space is back the next one is not glued onto
    the half line the failed write left (which would make the reader skip a confirmed answer)."""
    import viscause_gui.core.store.journal as journal_module

    j = Journal(tmp_path / "j.jsonl", SID)
    j.answer("algorithm2:1", 0, 1.0)
    real = journal_module.write_all

    def disk_full(fd, data):
        real(fd, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal_module, "write_all", disk_full)
    with pytest.raises(JournalError, match="NOT saved"):
        j.answer("algorithm2:1", 1, 0.0)
    monkeypatch.setattr(journal_module, "write_all", real)
    third = j.answer("algorithm2:1", 2, 1.0)                 # space is back
    contents = read_journal(tmp_path / "j.jsonl")
    assert [(r.index, r.value) for r in contents.records] == [(0, 1.0), (2, 1.0)]
    assert contents.skipped == 0 and not contents.torn and contents.records[-1].id == third.id


def test_when_a_failed_write_cannot_be_cut_back_no_answer_is_glued_onto_it(tmp_path, monkeypatch):
    import viscause_gui.core.store.journal as journal_module

    j = Journal(tmp_path / "j.jsonl", SID)
    j.answer("algorithm2:1", 0, 1.0)
    real = journal_module.write_all
    monkeypatch.setattr(journal_module, "write_all", lambda fd, data: (real(fd, data[:10]), _raise_enospc())[1])
    monkeypatch.setattr(journal_module.os, "ftruncate", lambda fd, n: _raise_enospc())
    with pytest.raises(JournalError, match="NOT saved"):
        j.answer("algorithm2:1", 1, 0.0)
    monkeypatch.undo()
    with pytest.raises(JournalError, match=r"NOT saved.*confirmed before is safe"):
        j.answer("algorithm2:1", 2, 1.0)
    j.close()
    reopened = Journal(tmp_path / "j.jsonl", SID)             # opening again cuts the fragment off
    assert [r.index for r in reopened.records] == [0]
    reopened.answer("algorithm2:1", 2, 1.0)
    assert [r.index for r in read_journal(tmp_path / "j.jsonl").records] == [0, 2]


def _raise_enospc():
    raise OSError(28, "No space left on device")


def test_a_damaged_header_keeps_every_answer(tmp_path):
    path = tmp_path / "j.jsonl"
    j = Journal(path, SID)
    for i in range(20):
        j.answer("algorithm2:1", i, float(i % 2))
    j.close()
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join([b"{bad header", *lines[1:]]))
    contents = read_journal(path)
    assert len(contents.records) == 20 and contents.session_id is None
    assert "header is damaged" in contents.problems[0]
    with pytest.raises(JournalError, match="not a viscause answer journal"):
        read_journal(path, strict=True)
    reopened = Journal(path, SID)
    assert len(reopened.records) == 20
    reopened.answer("algorithm2:1", 20, 1.0)
    assert len(read_journal(path).records) == 21


def test_missing_and_oversized_journals(tmp_path):
    with pytest.raises(JournalError, match="no such journal"):
        read_journal(tmp_path / "nope")
    with pytest.raises(JournalError, match="is a folder, not a file"):
        read_journal(tmp_path)
    (tmp_path / "big").write_bytes(b"x" * 100)
    with pytest.raises(JournalError, match="limit"):
        read_journal(tmp_path / "big", max_bytes=50)


# ---------------------------------------------------------------- undo, changes, several annotators

def test_undo_and_changed_answers_replay_to_the_final_state(tmp_path):
    with Journal(tmp_path / "j", SID, annotator="alice") as j:
        a = j.answer("algorithm2:1", 0, 1.0)
        b = j.answer("algorithm2:1", 0, 0.0)                  # changed her mind (arrow back)
        j.answer("algorithm2:1", 1, 1.0)
        u = j.undo(b)                                          # Ctrl+Z: back to 1.0
        c = j.answer("algorithm2:1", 2, 0.0)
        j.undo(c.id)                                           # image 2 has no answer again
        with pytest.raises(ValueError, match="no answer"):
            j.undo("nonexistent")
    records = read_journal(tmp_path / "j").records
    final = resolve(records)
    assert {k: r.value for k, r in final.items()} == {("algorithm2:1", 0, "alice"): 1.0,
                                                      ("algorithm2:1", 1, "alice"): 1.0}
    assert final[("algorithm2:1", 0, "alice")].id == a.id
    status = record_status(records)
    assert status[a.id] == "final" and status[b.id] == "undone" and status[u.id] == "undo"
    values, _, n = batch_votes(records, "algorithm2:1", 3)
    assert values[:2].tolist() == [1.0, 1.0] and math.isnan(values[2]) and n.tolist() == [1, 1, 0]


def test_a_replaced_answer_is_not_final(tmp_path):
    with Journal(tmp_path / "j", SID) as j:
        a = j.answer("data", 0, 1.0)
        b = j.answer("data", 0, 0.0)
    status = record_status(read_journal(tmp_path / "j").records)
    assert status == {a.id: "replaced", b.id: "final"}


def test_aggregate_is_the_fraction_of_yes_with_a_disagreement_measure():
    v = aggregate([1, 1, 1, 1, 0])                            # the paper's five annotators
    assert v.value == pytest.approx(0.8) and v.disagreement == pytest.approx(0.8) and (v.n, v.n_known) == (5, 5)
    assert aggregate([1, 1, 1]).disagreement == 0.0
    assert aggregate([1, 0, 1, 0]).disagreement == pytest.approx(1.0)
    v = aggregate([None, 1.0, float("nan")])
    assert (v.value, v.disagreement, v.n, v.n_known) == (1.0, 0.0, 3, 1)
    v = aggregate([None])
    assert math.isnan(v.value) and math.isnan(v.disagreement) and v.n_known == 0
    assert math.isnan(aggregate([]).value)


def test_several_annotators_per_image_become_the_oracle_answer(tmp_path):
    batch = QueryBatch("algorithm2", 1, np.zeros((3, 4, 4), np.float32), np.arange(3))
    with Journal(tmp_path / "j", SID) as j:
        for who, answers in {"a": [1, 0, None], "b": [1, 1, None], "c": [1, 0, 1], "d": [0, 0, None],
                             "e": [1, 0, None]}.items():
            for i, value in enumerate(answers):
                j.answer(batch, i, value, annotator=who, image=batch.images[i])
        j.answer("algorithm2:2", 0, 0.0, annotator="a")          # another batch does not count
    values, disagreement, n = batch_votes(read_journal(tmp_path / "j").records, batch)
    assert values.tolist() == pytest.approx([0.8, 0.2, 1.0])
    assert disagreement.tolist() == pytest.approx([0.8, 0.8, 0.0]) and n.tolist() == [5, 5, 5]


def test_export_answers_csv(tmp_path):
    with Journal(tmp_path / "j", SID) as j:
        a = j.answer("data", 0, 1.0, label=7)
        j.answer("data", 1, None)
        j.undo(a)
    out = export_answers_csv(tmp_path / "answers.csv", read_journal(tmp_path / "j").records)
    rows = list(csv.DictReader(out.open(newline="")))
    assert [r["status"] for r in rows] == ["undone", "final", "undo"]
    assert rows[0]["value"] == "1.0" and rows[0]["label"] == "7" and rows[1]["value"] == ""
    assert rows[2]["target"] == a.id and rows[2]["batch"] == ""


# ---------------------------------------------------------------- fuzzing the reader

@pytest.fixture(scope="module")
def journal_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("j") / "j.jsonl"
    with Journal(path, SID) as j:
        for i in range(12):
            r = j.answer("algorithm2:1", i, [1.0, 0.0, None][i % 3], annotator="é" if i % 2 else "a",
                         image_sha256="ab" * 32 if i % 4 else None)
            if i % 5 == 4:
                j.undo(r)
    raw = path.read_bytes()
    return raw, read_journal(path).records


@settings(max_examples=150, deadline=None)
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_fuzz_truncation_keeps_exactly_the_complete_lines(journal_bytes, cut):
    raw, records = journal_bytes
    cut = cut % (len(raw) + 1)
    seen = parse_journal(raw[:cut])
    complete = raw[:cut].count(b"\n") - 1                      # lines after the header
    assert [r.id for r in seen.records] == [r.id for r in records[:max(complete, 0)]]
    assert seen.torn == (cut > 0 and raw[cut - 1:cut] != b"\n") and seen.skipped == 0


@settings(max_examples=150, deadline=None)
@given(blob=st.binary(max_size=600), where=st.integers(min_value=0, max_value=10_000),
       mode=st.sampled_from(["random", "insert", "overwrite", "append"]))
def test_fuzz_random_bytes_give_a_result_or_a_journal_error(journal_bytes, blob, where, mode):
    raw, records = journal_bytes
    where %= len(raw) + 1
    data = {"random": blob, "insert": raw[:where] + blob + raw[where:],
            "overwrite": raw[:where] + blob + raw[where + len(blob):], "append": raw + blob}[mode]
    try:
        seen = parse_journal(data)
    except JournalError:
        return
    assert all(isinstance(r, AnswerRecord) for r in seen.records)
    if mode == "append":                                       # damage after the end loses nothing
        assert [r.id for r in seen.records[:len(records)]] == [r.id for r in records]


# ---------------------------------------------------------------- SIGKILL at any moment

CHILD = r"""
import json, sys, time
from viscause_gui.core.store import journal as J
path, sid, mode, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
plan = json.loads(sys.argv[5]) if len(sys.argv) > 5 else None
j = J.Journal(path, sid, annotator="child")
if mode == "midwrite":                       # the (n+1)-th answer stops half written
    real, count = J.write_all, [0]
    def torn(fd, data):
        count[0] += 1
        if count[0] > n:
            real(fd, data[: len(data) // 2])
            print("mid", flush=True)
            time.sleep(60)
        real(fd, data)
    J.write_all = torn
print("ready", flush=True)
i = 0
while True:
    if plan is not None:
        index, value, digest = plan[i]
        r = j.answer("algorithm2:1", index, value, image_sha256=digest)
    else:
        r = j.answer("algorithm2:1", i % 10, float(i % 2), label="x" * 400)
    print("ok", r.id, flush=True)            # the append has returned
    i += 1
    if mode == "count" and i == n or plan is not None and i == len(plan):
        print("waiting", flush=True)
        time.sleep(60)
"""


def run_and_kill(path, mode, n=0, *, sid=SID, delay=None, plan=None):
    """Start a child that appends answers, SIGKILL it, return the ids whose append returned."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = [sys.executable, "-c", CHILD, str(path), sid, mode, str(n)] + ([json.dumps(plan)] if plan else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    got = {"ready": threading.Event(), "waiting": threading.Event(), "mid": threading.Event()}

    def drain():
        for line in proc.stdout:
            lines.append(line.strip())
            if line.strip() in got:
                got[line.strip()].set()
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        if delay is not None:
            assert got["ready"].wait(30), proc.stderr.read() if proc.poll() is not None else "child not ready"
            time.sleep(delay)
        else:
            event = got["mid" if mode == "midwrite" else "waiting"]
            assert event.wait(30), proc.stderr.read() if proc.poll() is not None else "child stuck"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
    reader.join(10)
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return [line.split()[1] for line in lines if line.startswith("ok ")]


@pytest.mark.kill
@pytest.mark.parametrize("k", [1, 4, 25])
def test_sigkill_after_k_answers_loses_none(tmp_path, k):
    path = tmp_path / "j.jsonl"
    confirmed = run_and_kill(path, "count", k)
    seen = read_journal(path)
    assert [r.id for r in seen.records] == confirmed and len(confirmed) == k
    assert not seen.torn and seen.skipped == 0


@pytest.mark.kill
@pytest.mark.parametrize("k", [0, 3])
def test_sigkill_in_the_middle_of_a_write_loses_no_confirmed_answer(tmp_path, k):
    path = tmp_path / "j.jsonl"
    confirmed = run_and_kill(path, "midwrite", k)
    seen = read_journal(path)
    assert seen.torn and [r.id for r in seen.records] == confirmed and len(confirmed) == k
    more = run_and_kill(path, "count", 2)                     # the next start repairs and goes on
    seen = read_journal(path, strict=True)
    assert [r.id for r in seen.records] == confirmed + more and not seen.torn
    assert [r.seq for r in seen.records] == list(range(1, k + 3))


@pytest.mark.kill
def test_sigkill_at_random_moments_while_writing_in_a_loop(tmp_path):
    path = tmp_path / "j.jsonl"
    confirmed_all: list[str] = []
    for delay in (0.02, 0.11, 0.07, 0.23, 0.05):
        confirmed = run_and_kill(path, "loop", delay=delay)
        seen = read_journal(path)                              # what a restart finds
        ids = [r.id for r in seen.records]
        assert ids[:len(confirmed_all)] == confirmed_all        # earlier runs intact
        new = ids[len(confirmed_all):]
        assert new[:len(confirmed)] == confirmed                # every returned append is there
        assert len(new) - len(confirmed) <= 1                   # at most one written but not yet reported
        assert seen.skipped == 0
        confirmed_all = ids
    seen = read_journal(path)
    assert [r.seq for r in seen.records] == list(range(1, len(seen.records) + 1))
    assert len(seen.records) > 5


# ---------------------------------------------------------------- recovery with a session

CFG = dict(iterations=2, queries=10, epochs=2, retrain_epochs=1)


@pytest.fixture(scope="module")
def grating_runs():
    model = GratingModel()
    data = model.sample(500, 0)
    whole = Experiment(data, ExperimentConfig(**CFG))
    whole.run(TruthOracle(model))
    return model, data, whole


def drive_to(exp, oracle, kind, iteration, answered=False):
    for event in exp.steps():
        if isinstance(event, QueryBatch):
            if not answered and (event.kind, event.iteration) == (kind, iteration):
                return event
            exp.answer(oracle.answer(event.images))
            if answered and (event.kind, event.iteration) == (kind, iteration):
                return event


@pytest.mark.kill
def test_recover_after_a_kill_replays_every_confirmed_answer_and_the_run_goes_on(grating_runs, tmp_path):
    model, data, whole = grating_runs
    oracle = TruthOracle(model)
    exp = Experiment(data, ExperimentConfig(**CFG))
    batch = drive_to(exp, oracle, "algorithm2", 1)
    truth = oracle.answer(batch.images)
    spath = tmp_path / "run.vcsession"
    session = SessionData(experiment=exp)
    jpath = journal_path(spath)
    with session.open_journal(jpath) as j:                  # three answers, then a save
        for i in range(3):
            j.answer(batch, i, truth[i], image=batch.images[i])
        session.answers = list(j.records)
    save_session(spath, session)
    plan = [[i, float(truth[i]), image_hash(batch.images[i])] for i in range(3, 10)]
    confirmed = run_and_kill(jpath, "plan", sid=session.session_id, plan=plan[:4])   # killed after 4 more

    restored, replay = recover(spath, jpath)
    assert [r.id for r in replay] == confirmed
    assert not replay.mismatched and not replay.unverified and not replay.torn
    restored.answers.extend(replay)
    exp2 = restored.experiment
    with restored.open_journal(jpath) as j:                 # the person answers the rest
        for index, value, _ in plan[4:]:
            restored.answers.append(j.answer(exp2.pending, index, value, image=exp2.pending.images[index]))
    values, disagreement, n = batch_votes(restored.answers, exp2.pending)
    assert (n == 1).all() and np.array_equal(values, truth) and (disagreement == 0).all()
    exp2.answer(values)
    exp2.run(oracle)
    assert [(r.merr, r.mdist, r.n_train) for r in exp2.history] == [(r.merr, r.mdist, r.n_train)
                                                                   for r in whole.history]
    _again, nothing = recover(spath, jpath)                   # the old save + full journal: 7 to replay
    assert len(nothing) == 7


def test_answers_to_a_batch_not_yet_saved_are_checked_when_it_comes_back(grating_runs, tmp_path):
    model, data, whole = grating_runs
    oracle = TruthOracle(model)
    exp = Experiment(data, ExperimentConfig(**CFG))
    drive_to(exp, oracle, "algorithm2", 1, answered=True)    # saved after answering: batch 2 not made yet
    spath = tmp_path / "run.vcsession"
    session = SessionData(experiment=exp)
    save_session(spath, session)
    later = whole.batches[2]                                 # what the crashed run showed (same seed)
    with session.open_journal(journal_path(spath)) as j:
        for i in range(4):
            j.answer(later, i, 1.0, image=later.images[i])
        j.answer(later, 4, 1.0, image=np.zeros((10, 10), np.float32))   # not the image shown now
    restored, replay = recover(spath, journal_path(spath))
    assert len(replay) == 5 and replay.unverified == list(replay)
    exp2 = restored.experiment
    batch = next(e for e in exp2.steps() if isinstance(e, QueryBatch))
    ok, bad = check_images(replay, "algorithm2:2", batch.images)
    assert [r.index for r in ok] == [0, 1, 2, 3] and [r.index for r in bad] == [4]


def test_recover_leaves_out_mismatched_images_and_refuses_another_sessions_journal(grating_runs, tmp_path):
    model, data, _ = grating_runs
    exp = Experiment(data, ExperimentConfig(**CFG))
    batch = drive_to(exp, TruthOracle(model), "algorithm1", 0)
    spath = tmp_path / "run.vcsession"
    session = SessionData(experiment=exp)
    save_session(spath, session)
    with session.open_journal(journal_path(spath)) as j:
        good = j.answer(batch, 0, 1.0, image=batch.images[0])
        j.answer(batch, 1, 1.0, image=np.full((10, 10), 0.5, np.float32))   # hash of another image
        j.answer(batch, 999, 1.0)                                 # no such place
        undo = j.undo(good)
        data_answer = j.answer("data", 5, 0.0, image=data.images[5])
    _, replay = recover(spath, journal_path(spath))
    assert [r.id for r in replay] == [good.id, undo.id, data_answer.id]
    assert [r.index for r in replay.mismatched] == [1, 999]
    _, none = recover(spath, tmp_path / "no-journal.jsonl")
    assert list(none) == []
    with Journal(tmp_path / "other.jsonl", "someone-else") as j:
        j.answer("data", 0, 1.0)
    with pytest.raises(JournalError, match="belongs to session someone-else"):
        recover(spath, tmp_path / "other.jsonl")
    (tmp_path / "bad.vcsession").write_bytes(b"junk")
    with pytest.raises(SessionError):
        recover(tmp_path / "bad.vcsession", journal_path(spath))


def test_any_number_of_bad_lines_is_counted_and_the_first_are_described(tmp_path):
    """A journal of a million empty lines: all counted, the first MAX_PROBLEMS described (a list
    of every line and every problem took 533 MiB for five million)."""
    from viscause_gui.core.store.journal import MAX_PROBLEMS

    path = tmp_path / "j.jsonl"
    with Journal(path, SID) as j:
        j.answer("data", 0, 1.0)
    with open(path, "ab") as f:
        f.write(b"\n" * 1_000_000)
    with Journal(path, SID) as j:
        last = j.answer("data", 1, 0.0)
    seen = read_journal(path)
    assert seen.skipped == 1_000_000 and len(seen.problems) == MAX_PROBLEMS
    assert seen.problems[0] == "line 3: empty" and seen.records[-1].id == last.id


# ---------------------------------------------------------------- answers stay in their session (issue 21)

def test_each_line_names_its_session_and_lines_without_one_still_read(tmp_path):
    path = tmp_path / "j.jsonl"
    with Journal(path, SID) as j:
        a = j.answer("algorithm1:0", 0, 1.0)
        u = j.undo(a)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x.get("session") for x in lines[1:]] == [SID, SID] and u.session == SID
    old = {k: v for k, v in lines[1].items() if k != "session"}     # written before the field
    path.write_text("\n".join(json.dumps(x) for x in [lines[0], old]) + "\n")
    assert read_journal(path).records[0].session is None
    with Journal(path, SID) as j:
        assert len(j.records) == 1


def test_another_sessions_lines_are_never_taken(tmp_path):
    """A line another session wrote (its `session`) is not this session's answer: not in the
    open journal's records, not replayed by recover, and a damaged header does not make a
    stranger's journal ours."""
    path = tmp_path / "j.jsonl"
    with Journal(path, SID) as j:
        j.answer("data", 0, 1.0)
    with Journal(tmp_path / "other.jsonl", "someone-else") as other:
        stranger = other.answer("data", 1, 0.0)
    with open(path, "ab") as f:                                  # a stranger's line glued in
        f.write(json.dumps(stranger.to_json()).encode() + b"\n")
    with Journal(path, SID) as j:
        assert [r.index for r in j.records] == [0] and j.skipped == 1
    lines = (tmp_path / "other.jsonl").read_bytes().split(b"\n")
    (tmp_path / "other.jsonl").write_bytes(b"\n".join([b"{damaged", *lines[1:]]))
    with pytest.raises(JournalError, match="belongs to session someone-else"):
        Journal(tmp_path / "other.jsonl", SID)


def test_recover_leaves_out_another_sessions_lines(grating_runs, tmp_path):
    _model, data, _ = grating_runs
    spath = tmp_path / "run.vcsession"
    session = SessionData(dataset=data)
    save_session(spath, session)
    with session.open_journal(journal_path(spath)) as j:
        mine = j.answer("data", 5, 0.0, image=data.images[5])
    with Journal(tmp_path / "other.jsonl", "someone-else") as other:
        stranger = other.answer("data", 6, 1.0, image=data.images[6])
    with open(journal_path(spath), "ab") as f:
        f.write(json.dumps(stranger.to_json()).encode() + b"\n")
    _, replay = recover(spath, journal_path(spath))
    assert [r.id for r in replay] == [mine.id] and [r.id for r in replay.foreign] == [stranger.id]


def test_earlier_answers_are_found_by_image_hash_in_other_sessions_only(tmp_path):
    images = [np.full((4, 4), v, np.float32) for v in (0.1, 0.2, 0.3)]
    hashes = [image_hash(im) for im in images]
    with Journal(tmp_path / "a.vcsession.journal.jsonl", "A") as a:
        a.answer("algorithm1:0", 0, 1.0, image=images[0])
        wrong = a.answer("algorithm1:0", 1, 1.0, image=images[1])
        a.undo(wrong)                                           # undone: not offered
        a.answer("algorithm1:0", 1, 0.0, image=images[1], annotator="bob")
    with Journal(tmp_path / "b.vcsession.journal.jsonl", "B") as b:
        b.answer("algorithm2:3", 7, 0.0, image=images[0])       # later, same image, same annotator
    with Journal(tmp_path / "mine.vcsession.journal.jsonl", "ME") as me:
        me.answer("algorithm1:0", 2, 1.0, image=images[2])
    journals = sorted(tmp_path.glob("*.jsonl"))
    found = EarlierAnswers().find(journals, set(hashes), exclude_session="ME")
    assert set(found) == {hashes[0], hashes[1]}                 # never this session's own
    (first,) = found[hashes[0]]
    assert (first.session, first.record.value, first.where) == ("B", 0.0, "b.vcsession")   # the latest per annotator
    assert [(x.session, x.record.annotator, x.record.value) for x in found[hashes[1]]] == [("A", "bob", 0.0)]
    assert EarlierAnswers().find(journals, {"0" * 64}) == {}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(-1, 5), st.sampled_from(["x", "y"]),
                          st.one_of(st.none(), st.sampled_from([0.0, 0.25, 1.0, math.nan])), st.booleans()),
                max_size=40))
def test_batch_votes_counts_what_votes_counts(rows):
    """batch_votes (bincount, for a share's thousands of answers) agrees with votes (one Vote per image)."""
    records, ids = [], []
    for seq, (annotator, index, batch, value, undo) in enumerate(rows):
        if undo and ids:
            records.append(AnswerRecord("undo", f"u{seq}", seq, annotator, "t", target=ids[seq % len(ids)]))
            continue
        ids.append(f"r{seq}")
        records.append(AnswerRecord("answer", ids[-1], seq, annotator, "t", batch=batch, index=index,
                                    value=math.nan if value is None else value))
    value, disagreement, n = batch_votes(records, "x", 4)
    expected = {index: vote for (batch, index), vote in votes(records).items() if batch == "x" and 0 <= index < 4}
    for index in range(4):
        vote = expected.get(index)
        assert n[index] == (vote.n if vote else 0)
        for got, want in ((value[index], vote.value if vote else math.nan),
                          (disagreement[index], vote.disagreement if vote else math.nan)):
            assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, abs=1e-12)
