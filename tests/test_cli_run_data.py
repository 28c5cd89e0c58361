"""`viscause run DATA` with each oracle kind, `viscause answer` and `viscause resume` (docs/formats.md §6):
the first run and a rerun from the data's folder in a fresh process as scripts do, the rest in this
process (tests/cli_runner.py)."""
from __future__ import annotations

import csv
import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from tests.cli_runner import viscause
from viscause_gui.cli import EXIT_NEEDS_ORACLE, EXIT_ORACLE_FAILED
from tests.oracle_models import HBAR_PYTHON, export_hbar, hbar_answer, onnx_hbar
from viscause_gui.core.experiments.grating import GratingModel, has_hbar
from viscause_gui.core.store.offline import write_png

RUN = ("--iterations", 2, "--queries", 6, "--seed", 3)

pytestmark = pytest.mark.slow      # real runs of the CLI, most in a fresh process (the module's fixtures)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A data set with P(T=1|I) only (classes at once), the h-bar oracle as a file, and its run."""
    folder = tmp_path_factory.mktemp("data")
    data = GratingModel().sample(300, 2)
    np.savez_compressed(folder / "p.npz", images=data.images, p_obs=data.p_obs)
    (folder / "hbar.py").write_text(HBAR_PYTHON)
    out = folder / "python_run"
    result = viscause("run", folder / "p.npz", "--oracle", f"python:{folder / 'hbar.py'}:answer", *RUN, "--out", out,
                      process=True)
    return folder, out, result


def iterations(out: Path) -> list[np.lib.npyio.NpzFile]:
    return [np.load(out / f"iteration_{k:02d}.npz") for k in (1, 2)]


def same_run(a: Path, b: Path) -> None:
    for x, y in zip(iterations(a), iterations(b)):
        for key in ("originals", "manipulated", "targets", "answers"):
            assert np.array_equal(x[key], y[key]), key


def test_python_oracle_writes_the_run_folder_and_predict_reads_it(work, tmp_path):
    _folder, out, result = work
    assert "Algorithm 1: 20 representatives" in result.stderr and "iteration 2/2" in result.stderr
    history = json.loads((out / "history.json").read_text())
    assert history["config"]["experiment"] == "data" and history["config"]["finished"] is True
    assert history["config"]["oracle"].startswith("python:") and history["config"]["n_obs_classes"] == 4
    first = iterations(out)[0]
    assert first["manipulated"].shape == (6, 10, 10)
    np.testing.assert_allclose(first["answers"], hbar_answer(first["manipulated"]))
    assert (out / "history.png").stat().st_size > 1000
    fresh = GratingModel().sample(100, 9)
    np.savez_compressed(tmp_path / "fresh.npz", images=fresh.images)
    viscause("predict", "--run", out, "--images", tmp_path / "fresh.npz", "--out", tmp_path / "pred.npz")
    pred = np.load(tmp_path / "pred.npz")
    assert pred["p_causal"].shape == (100,) and set(np.unique(pred["causal_class"])) <= {0, 1}


def test_same_seed_same_run(work, tmp_path):
    folder, out, _ = work
    viscause("run", folder / "p.npz", "--oracle", "python:hbar:answer", *RUN, "--out", tmp_path / "again",
             cwd=folder, process=True)                    # a module importable from the working folder
    same_run(out, tmp_path / "again")


def test_only_samples_of_t_finds_the_observational_classes_first(tmp_path, work):
    folder = work[0]
    data = GratingModel().sample(400, 4)
    np.savez_compressed(tmp_path / "t.npz", images=data.images, t=data.t)
    result = viscause("run", tmp_path / "t.npz", "--oracle", f"python:{folder / 'hbar.py'}:answer",
                      "--iterations", 1, "--queries", 4, "--out", tmp_path / "run")
    assert "finding observational classes from samples of T on 400 images" in result.stderr
    assert (tmp_path / "run" / "iteration_01.npz").exists()


def write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


