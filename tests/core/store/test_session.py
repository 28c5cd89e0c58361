"""Session files (core/session.py): round trips, resuming, every bad-file case, no code execution."""
import io
import json
import os
import pickle
import warnings
import zipfile

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.data.readers import load_npz
from viscause_gui.core.experiments.grating import GratingModel, TruthOracle
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig, QueryBatch
from viscause_gui.core.store.exports import causal_dataset, export_causal_dataset, export_queries_csv
from viscause_gui.core.store.journal import AnswerRecord, image_hash
from viscause_gui.core.store.session import SESSION_VERSION, SessionData, SessionError, SessionLimits, autosave_path
from viscause_gui.core.store.session_reader import load_session
from viscause_gui.core.store.session_writer import Autosaver, save_session

CFG = dict(iterations=2, queries=10, epochs=2, retrain_epochs=1)



@pytest.fixture(scope="module")
def grating():
    model = GratingModel()
    return model, model.sample(500, 0)


@pytest.fixture(scope="module")
def uninterrupted(grating):
    model, data = grating
    exp = Experiment(data, ExperimentConfig(**CFG))
    exp.run(TruthOracle(model))
    return exp


def advance(exp, oracle, stop):
    """Drive the experiment to a save point: ("pending"|"answered", kind, iteration)."""
    for event in exp.steps():
        if isinstance(event, QueryBatch):
            if stop == ("pending", event.kind, event.iteration):
                return
            exp.answer(oracle.answer(event.images))
            if stop == ("answered", event.kind, event.iteration):
                return


@pytest.fixture(scope="module")
def valid_file(grating, tmp_path_factory):
    """A session mid-run: Algorithm 1 answered, nets trained, batch of iteration 1 pending."""
    model, data = grating
    exp = Experiment(data, ExperimentConfig(**CFG))
    advance(exp, TruthOracle(model), ("pending", "algorithm2", 1))
    rec = AnswerRecord("answer", "a1", 1, "alice", "2024-01-01T00:00:00+00:00", batch="algorithm2:1", index=0,
                       value=1.0, image_sha256=image_hash(exp.pending.images[0]))
    path = tmp_path_factory.mktemp("valid") / "run.vcsession"
    save_session(path, SessionData(experiment=exp, answers=[rec], settings={"blind": True}))
    return path


def members(path):
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def rewrite(src, dst, replace=None, edit_json=None):
    """Copy a session zip, replacing members (None deletes) and editing session.json."""
    content = members(src)
    for name, raw in (replace or {}).items():
        if raw is None:
            content.pop(name, None)
        else:
            content[name] = raw
    if edit_json is not None:
        doc = json.loads(content["session.json"])
        edit_json(doc)
        content["session.json"] = json.dumps(doc).encode()
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, raw in content.items():
            zf.writestr(name, raw)
    return dst


def npy(arr):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def assert_same_state(a: Experiment, b: Experiment):
    assert a.config == b.config and a.spec == b.spec and a.iteration == b.iteration
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    def strip(history):
        return [{k: v for k, v in r.to_json().items() if k != "seconds"} for r in history]

    assert strip(a.history) == strip(b.history)
    for name in ("causal_levels", "obs_to_causal", "obs_answers", "causal_labels", "query_images", "query_labels"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and np.array_equal(x, y), name
    pa = [*a.batches, *([a.pending] if a.pending is not None else [])]
    pb = [*b.batches, *([b.pending] if b.pending is not None else [])]
    assert len(pa) == len(pb) and (a.pending is None) == (b.pending is None)
    for x, y in zip(pa, pb):
        assert (x.kind, x.iteration) == (y.kind, y.iteration)
        for f in ("images", "source_index", "originals", "targets", "distances", "p_target", "answers"):
            u, v = getattr(x, f), getattr(y, f)
            assert (u is None) == (v is None), f
            if u is not None:
                assert u.dtype == v.dtype and np.array_equal(u, v, equal_nan=True), f
    assert len(a.nets) == len(b.nets)
    for na, nb in zip(a.nets, b.nets):
        sa, sb = na.state_dict(), nb.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)


