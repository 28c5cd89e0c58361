"""Plugged oracles (core.method.plugged_oracles) and the offline oracle's files (core.store.offline)."""
from __future__ import annotations

import re
import sys
import time

import numpy as np
import pytest
import torch

from tests.oracle_models import HBAR_PYTHON, export_hbar, hbar_answer, onnx_hbar, script_hbar
from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.method.experiment import QueryBatch
from viscause_gui.core.method.plugged_oracles import (BadAnswers, OracleFailure, OracleLoadError, check_answers,
                                                      load_in_process, load_plugged_oracle)
from viscause_gui.core.store.offline import (AnswerFileError, png_pixels, read_answers, write_offline_batch)

IMAGES = GratingModel().sample(40, 1).images


FUNCTIONS = '''import time
from pathlib import Path
import numpy as np

Path(__file__).with_name("imports.txt").open("a").write("x")        # one line per import of this module


def half_nan(x):
    return np.where(np.arange(len(x)) % 2, np.nan, 0.5)


def column(x):
    import torch
    return torch.full((len(x), 1), 0.25)


def divide(x):
    return 1 / 0


def short(x):
    return np.zeros(3)


def wide(x):
    return np.zeros((len(x), 2))


def big(x):
    return np.full(len(x), 1.5)


def infinite(x):
    return np.full(len(x), np.inf)


def words(x):
    return ["yes"] * len(x)


def complex_numbers(x):
    return np.full(len(x), 0.5 + 0j)


def nothing_known(x):
    return np.full(len(x), np.nan)


def numbers_as_text(x):
    return ["0.5"] * len(x)


def multiline(x):
    raise ValueError("first line\\nsecond line\\x1b[31m red")


def sleeps(x):
    if Path(__file__).with_name("slow").exists():
        time.sleep(30)
    return np.full(len(x), 0.5)


def scribble(x):
    x[:] = 0.0
    print("this goes to stderr, not into the answers")
    return np.zeros(len(x))
'''


@pytest.fixture(scope="module")
def functions(tmp_path_factory):
    folder = tmp_path_factory.mktemp("functions")
    (folder / "functions.py").write_text(FUNCTIONS)
    return folder


def checked(folder, name, timeout=30.0):
    return load_plugged_oracle(f"python:{folder / 'functions.py'}:{name}", timeout=timeout)


# ---------------------------------------------------------------- the checks every plugged oracle gets

@pytest.mark.slow
def test_good_answers_pass_and_nan_means_cannot_say(functions):
    with checked(functions, "half_nan") as oracle:
        answers = oracle.answer(IMAGES)
    assert answers.dtype == np.float64 and answers.shape == (40,)
    assert np.isnan(answers[1::2]).all() and (answers[::2] == 0.5).all()
    with checked(functions, "column") as oracle:                    # (N, 1) tensors are fine
        assert (oracle.answer(IMAGES) == 0.25).all()


@pytest.mark.parametrize("function, words", [
    ("divide", "raised ZeroDivisionError: division by zero"),
    ("short", "returned shape (3,) for 40 images; expected (40,)"),
    ("wide", "returned shape (40, 2)"),
    ("big", "returned 1.5, outside [0, 1]"),
    ("infinite", "returned an infinite value"),
    ("words", "returned list of text, not numbers"),
    ("complex_numbers", "returned complex numbers"),
    ("nothing_known", "answered NaN ('cannot say') for all 40 images"),
    ("numbers_as_text", "returned list of text, not numbers"),
    ("multiline", "raised ValueError: first line second line?[31m red"),
])
def test_a_bad_oracle_gives_one_message_naming_it(functions, function, words):
    with checked(functions, function) as oracle, pytest.raises(OracleFailure) as err:
        oracle.answer(IMAGES)
    message = str(err.value)
    assert message.startswith(f"oracle python:{functions / 'functions.py'}:{function} "), message
    assert words in message and "\n" not in message and "\x1b" not in message