@pytest.mark.parametrize("kind", ["folder", "idx"])
def test_an_image_folder_or_idx_files_with_labels_as_t(tmp_path, work, kind):
    folder = work[0]
    data = GratingModel().sample(120, 5)
    labels = has_hbar(data.images).astype(np.int64)
    if kind == "folder":
        source = tmp_path / "images"
        for i, (image, label) in enumerate(zip(data.images, labels)):
            (source / str(label)).mkdir(parents=True, exist_ok=True)
            write_png(source / str(label) / f"{i:03d}.png", image)       # dark ink on white: read back as ink 1.0
    else:
        source = tmp_path / "bars-images-idx3-ubyte.gz"
        write_idx(source, data.images * 255, 0x803)
        write_idx(tmp_path / "bars-labels-idx1-ubyte.gz", labels, 0x801)
    result = viscause("run", source, "--t-label", 1, "--oracle", f"python:{folder / 'hbar.py'}:answer",
                      "--iterations", 1, "--queries", 4, "--out", tmp_path / "run")
    assert "from samples of T (T = 1 for label 1) on 120 images" in result.stderr   # the labels are samples
    z = np.load(tmp_path / "run" / "iteration_01.npz")
    np.testing.assert_allclose(z["answers"], hbar_answer(z["manipulated"]))


@pytest.mark.parametrize("kind", ["torch", "onnx"])
def test_model_file_oracles(tmp_path, work, kind):
    folder = work[0]
    if kind == "onnx":
        pytest.importorskip("onnx")
        pytest.importorskip("onnxruntime")
        model = onnx_hbar(tmp_path / "hbar.onnx")
    else:
        model = export_hbar(tmp_path / "hbar.pt2")
    viscause("run", folder / "p.npz", "--oracle", f"{kind}:{model}", "--positive-class", 1, *RUN,
             "--out", tmp_path / "run")
    z = np.load(tmp_path / "run" / "iteration_02.npz")
    assert np.array_equal(z["answers"] > 0.5, hbar_answer(z["manipulated"]) > 0.5)


def fill(csv_path: Path, out: Path) -> Path:
    """Answer an offline batch as the h-bar function would, from the batch's images.npz."""
    images = np.load(csv_path.parent / "images.npz")["images"]
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    with open(out, "w", newline="") as f:
        csv.writer(f).writerows([rows[0], *([*r[:4], repr(float(v))] for r, v in zip(rows[1:], hbar_answer(images)))])
    return out


def waiting_csv(stderr: str) -> Path:
    return Path(stderr.strip().split("viscause answer ")[-1].split()[-1])


def test_offline_round_trip_stopped_and_resumed_is_the_same_run(work, tmp_path):
    folder, reference, _ = work
    out = tmp_path / "run"
    result = viscause("run", folder / "p.npz", "--oracle", "offline", *RUN, "--out", out)
    assert f"Fill in the 'answer' column of {out}/offline/algorithm1/answers.csv" in result.stderr
    assert not (out / "model.pt").exists()
    batch = out / "offline" / "algorithm1"
    assert len(list(batch.glob("*.png"))) == 20 and (batch / "images.npz").exists()
    first = fill(waiting_csv(result.stderr), tmp_path / "a1.csv")
    for step in range(3):                     # Algorithm 1, iteration 1, iteration 2: each a new `viscause answer`
        answers = first if step == 0 else fill(waiting_csv(result.stderr), tmp_path / f"a{step + 2}.csv")
        result = viscause("answer", out, answers)
    assert "done in" in result.stderr
    same_run(reference, out)
    again = viscause("answer", out, first, check=False)
    assert again.returncode == 2 and again.stderr.count("\n") == 1
    assert "the run is finished; it waits for no answers" in again.stderr


def test_offline_answer_files_that_are_refused(work, tmp_path):
    folder = work[0]
    out = tmp_path / "run"
    result = viscause("run", folder / "p.npz", "--oracle", "offline", *RUN, "--out", out)
    first = fill(waiting_csv(result.stderr), tmp_path / "a1.csv")
    viscause("answer", out, first)
    second = viscause("answer", out, first, check=False)
    assert second.returncode == 2 and second.stderr.count("\n") == 1
    assert "the answers for algorithm1 were already given; the run waits for the answers to iteration_01" in \
        second.stderr
    blank = out / "offline" / "iteration_01" / "answers.csv"
    missing = viscause("answer", out, blank, check=False)
    assert missing.returncode == 2 and "image 0 has no answer" in missing.stderr and "Traceback" not in missing.stderr


FLAKY = '''from pathlib import Path
import time
import numpy as np


def answer(images):
    here = Path(__file__).parent
    if len(images) == 6 and (here / "broken").exists():
        return np.zeros(3)
    if (here / "slow").exists():
        time.sleep(30)
    return 0.25 + 0.6 * np.any(np.all(images >= 0.5, axis=-1), axis=-1)
'''