# ---------------------------------------------------------------- round trips

STOPS = [("pending", "algorithm1", 0), ("answered", "algorithm1", 0), ("pending", "algorithm2", 1),
         ("answered", "algorithm2", 1), ("pending", "algorithm2", 2), ("done", "", 0)]


@pytest.mark.parametrize("stop", STOPS, ids=lambda s: "-".join(map(str, s)))
def test_saved_and_reloaded_experiment_goes_on_like_an_uninterrupted_one(grating, uninterrupted, tmp_path, stop):
    model, data = grating
    oracle = TruthOracle(model)
    exp = Experiment(data, ExperimentConfig(**CFG))
    advance(exp, oracle, stop)
    path = tmp_path / "s.vcsession"
    save_session(path, exp, {"blind": False})
    session = load_session(path)
    assert session.settings == {"blind": False} and session.path == path
    loaded = session.experiment
    assert loaded is not exp and loaded.data is session.dataset
    assert_same_state(exp, loaded)
    assert loaded.phase == exp.phase
    loaded.run(oracle)                                   # Algorithm 2 goes on where it was
    exp.run(oracle)
    for done in (loaded, exp):
        assert_same_state(done, uninterrupted)
        assert [r.merr for r in done.history] == [r.merr for r in uninterrupted.history]


def test_a_refused_algorithm1_answer_is_saved_and_can_be_answered_again(grating, uninterrupted, tmp_path):
    model, data = grating
    exp = Experiment(data, ExperimentConfig(**CFG))
    batch = next(exp.steps())
    with pytest.raises(Exception, match="only one causal class"):
        exp.answer(np.full(len(batch), 0.5))                # every class the same: refused, batch still waits
    path = save_session(tmp_path / "s.vcsession", exp)
    loaded = load_session(path).experiment
    assert_same_state(exp, loaded)
    loaded.run(TruthOracle(model))
    assert_same_state(loaded, uninterrupted)


def test_dataset_round_trip_keeps_every_array_and_meta(grating, tmp_path):
    _, data = grating
    labelled = Dataset(images=data.images[:50], p_obs=data.p_obs[:50], t=data.t[:50],
                       obs_class=data.obs_class[:50], causal_class=data.causal_class[:50],
                       labels=np.array([f"l{i % 3}" for i in range(50)]), meta={"note": "ü", "n": [1, 2]}, name="x")
    rec = AnswerRecord("answer", "r1", 1, "bob", "t0", batch="data", index=3, value=float("nan"), label="?")
    undo = AnswerRecord("undo", "r2", 2, "bob", "t1", target="r1")
    path = save_session(tmp_path / "d.vcsession", SessionData(dataset=labelled, answers=[rec, undo]))
    s = load_session(path)
    assert s.experiment is None
    assert [r.to_json() for r in s.answers] == [rec.to_json(), undo.to_json()]
    assert np.isnan(s.answers[0].value) and s.answers[0].label == "?"
    for key in ("images", "p_obs", "t", "obs_class", "causal_class", "labels"):
        assert np.array_equal(getattr(s.dataset, key), getattr(labelled, key)), key
    assert s.dataset.meta == labelled.meta and s.dataset.name == "x"
    assert np.array_equal(s.batch_images("data"), labelled.images) and s.batch_images("algorithm1:0") is None


def test_session_id_created_and_settings_survive_and_saves_are_deterministic(grating, tmp_path):
    _, data = grating
    session = SessionData(dataset=data, settings={"annotators": 5})
    a = save_session(tmp_path / "a.vcsession", session, {"blind": True})
    b = load_session(a)
    assert (b.session_id, b.created) == (session.session_id, session.created)
    assert b.settings == {"annotators": 5, "blind": True} and session.saved == b.saved
    assert b.app["name"] == "viscause_gui"