def test_check_answers_takes_numbers_only():
    assert check_answers([True, False], 2).tolist() == [1.0, 0.0]
    assert check_answers(np.array([0.5, np.nan], dtype=object), 2)[0] == 0.5
    for raw in (np.array(["0.5", "0.5"]), np.array([0.5, "x"], dtype=object), np.array([0.5j, 0.5]), "0.5"):
        with pytest.raises(BadAnswers):
            check_answers(raw, 2)


def test_a_hanging_oracle_is_stopped_and_the_next_batch_starts_a_new_one(functions):
    (functions / "slow").write_text("")
    oracle = checked(functions, "sleeps", timeout=0.5)
    child = oracle._child.proc
    started = time.perf_counter()
    with pytest.raises(OracleFailure, match=r"gave no answer within 0.5 s for 40 images \(--oracle-timeout sets the "
                                            r"limit\); it was stopped"):
        oracle.answer(IMAGES)
    assert time.perf_counter() - started < 5 and child.poll() is not None        # killed, not left running
    (functions / "slow").unlink()
    assert (oracle.answer(IMAGES) == 0.5).all()
    oracle.close()


def test_one_child_across_batches_closed_at_the_end(functions):
    (functions / "imports.txt").unlink(missing_ok=True)
    oracle = checked(functions, "half_nan")
    for _ in range(3):
        oracle.answer(IMAGES)
    assert (functions / "imports.txt").read_text() == "x"                 # imported once, not per batch
    child = oracle._child.proc
    oracle.close()
    assert child.wait(timeout=5) == 0                                      # ended cleanly, not killed


def test_the_oracle_cannot_change_the_images_nor_print_into_the_answers(functions):
    images = IMAGES.copy()
    with checked(functions, "scribble") as oracle:
        assert (oracle.answer(images) == 0).all()
    assert np.array_equal(images, IMAGES)


def test_the_child_imports_nothing_from_the_working_folder_but_the_oracle(tmp_path, monkeypatch):
    (tmp_path / "numpy.py").write_text("open(__file__ + '.ran', 'w').close()\n")
    (tmp_path / "my_oracle.py").write_text(HBAR_PYTHON)
    monkeypatch.chdir(tmp_path)
    with load_plugged_oracle("python:my_oracle:answer") as oracle:       # the module named, from here
        np.testing.assert_allclose(oracle.answer(IMAGES), hbar_answer(IMAGES))
    assert not (tmp_path / "numpy.py.ran").exists()


# ---------------------------------------------------------------- python:

def test_python_function_from_a_file_and_a_module(tmp_path, monkeypatch):
    (tmp_path / "my_oracle.py").write_text(HBAR_PYTHON)
    from_file = load_plugged_oracle(f"python:{tmp_path / 'my_oracle.py'}:answer")
    np.testing.assert_allclose(from_file.answer(IMAGES), hbar_answer(IMAGES))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "my_oracle", raising=False)
    from_module = load_plugged_oracle("python:my_oracle:answer")
    np.testing.assert_allclose(from_module.answer(IMAGES), hbar_answer(IMAGES))
    assert from_module.name == "python:my_oracle:answer"


@pytest.mark.parametrize("spec, words", [
    ("python:{dir}/my_oracle.py:answr", "has no 'answr' (it defines: answer)"),
    ("python:{dir}/none.py:answer", "none.py: no such Python file"),
    ("python:{dir}/broken.py:answer", "broken.py: loading it raised NameError"),
    ("python:no_such_module_xyz:answer", "no module named 'no_such_module_xyz'"),
    ("python:answer", "expected python:MODULE:FUNCTION or python:FILE.py:FUNCTION"),
    ("pytorch:model.pt", "expected python:MODULE:FUNCTION"),
])
def test_python_oracle_that_cannot_load(tmp_path, spec, words):
    (tmp_path / "my_oracle.py").write_text(HBAR_PYTHON)
    (tmp_path / "broken.py").write_text("undefined_name\n")
    with pytest.raises(OracleLoadError) as err:
        load_plugged_oracle(spec.format(dir=tmp_path))
    assert words in str(err.value)


# ---------------------------------------------------------------- torch: and onnx:

def test_torch_export_dynamic_and_fixed_batch(tmp_path):
    expected = np.where(hbar_answer(IMAGES) > 0.5, 1 / (1 + np.exp(-4.0)), 1 / (1 + np.exp(4.0)))
    dynamic = load_plugged_oracle(f"torch:{export_hbar(tmp_path / 'd.pt2')}", positive_class=1,
                                  image_shape=(10, 10))
    np.testing.assert_allclose(dynamic.answer(IMAGES), expected, rtol=1e-5)
    fixed = load_plugged_oracle(f"torch:{export_hbar(tmp_path / 'f.pt2', batch=16)}")   # 40 = 16 + 16 + 8 padded
    np.testing.assert_allclose(fixed.answer(IMAGES), expected, rtol=1e-5)
    class0 = load_plugged_oracle(f"torch:{tmp_path / 'd.pt2'}", positive_class=0)
    np.testing.assert_allclose(class0.answer(IMAGES), 1 - expected, rtol=1e-5)


def test_torchscript_and_its_errors(tmp_path):
    oracle = load_plugged_oracle(f"torch:{script_hbar(tmp_path / 'm.ts')}")
    assert ((oracle.answer(IMAGES) > 0.5) == (hbar_answer(IMAGES) > 0.5)).all()
    with pytest.raises(OracleFailure, match=r"the positive class is 2, but the model has only 2 outputs"):
        load_plugged_oracle(f"torch:{tmp_path / 'm.ts'}", positive_class=2).answer(IMAGES)
    torch.save({"w": torch.zeros(2)}, tmp_path / "state.pt")
    with pytest.raises(OracleLoadError, match=r"a state_dict needs its net: save the model with torch\.export\.save"):
        load_plugged_oracle(f"torch:{tmp_path / 'state.pt'}")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(OracleLoadError, match="not a zip archive"):
        load_plugged_oracle(f"torch:{tmp_path / 'junk.pt'}")
    with pytest.raises(OracleLoadError, match="does not fit images of 28x28"):
        load_plugged_oracle(f"torch:{export_hbar(tmp_path / 'd.pt2')}", image_shape=(28, 28))


def test_onnx_single_logit_is_a_sigmoid(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    path = onnx_hbar(tmp_path / "m.onnx")
    answers = load_plugged_oracle(f"onnx:{path}", image_shape=(10, 10)).answer(IMAGES)
    expected = np.where(hbar_answer(IMAGES) > 0.5, 1 / (1 + np.exp(-4.0)), 1 / (1 + np.exp(4.0)))
    np.testing.assert_allclose(answers, expected, rtol=1e-5)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)       # not installed (what the oracle's child does)
    with pytest.raises(OracleLoadError, match=r"ONNX oracles need onnxruntime: pip install 'viscause_gui\[onnx\]'"):
        load_in_process(f"onnx:{path}")


def test_colour_images_reach_a_model_as_channels_first(tmp_path):
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 5 * 5, 2))
    example = (torch.zeros(2, 3, 5, 5),)
    torch.export.save(torch.export.export(net, example, dynamic_shapes=({0: torch.export.Dim("b")},)),
                      str(tmp_path / "c.pt2"))
    images = np.random.default_rng(0).random((7, 5, 5, 3)).astype(np.float32)
    answers = load_plugged_oracle(f"torch:{tmp_path / 'c.pt2'}", image_shape=(5, 5, 3)).answer(images)
    logits = net(torch.from_numpy(images).permute(0, 3, 1, 2)).detach().numpy()
    np.testing.assert_allclose(answers, torch.softmax(torch.from_numpy(logits), 1)[:, 1].numpy(), rtol=1e-5)


# ---------------------------------------------------------------- the offline oracle's files

def test_png_pixels_grey_is_ink_on_white_and_colour_is_rgb():
    grey = png_pixels(np.array([[0.0, 1.0]]))
    assert grey.tolist() == [[255, 0]]
    two = png_pixels(np.array([[[1.0, 0.5]]]))
    assert two.shape == (1, 1, 3) and two[0, 0].tolist() == [255, 128, 0]
    assert png_pixels(np.ones((2, 2, 3)))[0, 0].tolist() == [255, 255, 255]


