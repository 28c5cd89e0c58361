"""A T with K outcomes through plugged oracles and `viscause run DATA` / `answer` / `predict`."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from tests.cli_runner import viscause
from tests.core.method.test_outcomes import levels_of, signs
from viscause_gui.core.method.plugged_oracles import BadAnswers, OracleFailure, check_answers, load_plugged_oracle
from viscause_gui.core.store.offline import write_png

ORACLES = '''import numpy as np

LEVELS = 0.6 * np.eye(3) + 0.4 / 3


def cause(images):
    if images.ndim == 4:
        images = images.mean(axis=-1)
    row = np.any(images[:, 1:, :].sum(axis=2) >= 6, axis=1)
    column = np.any(images[:, 1:, :].sum(axis=1) >= 6, axis=1)
    return np.where(row, 0, np.where(column, 1, 2))


def distribution(images):
    return LEVELS[cause(images)]


def outcome(images):
    return cause(images)


def two_columns(images):
    return np.full((len(images), 2), 0.5)


def unnormalised(images):
    return np.full((len(images), 3), 0.5)
'''


@pytest.fixture(scope="module")
def oracles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("oracles")
    (folder / "signs.py").write_text(ORACLES)
    return folder


def test_check_answers_over_three_outcomes():
    assert check_answers([[0.2, 0.3, 0.5], [np.nan] * 3], 2, 3).shape == (2, 3)
    assert check_answers([2, 0], 2, 3).tolist() == [[0, 0, 1], [1, 0, 0]]
    assert check_answers([[0.25, 0.75], [1.0, 0.0]], 2).tolist() == [0.75, 0.0]     # binary: (N, 2) rows
    for raw, words in (([0.5, 1.0], "integer from 0 to 2"), ([[0.5, 0.5, 0.5]] * 2, "sums to 1.5"),
                       ([[np.nan] * 3] * 2, "for all 2 images"), ([[0.5, 0.5]] * 2, r"expected \(2, 3\)")):
        with pytest.raises(BadAnswers, match=words):
            check_answers(raw, 2, 3)


@pytest.mark.slow
def test_a_python_oracle_answers_distributions_or_outcomes_in_its_process(oracles):
    images, cause, _ = signs(20, seed=3)
    with load_plugged_oracle(f"python:{oracles / 'signs.py'}:distribution", outcomes=3) as oracle:
        np.testing.assert_allclose(oracle.answer(images), levels_of(cause))
    with load_plugged_oracle(f"python:{oracles / 'signs.py'}:outcome", outcomes=3) as oracle:
        assert oracle.answer(images).argmax(axis=1).tolist() == cause.tolist()
    for name, words in (("two_columns", r"expected \(20, 3\)"), ("unnormalised", "sums to 1.5")):
        with load_plugged_oracle(f"python:{oracles / 'signs.py'}:{name}", outcomes=3) as oracle, \
                pytest.raises(OracleFailure, match=words):
            oracle.answer(images)


FOLDERS = ("a-left", "b-up", "c-right")      # outcome k's sub-folder (sub-folders are labels in sorted order)


@pytest.fixture(scope="module")
def sign_folder(tmp_path_factory):
    """A folder of sign images sorted into one sub-folder per outcome of T (the label is T)."""
    folder = tmp_path_factory.mktemp("signs") / "images"
    images, cause, _ = signs(150, seed=6)
    rng = np.random.default_rng(7)
    t = (rng.random(150)[:, None] > np.cumsum(levels_of(cause), axis=1)).sum(axis=1)   # one sample of T each
    for i, (image, label) in enumerate(zip(images, t)):
        (folder / FOLDERS[label]).mkdir(parents=True, exist_ok=True)
        write_png(folder / FOLDERS[label] / f"{i:03d}.png", image)
    return folder


@pytest.mark.slow
def test_run_data_with_t_from_the_labels_names_the_outcomes_after_the_folders(sign_folder, oracles, tmp_path):
    out = tmp_path / "run"
    result = viscause("run", sign_folder, "--t-from-labels", "--oracle", f"python:{oracles / 'signs.py'}:outcome",
                      "--iterations", 1, "--queries", 4, "--seed", 1, "--out", out)
    assert "over 3 outcomes (a-left, b-up, c-right)" in result.stderr
    history = json.loads((out / "history.json").read_text())
    assert history["outcomes"] == list(FOLDERS) and history["config"]["t_from_labels"] is True
    z = np.load(out / "iteration_01.npz")
    assert z["answers"].shape == (4, 3)
    np.savez_compressed(tmp_path / "new.npz", images=signs(5, seed=9)[0])
    viscause("predict", "--run", out, "--images", tmp_path / "new.npz", "--out", tmp_path / "pred.npz")
    pred = np.load(tmp_path / "pred.npz")
    assert pred["p_causal"].shape == (5, 3) and np.allclose(pred["p_causal"].sum(axis=1), 1)


@pytest.mark.slow
def test_offline_answers_by_outcome_name_go_on(sign_folder, oracles, tmp_path):
    out = tmp_path / "run"
    result = viscause("run", sign_folder, "--t-from-labels", "--oracle", "offline", "--iterations", 1,
                      "--queries", 3, "--out", out)
    assert "one of a-left, b-up, c-right" in result.stderr
    answers = out / "offline" / "algorithm1" / "answers.csv"
    images = np.load(answers.parent / "images.npz")["images"]
    cause = np.where(np.any(images[:, 1:, :].sum(axis=2) >= 6, axis=1), 0,
                     np.where(np.any(images[:, 1:, :].sum(axis=1) >= 6, axis=1), 1, 2))
    rows = list(csv.DictReader(answers.open()))
    for row in rows:        # the outcome each sign makes most likely, by the name of its folder
        row["answer"] = FOLDERS[cause[int(row["index"])]]
    with answers.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    viscause("answer", out, answers, "--oracle", f"python:{oracles / 'signs.py'}:outcome")
    assert json.loads((out / "history.json").read_text())["config"]["finished"] is True


@pytest.mark.slow                   # its fixture writes 150 PNG files
def test_t_from_labels_and_t_label_are_one_or_the_other(sign_folder, tmp_path):
    result = viscause("run", sign_folder, "--t-from-labels", "--t-label", 1, "--oracle", "offline", "--out",
                      tmp_path / "run", check=False)
    assert result.returncode == 2 and "give one" in result.stderr