def test_loading_changes_no_global_random_state(valid_file):
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    before = valid_file.read_bytes()
    load_session(valid_file)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(x, y) for x, y in zip(np.random.get_state(), np_state))
    assert valid_file.read_bytes() == before


# ---------------------------------------------------------------- saving safely

def test_save_is_atomic_and_leaves_no_temporary_files(grating, tmp_path, monkeypatch):
    _, data = grating
    path = save_session(tmp_path / "s.vcsession", data)
    before = path.read_bytes()

    def broken(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("viscause_gui.core.store.session_writer._add", broken)
    with pytest.raises(SessionError, match="unchanged"):
        save_session(path, data, {"x": 1})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.vcsession"]


def test_settings_that_are_not_json_are_refused_before_writing(grating, tmp_path):
    _, data = grating
    with pytest.raises(SessionError, match="cannot save"):
        save_session(tmp_path / "s.vcsession", data, {"bad": object()})
    with pytest.raises(SessionError):
        save_session(tmp_path / "s.vcsession", data, {"nan": float("nan")})
    assert list(tmp_path.iterdir()) == []


def test_saving_while_training_is_refused(grating, tmp_path):
    model, data = grating
    exp = Experiment(data, ExperimentConfig(**CFG))
    advance(exp, TruthOracle(model), ("answered", "algorithm1", 0))
    steps = exp.steps()
    next(steps)                                         # a TrainEvent: the nets are half trained
    assert exp.training_in_progress
    with pytest.raises(SessionError, match="training"):
        save_session(tmp_path / "s.vcsession", exp)
    steps.close()


def test_autosaver_saves_when_due_beside_the_session(grating, tmp_path):
    _, data = grating
    now = [0.0]
    saver = Autosaver(tmp_path / "s.vcsession", interval_s=10, clock=lambda: now[0])
    session = SessionData(dataset=data)
    assert saver.maybe_save(session) is None               # nothing changed
    saver.mark_dirty()
    assert saver.maybe_save(session) == autosave_path(tmp_path / "s.vcsession")
    saver.mark_dirty()
    now[0] = 5.0
    assert saver.maybe_save(session) is None               # too soon
    now[0] = 10.0
    assert saver.maybe_save(session) is not None
    assert saver.newer_than_session()
    assert load_session(saver.path).session_id == session.session_id
    saver.discard()
    assert not saver.path.exists()


# ---------------------------------------------------------------- bad files

def test_random_bytes_empty_missing_and_folder(tmp_path):
    (tmp_path / "r").write_bytes(os.urandom(3000))
    (tmp_path / "e").write_bytes(b"")
    for name, msg in [("r", "not a viscause session"), ("e", "not a viscause session"),
                      ("missing", "no such file"), ("", "is not a file")]:
        with pytest.raises(SessionError, match=msg):
            load_session(tmp_path / name)


def test_truncated_files(valid_file, tmp_path):
    raw = valid_file.read_bytes()
    for cut in (1, 10, 100, len(raw) // 3, len(raw) // 2, len(raw) - 30, len(raw) - 1):
        p = tmp_path / f"cut{cut}"
        p.write_bytes(raw[:cut])
        with pytest.raises(SessionError):
            load_session(p)


def test_foreign_zip_and_npz(tmp_path, grating):
    _, data = grating
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(SessionError, match=r"no session\.json"):
        load_session(tmp_path / "z.zip")
    data.save_npz(str(tmp_path / "d.npz"))
    with pytest.raises(SessionError, match=r"no session\.json"):
        load_session(tmp_path / "d.npz")


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(format="something-else"), "format 'something-else'"),
    (lambda d: d.update(version=SESSION_VERSION + 1), "newer viscause"),
    (lambda d: d.update(version="1"), "bad format version"),
    (lambda d: d.pop("dataset"), "'dataset'"),
    (lambda d: d["experiment"]["classes"].update(causal_levels=[0.2, 1.5]), "causal_levels"),
    (lambda d: d["experiment"]["config"].update(queries="ten"), "config 'queries'"),
    (lambda d: d["experiment"]["config"].update(iterations=-1), "config 'iterations'"),
    (lambda d: d["experiment"]["rng"].update(bit_generator="MT19937"), "rng"),
    (lambda d: d["experiment"]["rng"]["state"].update(state="x"), "rng"),
    (lambda d: d["experiment"]["spec"].update(in_shape=[8, 8]), "in_shape"),
    (lambda d: d["experiment"]["spec"].update(hidden=[7]), "expected"),
    (lambda d: d["experiment"].update(nets=2), "member experiment/nets/1.pt is missing"),
    (lambda d: d["experiment"]["pending"].update(iteration=2), "inconsistent"),
    (lambda d: d["experiment"].update(iteration=0), "inconsistent"),
    (lambda d: d["experiment"]["pending"].update(size=11), "shape"),
    (lambda d: d["experiment"]["pending"]["arrays"].remove("targets"), "needs originals, targets"),
    (lambda d: d["dataset"]["arrays"].remove("obs_class"), "no observational classes"),
    (lambda d: d["dataset"].update(n=7), "do not match"),
    (lambda d: d["answers"].append({"type": "answer"}), "answer 1"),
    (lambda d: d["answers"][0].update(value=2), "'value'"),
    (lambda d: d.update(settings=[1]), "settings"),
])
def test_bad_session_json(valid_file, tmp_path, edit, message):
    bad = rewrite(valid_file, tmp_path / "bad.vcsession", edit_json=edit)
    with pytest.raises(SessionError, match=message):
        load_session(bad)