def test_a_failing_oracle_saves_the_run_and_resume_finishes_it(work, tmp_path):
    folder, reference, _ = work
    (tmp_path / "flaky.py").write_text(FLAKY)
    (tmp_path / "broken").write_text("")
    out = tmp_path / "run"
    spec = f"python:{tmp_path / 'flaky.py'}:answer"
    failed = viscause("run", folder / "p.npz", "--oracle", spec, *RUN, "--out", out, check=False)
    assert failed.returncode == EXIT_ORACLE_FAILED
    line = failed.stderr.strip().splitlines()[-1]
    assert line.startswith(f"viscause run: error: oracle {spec} returned shape (3,)")
    assert line.endswith(f"the run is saved with every answer so far: fix the oracle, then viscause resume {out} "
                         f"--oracle {spec}")
    history = json.loads((out / "history.json").read_text())
    assert history["config"]["finished"] is False and (out / "run.vcsession").exists()
    (tmp_path / "broken").unlink()
    (tmp_path / "slow").write_text("")
    hung = viscause("resume", out, "--oracle", spec, "--oracle-timeout", 0.5, check=False)
    assert hung.returncode == EXIT_ORACLE_FAILED and "gave no answer within 0.5 s for 6 images" in hung.stderr
    (tmp_path / "slow").unlink()
    unnamed = viscause("resume", out, check=False)            # the run's oracle is named again, never taken from it
    assert unnamed.returncode == EXIT_NEEDS_ORACLE and unnamed.stderr.count("\n") == 1
    assert unnamed.stderr.strip().endswith(f"viscause resume {out} --oracle {spec} --oracle-timeout 0.5")
    viscause("resume", out, "--oracle", spec)
    same_run(reference, out)


def test_bad_data_run_arguments_are_one_line(work, tmp_path):
    folder = work[0]
    cases = [
        (("run", folder / "p.npz", "--out", tmp_path / "a"), "needs --oracle: offline, python:MODULE:FUNCTION"),
        (("run", folder / "p.npz", "--oracle", "truth", "--out", tmp_path / "a"), "a data set takes --oracle offline"),
        (("run", folder / "none.npz", "--oracle", "offline", "--out", tmp_path / "a"),
         "none.npz: no experiment of that name"),
        (("run", folder / "p.npz", "--oracle", "offline", "--digit", 3, "--out", tmp_path / "a"),
         "--digit: only for run mnist, not run"),
        (("run", "grating", "--positive-class", 2, "--out", tmp_path / "a"), "--positive-class: only for run DATA"),
        (("run", folder / "p.npz", "--oracle", f"python:{folder / 'hbar.py'}:nope", "--out", tmp_path / "a"),
         "has no 'nope' (it defines: answer)"),
        (("answer", tmp_path / "nothing", folder / "hbar.py"), "no run.vcsession"),
    ]
    for args, words in cases:
        result = viscause(*args, check=False)
        assert result.returncode == 2, (args, result.stderr)
        assert words in result.stderr and result.stderr.count("\n") == 1, (args, result.stderr)
    assert not (tmp_path / "a").exists()        # refused before the folder was made


COLOUR = '''import numpy as np


def answer(images):
    return np.where(images[..., 0].mean(axis=(1, 2)) > images[..., 1].mean(axis=(1, 2)), 0.8, 0.2)
'''