@pytest.fixture
def batch_csv(tmp_path):
    batch = QueryBatch("algorithm2", 3, IMAGES[:4], np.arange(4), originals=IMAGES[:4], targets=np.array([1, 0, 1, 0]),
                       distances=np.zeros(4), p_target=np.ones(4))
    path = write_offline_batch(tmp_path, batch)
    return batch, path


def fill(path, answers, out=None):
    lines = path.read_text().splitlines()
    rows = [lines[0]] + [line + a for line, a in zip(lines[1:], answers)]
    out = out or path
    out.write_text("\n".join(rows) + "\n")
    return out


def test_offline_batch_files_and_answers(batch_csv, tmp_path):
    batch, path = batch_csv
    assert path == tmp_path / "offline" / "iteration_03" / "answers.csv"
    assert path.read_text().splitlines()[:2] == ["batch,index,image,target_class,answer",
                                                 "iteration_03,0,0000.png,1,"]
    assert sorted(p.name for p in path.parent.glob("*.png")) == ["0000.png", "0001.png", "0002.png", "0003.png"]
    assert np.array_equal(np.load(path.parent / "images.npz")["images"], IMAGES[:4])
    values = read_answers(fill(path, ["1", "no", "?", "0.25"]), batch, [])
    assert values[[0, 1, 3]].tolist() == [1.0, 0.0, 0.25] and np.isnan(values[2])


@pytest.mark.parametrize("answers, words", [
    (["1", "", "0", "1"], "line 3: image 1 has no answer; write P(T=1) in [0, 1]"),
    (["1", "maybe", "0", "1"], "line 3: image 1: 'maybe' is not an answer"),
    (["1", "1.5", "0", "1"], "'1.5' is not an answer"),
])
def test_a_missing_or_garbled_answer_is_one_line(batch_csv, answers, words):
    batch, path = batch_csv
    with pytest.raises(AnswerFileError, match=re.escape(words)):
        read_answers(fill(path, answers), batch, [])


def rows(path, *lines):
    path.write_text("batch,index,image,target_class,answer\n" + "".join(line + "\n" for line in lines))
    return path


def test_answers_for_images_not_asked_or_another_batch(batch_csv, tmp_path):
    batch, _ = batch_csv
    full = [f"iteration_03,{i},{i:04d}.png,,1" for i in range(4)]
    assert read_answers(rows(tmp_path / "ok.csv", *full), batch, []).tolist() == [1.0] * 4
    with pytest.raises(AnswerFileError, match=r"line 6: image 7 was not asked \(the batch has 4 images, 0 to 3\)"):
        read_answers(rows(tmp_path / "extra.csv", *full, "iteration_03,7,0007.png,,1"), batch, [])
    earlier = QueryBatch("algorithm2", 2, IMAGES[:4], np.arange(4))
    old = [line.replace("iteration_03", "iteration_02") for line in full]
    with pytest.raises(AnswerFileError, match="the answers for iteration_02 were already given; the run waits "
                                              "for the answers to iteration_03"):
        read_answers(rows(tmp_path / "old.csv", *old), batch, [earlier])
    with pytest.raises(AnswerFileError, match=r"no row for image\(s\) 2, 3 of iteration_03"):
        read_answers(rows(tmp_path / "short.csv", *full[:2]), batch, [])
    with pytest.raises(AnswerFileError, match="image 0 is answered twice"):
        read_answers(rows(tmp_path / "twice.csv", *full, full[0]), batch, [])
    with pytest.raises(AnswerFileError, match=r"image 0003\.png is not image 2"):
        read_answers(rows(tmp_path / "swap.csv", *full[:2], "iteration_03,2,0003.png,,1", full[3]), batch, [])
    (tmp_path / "bare.csv").write_text("index,answer\n0,1\n")
    with pytest.raises(AnswerFileError, match="no 'batch' column"):
        read_answers(tmp_path / "bare.csv", batch, [])