def test_nan_in_json_is_refused(valid_file, tmp_path):
    doc = json.loads(members(valid_file)["session.json"])
    text = json.dumps(doc).replace('"causal_levels": [', '"causal_levels": [NaN, ', 1)
    bad = rewrite(valid_file, tmp_path / "bad", replace={"session.json": text.encode()})
    with pytest.raises(SessionError, match="NaN is not allowed"):
        load_session(bad)
    bad = rewrite(valid_file, tmp_path / "bad2", replace={"session.json": b"\xff\xfe{"})
    with pytest.raises(SessionError, match="not valid JSON"):
        load_session(bad)


def _arr(valid_file, name):
    return np.load(io.BytesIO(members(valid_file)[name]), allow_pickle=False)


@pytest.mark.parametrize("member, make, message", [
    ("data/images.npy", lambda a: a[:, :5], "shape"),
    ("data/obs_class.npy", lambda a: a[:-1], "shape"),
    ("data/images.npy", lambda a: np.where(np.arange(a.size).reshape(a.shape) == 7, np.nan, a).astype(np.float32),
     "NaN"),
    ("data/images.npy", lambda a: a * 3, r"\[0, 1\]"),
    ("data/p_obs.npy", lambda a: np.full_like(a, np.inf), "NaN or infinite"),
    ("experiment/pending/distances.npy", lambda a: np.full_like(a, np.nan), "distances"),
    ("experiment/pending/answers.npy", lambda a: np.full(len(a), 0.5), "pending batch answers"),   # listed? no
    ("experiment/batches/0/answers.npy", lambda a: np.full_like(a, 1.5), "answers"),
    ("experiment/batches/0/source_index.npy", lambda a: a + 10_000, "out of range"),
    ("experiment/causal_labels.npy", lambda a: a.astype(np.float64), "dtype"),
    ("experiment/causal_labels.npy", lambda a: a + 5, "causal classes"),
    ("experiment/pending/images.npy", lambda a: a.astype(np.complex64), "dtype"),
    ("experiment/query_labels.npy", lambda a: np.array(["a"] * len(a)), "dtype"),
])
def test_bad_arrays(valid_file, tmp_path, member, make, message):
    content = members(valid_file)
    if member not in content:       # a member that is not listed is ignored: the file stays valid
        rewrite(valid_file, tmp_path / "ok", replace={member: npy(make(np.zeros(10)))})
        assert load_session(tmp_path / "ok").experiment is not None
        return
    bad = rewrite(valid_file, tmp_path / "bad", replace={member: npy(make(_arr(valid_file, member)))})
    with pytest.raises(SessionError, match=message):
        load_session(bad)


