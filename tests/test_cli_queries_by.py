"""`viscause run ... --queries-by random|active` (issue 13): the choice reaches the run and its files."""
import json

import numpy as np

from tests.cli_runner import viscause


def test_run_grating_records_the_choice_active_by_default(tmp_path):
    for by in ("random", None):                       # None: the default, the active choice
        out = tmp_path / str(by)
        result = viscause("run", "grating", "--iterations", 2, "--queries", 5, "--n-obs", 400, "--seed", 2,
                          *(["--queries-by", by] if by else []), "--out", out, check=False)
        assert result.returncode == 0, result.stderr
        history = json.loads((out / "history.json").read_text())
        assert history["config"]["queries_by"] == (by or "active")
        assert all(len(np.load(out / f"iteration_{i:02d}.npz")["targets"]) == 5 for i in (1, 2))


def test_an_unknown_choice_is_one_line_and_a_non_zero_exit(tmp_path):
    result = viscause("run", "grating", "--queries-by", "clever", "--out", tmp_path / "x", check=False)
    assert result.returncode == 2 and "--queries-by" in result.stderr and "clever" in result.stderr
    assert not (tmp_path / "x").exists()
    assert "--queries-by" in viscause("run", "--help").stdout


def test_the_papers_recipe_draws_at_random_with_the_cross_entropy_manipulator(tmp_path):
    for by in (None, "active"):                       # --queries-by wins over the recipe's
        out = tmp_path / str(by)
        viscause("run", "grating", "--recipe", "paper", "--iterations", 1, "--queries", 4, "--n-obs", 300,
                 *(["--queries-by", by] if by else []), "--out", out)
        config = json.loads((out / "history.json").read_text())["config"]
        assert config["queries_by"] == (by or "random") and config["binary_margin"] == 0.0
        assert config["augment_shifts"] == 0 and config["query_weight"] == 1.0
        assert json.loads((out / "model.json").read_text())["confidence"] is None
