"""The `viscause` CLI as scripts use it (the contract in docs/formats.md): a GRATING run and an
interrupted run in a fresh process, the refusals and the rest in this one (tests/cli_runner.py)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli_runner import viscause
from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.experiments.mnist import ANNOTATORS, REFERENCE_EPOCHS
from viscause_gui.core.experiments.mnist_experiment import MnistExperiment

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


@pytest.fixture(scope="module")
def grating_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = viscause("run", "grating", "--iterations", 2, "--queries", 20, "--oracle", "truth",
                      "--seed", 1, "--n-obs", 1500, "--alpha", 0.5, "--out", out, process=True)
    return out, result


@pytest.mark.slow
def test_run_grating_writes_the_contract_files(grating_run):
    out, result = grating_run
    assert "iteration 2/2" in result.stderr          # progress on stderr
    history = json.loads((out / "history.json").read_text())
    assert history["config"]["seed"] == 1 and history["config"]["alpha"] == 0.5
    assert [it["iteration"] for it in history["iterations"]] == [1, 2]
    assert set(history["iterations"][0]) >= {"iteration", "merr", "mdist", "n_train", "seconds"}
    z = np.load(out / "iteration_01.npz")
    assert z["originals"].shape == z["manipulated"].shape == (20, 10, 10)
    assert z["manipulated"].dtype == np.float32
    assert z["targets"].shape == z["answers"].shape == (20,)
    assert (out / "model.pt").exists() and json.loads((out / "model.json").read_text())["spec"]["arch"] == "mlp"
    assert (out / "history.png").stat().st_size > 1000


@pytest.mark.slow
def test_grating_keeps_its_own_recipe_not_the_data_recipe(grating_run):
    """A built-in declares its recipe (issue 22): GRATING's MLP, one net, pixel flips, cyclic shifts."""
    out, result = grating_run
    config = json.loads((out / "history.json").read_text())["config"]
    assert config["net"] == {"arch": "mlp", "hidden": [100]} and config["ensemble"] == 1
    assert config["augment_shifts"] == 10 and config["shift_mode"] == "cyclic" and config["augment_flips"] is False
    assert config["manipulator"] == "pixels" and config["recipe"] == "default" and "recipe for" not in result.stderr


@pytest.mark.slow
def test_run_is_reproducible(grating_run, tmp_path):
    out, _ = grating_run
    viscause("run", "grating", "--iterations", 2, "--queries", 20, "--seed", 1, "--n-obs", 1500, "--out", tmp_path)
    a, b = np.load(out / "iteration_02.npz"), np.load(tmp_path / "iteration_02.npz")
    assert np.array_equal(a["manipulated"], b["manipulated"])


@pytest.mark.slow
def test_binary_images_keep_the_exact_flips_whatever_manipulator_is_asked(grating_run, tmp_path):
    out, _ = grating_run
    viscause("run", "grating", "--iterations", 2, "--queries", 20, "--seed", 1, "--n-obs", 1500,
             "--manipulator", "manifold", "--out", tmp_path)
    a, b = np.load(out / "iteration_02.npz"), np.load(tmp_path / "iteration_02.npz")
    assert np.array_equal(a["manipulated"], b["manipulated"])
    assert set(np.unique(b["manipulated"])) <= {0.0, 1.0}
    assert not (tmp_path / "generative.pt").exists()
    bad = viscause("run", "grating", "--manipulator", "latent", "--out", tmp_path / "x", check=False)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_predict(grating_run, tmp_path):
    out, _ = grating_run
    data = GratingModel().sample(300, 5)
    data.save_npz(tmp_path / "fresh.npz")
    viscause("predict", "--run", out, "--images", tmp_path / "fresh.npz", "--out", tmp_path / "pred.npz")
    pred = np.load(tmp_path / "pred.npz")
    assert pred["p_causal"].shape == (300,)
    assert (pred["causal_class"] == data.causal_class).mean() > 0.95
    np.testing.assert_allclose(pred["p_causal"][data.causal_class == 1].mean(), 0.85, atol=0.05)