def test_npy_header_lying_about_its_size_and_object_arrays(valid_file, tmp_path):
    raw = npy(np.zeros((2, 10, 10), np.float32))
    assert b"(2, 10, 10)" in raw
    lying = raw.replace(b"(2, 10, 10)", b"(9, 10, 10)")
    huge = raw.replace(b"(2, 10, 10)", b"(999999,10)")        # same header length, 40 MB claimed
    for bad_raw, msg in [(lying, "claims shape"), (huge, "claims shape"), (raw[:60], "claims shape|not a valid"),
                         (b"garbage", "not a valid")]:
        bad = rewrite(valid_file, tmp_path / "bad", replace={"experiment/query_images.npy": bad_raw})
        with pytest.raises(SessionError, match=msg):
            load_session(bad)
    objects = npy(np.array([{"a": 1}, None], dtype=object))
    bad = rewrite(valid_file, tmp_path / "obj", replace={"data/labels.npy": objects},
                  edit_json=lambda d: d["dataset"]["arrays"].append("labels"))
    with pytest.raises(SessionError, match="Python objects"):
        load_session(bad)


def test_missing_and_duplicate_members(valid_file, tmp_path):
    for name in ("data/images.npy", "experiment/nets/0.pt", "experiment/pending/images.npy",
                 "experiment/query_labels.npy"):
        bad = rewrite(valid_file, tmp_path / "bad", replace={name: None})
        with pytest.raises(SessionError, match=f"member {name} is missing"):
            load_session(bad)
    content = members(valid_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(tmp_path / "dup", "w") as zf:
            for name, raw in content.items():
                zf.writestr(name, raw)
            zf.writestr("session.json", content["session.json"])
    with pytest.raises(SessionError, match="two members of the same name"):
        load_session(tmp_path / "dup")


def test_damaged_member_fails_its_crc(valid_file, tmp_path):
    with zipfile.ZipFile(tmp_path / "stored", "w", zipfile.ZIP_STORED) as zf:
        for name, raw in members(valid_file).items():
            zf.writestr(name, raw)
    raw = bytearray((tmp_path / "stored").read_bytes())
    start = raw.find(b"\x93NUMPY") + 200             # inside the first array's data
    raw[start] ^= 0xFF
    (tmp_path / "flipped").write_bytes(bytes(raw))
    with pytest.raises(SessionError, match="CRC"):
        load_session(tmp_path / "flipped")


def test_zip_bomb_limits(valid_file, tmp_path):
    bomb = npy(np.zeros((100_000, 10, 10), np.float32))     # 40 MB of zeros, ~40 kB compressed
    bad = rewrite(valid_file, tmp_path / "bomb", replace={"experiment/query_images.npy": bomb})
    assert bad.stat().st_size < 1_000_000
    with pytest.raises(SessionError, match="zip bomb"):
        load_session(bad, limits=SessionLimits(max_member_bytes=4 * 1024**2))
    with pytest.raises(SessionError, match="zip bomb"):
        load_session(valid_file, limits=SessionLimits(max_total_bytes=10_000))
    with pytest.raises(SessionError, match="limit"):
        load_session(valid_file, limits=SessionLimits(max_json_bytes=100))
    with pytest.raises(SessionError, match="limit"):
        load_session(valid_file, limits=SessionLimits(max_file_bytes=100))
    with pytest.raises(SessionError, match="limit"):
        load_session(valid_file, limits=SessionLimits(max_members=3))


# ---------------------------------------------------------------- hostile weights

class Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _torch_bytes(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_a_session_crafted_to_run_code_does_not_run_it(valid_file, tmp_path):
    marker = tmp_path / "pwned"
    # the payload does run when unpickled naively: the test would notice
    pickle.loads(pickle.dumps(Evil(tmp_path / "control")))
    assert (tmp_path / "control").exists()
    payloads = {
        "raw pickle": pickle.dumps(Evil(marker)),
        "torch.save of the object": _torch_bytes(Evil(marker)),
        "inside a state_dict": _torch_bytes({"body.1.weight": Evil(marker)}),
    }
    for what, raw in payloads.items():
        bad = rewrite(valid_file, tmp_path / "evil.vcsession", replace={"experiment/nets/0.pt": raw})
        with pytest.raises(SessionError, match="net 0"):
            load_session(bad)
        assert not marker.exists(), what
    bad = rewrite(valid_file, tmp_path / "evil_npy", replace={"data/images.npy": npy(np.array([Evil(marker)]))})
    with pytest.raises(SessionError, match="Python objects"):
        load_session(bad)
    assert not marker.exists()


@pytest.mark.parametrize("state, message", [
    ({"body.1.weight": 3}, "not a state_dict|shape|not a tensor|do not match"),
    ("a string", "not a state_dict"),
    (None, "not a state_dict"),
])
def test_state_dicts_with_other_objects_are_refused(valid_file, tmp_path, state, message):
    bad = rewrite(valid_file, tmp_path / "bad", replace={"experiment/nets/0.pt": _torch_bytes(state)})
    with pytest.raises(SessionError, match=message):
        load_session(bad)


def test_state_dict_values_are_checked(valid_file, tmp_path):
    good = torch.load(io.BytesIO(members(valid_file)["experiment/nets/0.pt"]), weights_only=True)
    key = next(iter(good))
    cases = {
        "NaN": {**good, key: torch.full_like(good[key], float("nan"))},
        "shape": {**good, key: good[key][:3]},
        "not a tensor": {**good, key: 1.5},
        "do not match": {**good, "extra.weight": torch.zeros(2)},
        "float64": {**good, key: good[key].double()},
    }
    for message, state in cases.items():
        bad = rewrite(valid_file, tmp_path / "bad", replace={"experiment/nets/0.pt": _torch_bytes(state)})
        with pytest.raises(SessionError, match=message):
            load_session(bad)


# ---------------------------------------------------------------- fuzzing

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_truncated_flipped_and_random_bytes(valid_file, tmp_path_factory, data):
    raw = valid_file.read_bytes()
    how = data.draw(st.sampled_from(["truncate", "flip", "random", "splice"]))
    if how == "truncate":
        blob = raw[:data.draw(st.integers(0, len(raw) - 1))]
    elif how == "flip":
        blob = bytearray(raw)
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(raw) - 1))
            blob[i] = data.draw(st.integers(0, 255))
        blob = bytes(blob)
    elif how == "random":
        blob = data.draw(st.binary(max_size=2000))
    else:
        i = data.draw(st.integers(0, len(raw)))
        blob = raw[:i] + data.draw(st.binary(min_size=1, max_size=64)) + raw[i:]
    path = tmp_path_factory.mktemp("fuzz") / "f.vcsession"
    path.write_bytes(blob)
    try:
        session = load_session(path)
    except SessionError as exc:
        assert str(path) in str(exc)
    else:
        assert isinstance(session, SessionData)