def test_colour_images_go_to_the_oracle_and_the_pngs_as_they_are(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    x = rng.random((300, 8, 8, 3)).astype(np.float32) * 0.5
    x[:150, ..., 0] += 0.4
    x[150:, ..., 1] += 0.4
    p = np.where(x[..., 0].mean((1, 2)) > x[..., 1].mean((1, 2)), 0.8, 0.2)
    np.savez_compressed(tmp_path / "c.npz", images=x, p_obs=p)
    (tmp_path / "colour.py").write_text(COLOUR)
    viscause("run", tmp_path / "c.npz", "--oracle", f"python:{tmp_path / 'colour.py'}:answer", "--iterations", 1,
             "--queries", 6, "--out", tmp_path / "run")
    z = np.load(tmp_path / "run" / "iteration_01.npz")
    assert z["manipulated"].shape == (6, 8, 8, 3)
    np.savez_compressed(tmp_path / "fresh.npz", images=x[:5])
    pred = json.loads(viscause("predict", "--run", tmp_path / "run", "--images", tmp_path / "fresh.npz").stdout)
    assert len(pred["p_causal"]) == 5
    viscause("run", tmp_path / "c.npz", "--oracle", "offline", "--out", tmp_path / "offline")
    batch = tmp_path / "offline" / "offline" / "algorithm1"
    shown = np.asarray(Image.open(batch / "0000.png"))
    images = np.load(batch / "images.npz")["images"]
    assert shown.shape == (8, 8, 3) and np.array_equal(shown, np.round(255 * images[0]).astype(np.uint8))


GREY_ORACLE = '''import numpy as np

def answer(images):
    assert images.ndim == 3, images.shape           # --grey: the oracle gets grey images
    return np.where(images[:, :4].mean(axis=(1, 2)) > images[:, 4:].mean(axis=(1, 2)), 0.8, 0.2)
'''


def test_grey_asked_turns_colour_data_grey(tmp_path):
    rng = np.random.default_rng(1)
    x = (rng.random((200, 8, 8, 3)) * 0.3).astype(np.float32)
    x[:100, :4] += 0.6
    p = np.where(np.arange(200) < 100, 0.8, 0.2)
    np.savez_compressed(tmp_path / "c.npz", images=x, p_obs=p)
    (tmp_path / "grey.py").write_text(GREY_ORACLE)
    viscause("run", tmp_path / "c.npz", "--grey", "--oracle", f"python:{tmp_path / 'grey.py'}:answer",
             "--iterations", 1, "--queries", 6, "--out", tmp_path / "run")
    assert np.load(tmp_path / "run" / "iteration_01.npz")["manipulated"].shape == (6, 8, 8)
    assert json.loads((tmp_path / "run" / "model.json").read_text())["image_shape"] == [8, 8]


# ---------------------------------------------------------------- the recipe chosen from the data (issue 22)

BLOB_ORACLE = '''import numpy as np


def answer(images):
    """P(T=1 | do(image)): 0.8 with a bright blob in the middle, 0.2 without."""
    return np.where(images[:, 6:10, 6:10].mean(axis=(1, 2)) > 0.5, 0.8, 0.2)
'''


@pytest.fixture(scope="module")
def grey_work(tmp_path_factory):
    """60 grey 16x16 images (a blob or none, on a faint gradient) with P(T=1|I), a python oracle file, and
    a run with defaults only, in a fresh process as a script runs it."""
    folder = tmp_path_factory.mktemp("grey")
    rng = np.random.default_rng(0)
    blob = rng.random(60) < 0.5
    images = np.tile(np.linspace(0.0, 0.3, 16, dtype=np.float32), (60, 16, 1)) + rng.random((60, 16, 16)) * 0.05
    images[blob, 6:10, 6:10] = 0.9
    np.savez_compressed(folder / "g.npz", images=images.astype(np.float32), p_obs=np.where(blob, 0.8, 0.2))
    (folder / "blob.py").write_text(BLOB_ORACLE)
    out = folder / "run"
    result = viscause("run", folder / "g.npz", "--oracle", f"python:{folder / 'blob.py'}:answer", "--iterations", 1,
                      "--queries", 4, "--out", out, process=True)
    return folder, out, result


def test_the_recipe_is_chosen_from_the_data_printed_and_stored(grey_work):
    from viscause_gui.core.method.recipe import DataRecipe
    from viscause_gui.core.store.data_run import load_data_run
    _folder, out, result = grey_work
    lines = result.stderr.splitlines()
    start = lines.index("recipe for 60 16x16 grey images (chosen from the data; change it with --net, --hidden, "
                        "--ensemble, --manipulator, --observe, --invariant):")
    assert start < next(i for i, line in enumerate(lines) if line.startswith("Algorithm 1"))   # said first
    assert lines[start + 1].startswith("  causal net: CNN 2 conv blocks (16, 32) + 64 hidden, ensemble of 2: "
                                       "16x16 grey images have spatial extent")
    assert lines[start + 3].startswith("  search: patches of real images")
    assert lines[start + 4].startswith("  invariances: none (declare with --invariant)")
    assert "torch threads: 1 (the same seed gives the same result on every machine)" in lines   # small nets: no hint
    config = json.loads((out / "history.json").read_text())["config"]
    assert config["net"]["arch"] == "cnn" and config["ensemble"] == 2 and config["manipulator"] == "patches"
    assert config["augment_shifts"] == 0 and config["augment_flips"] is False and config["augment_jitter"] == 0
    recipe = DataRecipe.from_json(config["recipe"])
    assert recipe.config_fields()["net"] == config["net"] and recipe.epochs == config["epochs"]
    experiment, settings = load_data_run(out)                     # the session keeps the same recipe
    assert settings.recipe == config["recipe"] and experiment.config.net == config["net"]
    assert json.loads((out / "model.json").read_text())["spec"]["arch"] == "cnn"


def test_each_choice_of_the_recipe_can_be_overridden(grey_work, tmp_path):
    folder = grey_work[0]
    result = viscause("run", folder / "g.npz", "--oracle", f"python:{folder / 'blob.py'}:answer", "--iterations", 1,
                      "--queries", 4, "--net", "mlp", "--hidden", "50,20", "--ensemble", 1, "--manipulator", "pixels",
                      "--invariant", "flips", "--invariant", "shifts", "--out", tmp_path / "run")
    assert "  causal net: MLP, hidden layers of 50, 20, ensemble of 1 (your choice)" in result.stderr
    assert "  search: pixels (your choice)" in result.stderr
    assert "  invariances: flips, shifts (your choice)" in result.stderr
    config = json.loads((tmp_path / "run" / "history.json").read_text())["config"]
    assert config["net"] == {"arch": "mlp", "hidden": [50, 20]} and config["ensemble"] == 1
    assert config["manipulator"] == "pixels" and config["augment_flips"] is True
    assert config["augment_shifts"] == 10 and config["shift_mode"] == "translate"


@pytest.mark.parametrize("args, says", [
    (("grating", "--net", "cnn"), "--net: only for run DATA, not run grating"),
    (("grating", "--invariant", "flips"), "--invariant: only for run DATA"),
    (("DATA", "--invariant", "shifts", "--invariant", "cyclic-shifts"), "'shifts' and 'cyclic-shifts' together"),
    (("DATA", "--invariant", "none", "--invariant", "flips"), "invariance 'none' with flips: choose one"),
])
def test_recipe_options_that_are_refused_in_one_line(grey_work, tmp_path, args, says):
    folder = grey_work[0]
    target = [str(folder / "g.npz") if a == "DATA" else a for a in args]
    result = viscause("run", *target, "--oracle", "offline" if args[0] == "DATA" else "truth", "--out", tmp_path / "r",
                      check=False)
    assert result.returncode == 2 and says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r" / "history.json").exists()


def _rewrite_session(path: Path, change) -> None:
    import zipfile
    with zipfile.ZipFile(path) as zf:
        content = {i.filename: zf.read(i) for i in zf.infolist()}
    doc = json.loads(content["session.json"])
    change(doc)
    content["session.json"] = json.dumps(doc).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, raw in content.items():
            zf.writestr(name, raw)


def test_a_run_folder_made_before_recipes_goes_on_with_its_old_meaning(grey_work, tmp_path):
    """No 'recipe' in its settings, none of the new config keys, GRATING's defaults as the old CLI wrote
    them: it resumes with cyclic shifts and says no recipe."""
    folder = grey_work[0]
    out = tmp_path / "old"
    viscause("run", folder / "g.npz", "--oracle", "offline", "--iterations", 1, "--queries", 4, "--out", out)

    def as_before_recipes(doc):
        del doc["settings"]["data_run"]["recipe"]
        config = doc["experiment"]["config"]
        for key in ("shift_mode", "augment_flips", "generative_widths"):
            del config[key]
        config.update(net={"arch": "mlp", "hidden": [100]}, ensemble=1, augment_shifts=10, manipulator="pixels")

    _rewrite_session(out / "run.vcsession", as_before_recipes)
    result = viscause("resume", out, "--oracle", f"python:{folder / 'blob.py'}:answer")
    assert "recipe" not in result.stderr and "iteration 1/1" in result.stderr
    config = json.loads((out / "history.json").read_text())["config"]
    assert config["recipe"] is None and config["shift_mode"] == "cyclic" and config["augment_shifts"] == 10
    assert config["augment_flips"] is False and config["net"] == {"arch": "mlp", "hidden": [100]}