@pytest.mark.slow
def test_observe(tmp_path):
    # 4,000 images: AMI 0.94-1.0 over data seeds 2-7 (at 3,000, about one seed in eight scored 0.88)
    data = GratingModel().sample(4000, 2)
    np.savez(tmp_path / "obs.npz", images=data.images, t=data.t)
    result = viscause("observe", tmp_path / "obs.npz", "--out", tmp_path / "classes.npz", "--seed", 0)
    z = np.load(tmp_path / "classes.npz")
    assert z["p_obs"].shape == z["obs_class"].shape == (4000,)
    from sklearn.metrics import adjusted_mutual_info_score
    assert adjusted_mutual_info_score(data.obs_class, z["obs_class"]) > 0.9
    assert json.loads(result.stdout)["n_classes"] >= 3


@pytest.mark.parametrize("name,relation", [
    ("cct_equal.json", "equal"),
    ("cct_causal_coarsens.json", "causal_coarsens_observational"),
    ("cct_observational_coarsens.json", "observational_coarsens_causal"),
    ("cct_incompatible.json", "incompatible"),
])
def test_cct_on_shipped_models(name, relation):
    result = json.loads(viscause("cct", SAMPLE / name).stdout)
    assert result["relation"] == relation
    assert set(result) >= {"observational_partition", "causal_partition", "p_obs", "p_causal", "relation"}


def test_cct_over_three_outcomes(tmp_path):
    model = {"p_h": [0.5, 0.5], "p_i_given_h": [[0.8, 0.2], [0.2, 0.8]],
             "p_t_given_h_i": [[[0.8, 0.1, 0.1], [0.5, 0.4, 0.1]], [[0.6, 0.2, 0.2], [0.3, 0.5, 0.2]]],
             "outcomes": ["left", "up", "right"]}
    (tmp_path / "robot.json").write_text(json.dumps(model))
    result = json.loads(viscause("cct", tmp_path / "robot.json").stdout)
    assert result["outcomes"] == ["left", "up", "right"] and len(result["p_causal"][1]) == 3
    assert result["relation"] == "equal"


@pytest.mark.parametrize("args,needle", [
    (["run", "grating", "--iterations", "0", "--out", "x"], "positive"),
    (["run", "grating", "--alpha", "2", "--out", "x"], "[0, 1]"),
    (["run", "mnist", "--out", "x"], "needs --digit"),
    # an experiment's own options, declared as data (registry.RunOption), typed and checked by the CLI
    (["run", "mnist", "--digit", "12", "--out", "x"], "argument --digit: must be a digit 0..9, got 12"),
    (["run", "mnist", "--digit", "x", "--out", "x"], "argument --digit: invalid int value: 'x'"),
    (["run", "colored_mnist", "--representatives", "0", "--out", "x"], "must be a positive integer, got 0"),
    (["run", "grating", "--recipe", "nope", "--out", "x"], "argument --recipe: invalid choice: 'nope'"),
    (["run", "colored_mnist", "--n-obs", "3", "--out", "x"], "--n-obs: only for run grating, not run colored_mnist"),
    (["run", "bogus", "--out", "x"], "bogus: no experiment of that name"),
    (["predict", "--run", "/nonexistent", "--images", "/nonexistent.npz"], "not a run folder"),
    (["cct", "/nonexistent.json"], "no such file"),
    (["observe", "/nonexistent.npz", "--out", "o.npz"], "nonexistent"),
])
def test_bad_arguments_give_one_line_and_nonzero_exit(args, needle):
    result = viscause(*args, check=False)
    assert result.returncode != 0
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert needle in lines[-1]
    assert "Traceback" not in result.stderr


def test_an_experiment_gets_its_declared_options_typed_with_their_defaults(monkeypatch, tmp_path):
    """The CLI parses; the experiment's run gets plain values: those given, the declared defaults for the rest."""
    requests = []
    monkeypatch.setattr(MnistExperiment, "run", lambda self, request, out, progress: requests.append(request))
    viscause("run", "mnist", "--digit", "3", "--epochs", "4", "--queries-by", "active", "--seed", "7",
             "--out", tmp_path / "r")
    (request,) = requests
    assert dict(request.options) == {"digit": 3, "outcomes": "two", "annotators": ANNOTATORS,
                                     "oracle_epochs": REFERENCE_EPOCHS, "epochs": 4, "generative_epochs": None}
    assert (request.oracle, request.iterations, request.queries, request.seed, request.alpha) == ("model", 20, 100,
                                                                                                 7, 0.5)
    assert (request.manipulator, request.queries_by) == (None, "active")