# ---------------------------------------------------------------- exports

def test_export_causal_dataset_and_queries_csv(uninterrupted, tmp_path):
    exp = uninterrupted
    arrays = causal_dataset(exp)
    n = len(exp.data)
    answered = sum(int(np.isfinite(b.answers).sum()) for b in exp.batches if b.kind == "algorithm2")
    assert len(arrays["images"]) == n + answered == len(arrays["causal_class"])
    assert np.array_equal(arrays["causal_class"][:n], exp.causal_labels)
    assert np.array_equal(arrays["causal_class"][n:], exp.query_labels)          # what Algorithm 2 trained on
    assert np.array_equal(arrays["images"][n:], exp.query_images)
    assert set(arrays["source"][n:]) == {1} and set(arrays["source"][:n]) == {0}
    path = export_causal_dataset(tmp_path / "causal.npz", exp)
    ds = load_npz(path)
    assert np.array_equal(ds.causal_class, arrays["causal_class"]) and ds.meta["kind"] == "viscause causal data set"
    with np.load(path, allow_pickle=False) as npz:
        assert np.array_equal(npz["source_index"], arrays["source_index"])
    csv_path = export_queries_csv(tmp_path / "q.csv", exp)
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("kind,iteration,index,source_index")
    assert len(lines) == 1 + sum(len(b) for b in exp.batches)
    with pytest.raises(ValueError):
        causal_dataset(Experiment(exp.data, ExperimentConfig(**CFG)))


def test_session_file_is_an_npz_any_reader_can_open(valid_file):
    with np.load(valid_file, allow_pickle=False) as npz:
        assert "data/images" in npz.files and "experiment/pending/images" in npz.files
        assert npz["data/images"].shape == (500, 10, 10)
    doc = json.loads(members(valid_file)["session.json"])
    assert doc["format"] == "viscause-session" and doc["version"] == 1
    assert doc["experiment"]["pending"]["kind"] == "algorithm2" and doc["settings"] == {"blind": True}
    assert isinstance(doc["experiment"]["rng"]["state"]["state"], int)


JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**70),
                        st.floats(allow_nan=False, allow_infinity=False),
                        st.text(max_size=5), st.lists(st.integers(-2, 3), max_size=3), st.just({}))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_member_contents_with_valid_crcs(valid_file, tmp_path_factory, data):
    """Damage inside members (the zip CRCs are right): the checks on content must hold."""
    content = members(valid_file)
    name = data.draw(st.sampled_from(sorted(content)))
    if name == "session.json":
        doc = json.loads(content[name])
        paths = []

        def walk(x, p):
            paths.append(p)
            items = x.items() if isinstance(x, dict) else enumerate(x[:3]) if isinstance(x, list) else ()
            for k, v in items:
                if k != "meta":
                    walk(v, [*p, k])
        walk(doc, [])
        p = data.draw(st.sampled_from(paths[1:]))
        parent = doc
        for k in p[:-1]:
            parent = parent[k]
        parent[p[-1]] = data.draw(JSON_VALUES)
        raw = json.dumps(doc).encode()
    else:
        raw = bytearray(content[name])
        for _ in range(data.draw(st.integers(1, 3))):
            i = data.draw(st.integers(0, min(len(raw), 300) - 1))
            raw[i] = data.draw(st.integers(0, 255))
        raw = bytes(raw[:data.draw(st.integers(1, len(raw)))])
    path = rewrite(valid_file, tmp_path_factory.mktemp("fuzz") / "m.vcsession", replace={name: raw})
    try:
        load_session(path)
    except SessionError as exc:
        assert str(path) in str(exc)


def test_a_save_that_would_not_open_again_is_refused_and_changes_nothing(grating, tmp_path):
    _, data = grating
    path = save_session(tmp_path / "s.vcsession", data)
    before = path.read_bytes()
    odd = Dataset(images=data.images[:20], obs_class=data.obs_class[:20])
    odd.p_obs = np.full(20, 2.0)                     # set behind the validator's back
    with pytest.raises(SessionError, match=r"not saved: the written file would not open again.*p_obs"):
        save_session(path, odd)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["s.vcsession"]