def test_bad_files(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    r = viscause("cct", tmp_path / "broken.json", check=False)
    assert r.returncode != 0 and "not valid JSON" in r.stderr
    np.savez(tmp_path / "no_t.npz", images=np.zeros((4, 5, 5), np.float32))
    r = viscause("observe", tmp_path / "no_t.npz", "--out", tmp_path / "o.npz", check=False)
    assert r.returncode != 0 and "'t'" in r.stderr
    (tmp_path / "junk.npz").write_bytes(b"garbage")
    r = viscause("observe", tmp_path / "junk.npz", "--out", tmp_path / "o.npz", check=False)
    assert r.returncode != 0 and "Traceback" not in r.stderr


# ---------------------------------------------------------------- nothing lost, one line for every failure

def _one_line_error(result, needle: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert needle in lines[-1] and "Traceback" not in result.stderr


@pytest.mark.slow
def test_outputs_never_replace_their_input_and_get_their_folder(grating_run, tmp_path):
    data = GratingModel().sample(300, 0)
    path = tmp_path / "d.npz"
    np.savez(path, images=data.images, t=data.t)
    before = path.read_bytes()
    for out in (path, tmp_path / "d"):                       # numpy would add .npz to the second
        _one_line_error(viscause("observe", path, "--out", out, check=False), "is the input file")
        _one_line_error(viscause("predict", "--run", grating_run[0], "--images", path, "--out", out, check=False),
                        "is the input file")
    assert path.read_bytes() == before
    viscause("predict", "--run", grating_run[0], "--images", path, "--out", tmp_path / "new" / "deeper" / "p.npz")
    assert set(np.load(tmp_path / "new" / "deeper" / "p.npz").files) == {"p_causal", "causal_class"}


@pytest.mark.parametrize("content, needle", [
    (None, "is a folder"),
    ("[" * 100_000, "nested too deeply"),
    ('{"p_h": ["0.5", "0.5"], "p_i_given_h": [[1, 0], [0, 1]], "p_t1_given_h_i": [[0.1, 0.2], [0.3, 0.4]]}',
     "no strings"),
    ('{"p_h": [true, false], "p_i_given_h": [[1, 0], [0, 1]], "p_t1_given_h_i": [[0.1, 0.2], [0.3, 0.4]]}',
     "no strings"),
])
def test_cct_bad_models_give_one_line(tmp_path, content, needle):
    path = tmp_path if content is None else tmp_path / "m.json"
    if content is not None:
        path.write_text(content)
    _one_line_error(viscause("cct", path, check=False), needle)


@pytest.mark.parametrize("tol", ["nan", "-1", "inf"])
def test_cct_refuses_a_tolerance_that_is_no_tolerance(tol):
    result = viscause("cct", SAMPLE / "cct_incompatible.json", "--tol", tol, check=False)
    assert result.returncode == 2 and "finite number >= 0" in result.stderr


def test_an_experiment_error_is_one_line(tmp_path):
    _one_line_error(viscause("run", "grating", "--n-obs", 5, "--iterations", 1, "--out", tmp_path / "r",
                             check=False), "error:")


@pytest.mark.slow
def test_an_interrupted_run_leaves_a_usable_folder_and_a_rerun_replaces_it(tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    # Ctrl+C as in a terminal: the child must not inherit an ignored SIGINT from the test process
    # (another test's library may have set it; Python then installs no KeyboardInterrupt handler)
    child = subprocess.Popen([sys.executable, "-m", "viscause_gui.cli", "run", "grating", "--iterations", "300",
                              "--queries", "20", "--n-obs", "1500", "--out", str(out)],
                             stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = ""
    deadline = time.monotonic() + 240
    while "iteration 3/300" not in seen and time.monotonic() < deadline:     # 300: never done before the signal
        seen += child.stderr.readline()
    child.send_signal(signal.SIGINT)
    rest = child.communicate(timeout=60)[1]
    assert child.returncode == 130 and "interrupted" in rest
    history = json.loads((out / "history.json").read_text())
    done = [r["iteration"] for r in history["iterations"]]
    assert len(done) >= 3 and history["config"]["finished"] is False
    assert sorted(p.name for p in out.glob("iteration_*.npz"))[-1] == f"iteration_{done[-1]:02d}.npz"
    images = tmp_path / "fresh.npz"
    np.savez(images, images=GratingModel().sample(10, 5).images)
    assert len(json.loads(viscause("predict", "--run", out, "--images", images).stdout)["p_causal"]) == 10
    viscause("run", "grating", "--iterations", 2, "--queries", 20, "--n-obs", 1500, "--out", out)
    assert sorted(p.name for p in out.glob("iteration_*.npz")) == ["iteration_01.npz", "iteration_02.npz"]
    assert json.loads((out / "history.json").read_text())["config"]["finished"] is True


def test_a_run_folder_that_cannot_be_written_is_refused_before_any_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = viscause("run", "grating", "--out", blocker / "run", check=False)
    _one_line_error(result, "cannot write there")
    assert "Algorithm 1" not in result.stderr


# ---------------------------------------------------------------- observe: refused up front when it cannot fit

def _claimed_npz(path: Path, n: int, shape=(10, 10)) -> Path:
    """An .npz whose 'images' header claims n images of `shape` (uint8) but holds almost nothing:
    what matters is that observe refuses before reading or allocating any of it."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (n, *shape)})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("images.npy", header.getvalue() + bytes(100))
        t = io.BytesIO()
        np.save(t, np.zeros(4, np.int64))
        zf.writestr("t.npy", t.getvalue())
    return path


def test_observe_refuses_what_its_nets_could_not_hold_before_reading(tmp_path, monkeypatch, capsys):
    from viscause_gui import cli
    from viscause_gui.core.system import memory

    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 24 * memory.GiB)   # the machine
    monkeypatch.setattr(cli, "load_npz", lambda *a, **k: pytest.fail("read the data before refusing"))
    path = _claimed_npz(tmp_path / "huge.npz", 18_000_000)
    assert cli.main(["observe", str(path), "--out", str(tmp_path / "o.npz")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "18,000,000 images of 10x10" in lines[0] and "GiB" in lines[0], lines
    assert "needs about" in lines[0] and not (tmp_path / "o.npz").exists()


def test_observe_refuses_a_huge_claimed_data_set_in_one_line(tmp_path):
    path = _claimed_npz(tmp_path / "huge.npz", 1_800_000_000)
    result = viscause("observe", path, "--out", tmp_path / "o.npz", check=False)
    _one_line_error(result, "needs about")
    assert not (tmp_path / "o.npz").exists()


# ---------------------------------------------------------------- cct: any file gives a result or one line

CCT_VALID = json.loads((SAMPLE / "cct_incompatible.json").read_text())
HOSTILE_JSON = [None, True, "0.5", {}, [], [[]], float("nan"), float("inf"), -0.5, 2, 10**400, "1e400",
                [0.5] * 20_000, [[1.0] * 20_000], "[" * 5000 + "]" * 5000, "[" * 200 + "0.5" + "]" * 200]


def _cct_text(data) -> str:
    """A hostile CCT model file: random bytes, a truncated model, or a model with one value swapped."""
    good = json.dumps(CCT_VALID)
    how = data.draw(st.sampled_from(["bytes", "truncate", "swap", "swap", "nest"]))
    if how == "bytes":
        return data.draw(st.binary(max_size=400)).decode("latin-1")
    if how == "truncate":
        return good[:data.draw(st.integers(0, len(good) - 1))]
    if how == "nest":
        depth = data.draw(st.integers(1, 100_000))
        return '{"p_h": ' + "[" * depth + "]" * depth + ', "p_i_given_h": [[1]], "p_t1_given_h_i": [[1]]}'
    spec = json.loads(good)
    key = data.draw(st.sampled_from([*sorted(spec), "_comment", "extra"]))
    value = data.draw(st.sampled_from(HOSTILE_JSON))
    text_value = value if isinstance(value, str) and value[:1] in "[1" else json.dumps(value)
    if key in spec and isinstance(spec[key], list) and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(spec[key]) - 1))
        spec[key][i] = "@@"
    else:
        spec[key] = "@@"
    return json.dumps(spec).replace('"@@"', text_value)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_cct_model_files_give_a_result_or_one_line(tmp_path, capsys, data):
    from viscause_gui import cli

    path = tmp_path / "m.json"
    path.write_bytes(_cct_text(data).encode("utf-8", "surrogatepass"))
    rc = cli.main(["cct", str(path)])
    captured = capsys.readouterr()
    if rc == 0:
        assert json.loads(captured.out)["relation"]
        return
    lines = captured.err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, captured.err
    assert lines[0].startswith("viscause cct: error: ") and str(path) in lines[0], lines[0]
