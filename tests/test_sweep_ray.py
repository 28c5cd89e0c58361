"""`viscause sweep` on a local Ray cluster of 2 CPUs started by this module (docs/sweeps.md): a 2 x 3
GRATING grid gives what six separate `viscause run`s give; a failing cell leaves the others' results
and its error; a killed worker's cell fails (no retries) and a rerun of the command runs it alone, or
is tried again by Ray (retries). Tiny runs: each cell takes a few seconds, mostly its process starting."""
import json
import os
import signal
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import ray

from tests.cli_runner import viscause
from tests.oracle_models import HBAR_PYTHON
from tests.test_sweep_spec import GRID
from viscause_gui.core.cluster.cell import TRY_HEADER, started_info
from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.store.sweep import (CSV_FILE, ERROR_FILE, LOG_FILE, MARKER_FILE, MERR_FIGURE, SEEDS_FIGURE,
                                           cell_folder, parse_spec, read_csv)

pytestmark = pytest.mark.slow



@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def write_spec(folder: Path, text: str) -> Path:
    path = folder / "spec.toml"
    path.write_text(textwrap.dedent(text))
    return path


def rows_by_cell(out: Path) -> dict[str, dict[str, str]]:
    return {row["cell"]: row for row in read_csv(out / CSV_FILE)[1]}


def curve(folder: Path) -> list[tuple[float, float]]:
    return [(r["merr"], r["mdist"]) for r in json.loads((folder / "history.json").read_text())["iterations"]]


def test_a_grid_gives_what_separate_runs_give(cluster, tmp_path):
    out = tmp_path / "sweep"
    result = viscause("sweep", write_spec(tmp_path, GRID), "--out", out)
    assert "6 cells: 6 done, 0 waiting, 0 failed" in result.stderr
    assert "cells: 6 done, 0 running, 0 failed, 0 waiting, 0 queued, of 6" in result.stderr
    rows = rows_by_cell(out)
    assert len(rows) == 6 and {r["status"] for r in rows.values()} == {"done"}
    for cell in parse_spec(GRID, tmp_path).cells:
        alone = tmp_path / "alone" / cell.name
        viscause(*cell.argv(), "--threads", 1, "--out", alone)
        assert curve(cell_folder(out, cell.name)) == curve(alone), cell.name
        row = rows[cell.name]
        assert (float(row["merr"]), float(row["mdist"])) == pytest.approx(curve(alone)[-1])
        assert (row["alpha"], row["seed"], row["answers"], row["tries"]) == (
            str(cell.option("alpha")), str(cell.option("seed")), "40", "1")
        assert 50 < float(row["peak_mib"]) < 4000 and float(row["seconds"]) > 0
    assert (out / MERR_FIGURE).stat().st_size > 0 and (out / SEEDS_FIGURE).stat().st_size > 0
    again = viscause("sweep", write_spec(tmp_path, GRID), "--out", out)
    assert "6 cells, 0 to run (6 finished earlier)" in again.stderr
    other = viscause("sweep", write_spec(tmp_path, GRID.replace("0.7", "0.8")), "--out", out, check=False)
    assert other.returncode == 2 and "holds another sweep" in other.stderr


def test_a_cell_no_machine_can_hold_is_refused_in_one_line(cluster, tmp_path):
    for option, says in (("--cpus-per-cell=3", "--cpus-per-cell 3: no machine of the cluster has that many CPUs "
                                               "(at most 2)"),
                         ("--gpus-per-cell=1", "--gpus-per-cell 1: no machine of the cluster has that many GPUs")):
        result = viscause("sweep", write_spec(tmp_path, GRID), "--out", tmp_path / option[2:6], option, check=False)
        assert result.returncode == 2 and says in result.stderr.splitlines()[-1], result.stderr


def test_a_cluster_that_cannot_be_joined_is_one_line(monkeypatch):
    from viscause_gui.core.cluster import engine

    def refuse(**kwargs):
        raise ConnectionError(f"Failed to connect to Ray cluster at {kwargs['address']}")
    monkeypatch.setattr(engine.ray, "is_initialized", lambda: False)
    monkeypatch.setattr(engine.ray, "init", refuse)
    with pytest.raises(ValueError, match=r"--address h:1: cannot join the Ray cluster there \(Failed to connect"):
        engine.Cluster.join("h:1", None)


def test_a_failing_cell_leaves_the_others_results_and_its_error(cluster, tmp_path):
    spec = """
        experiment = "grating"
        [options]
        iterations = 1
        queries = 10
        n-obs = 300
        [grid]
        seed = [0, 1, 2, 3, 4, -1]       # -1 passes the parser, the run refuses it
    """
    out = tmp_path / "sweep"
    result = viscause("sweep", write_spec(tmp_path, spec), "--out", out, check=False)
    assert result.returncode == 6
    assert "6 cells: 5 done, 0 waiting, 1 failed (seed--1: see cells/<name>/error.txt" in result.stderr
    rows = rows_by_cell(out)
    assert [n for n, r in rows.items() if r["status"] == "done" and r["merr"]] == [f"seed-{i}" for i in range(5)]
    assert rows["seed--1"]["status"] == "failed" and rows["seed--1"]["merr"] == ""
    error = (cell_folder(out, "seed--1") / ERROR_FILE).read_text()
    assert error.startswith("exit code 2") and "viscause run: error: expected non-negative integer" in error


def start_sweep(spec: Path, out: Path, *extra) -> tuple[threading.Thread, dict]:
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(run=viscause("sweep", spec, "--out", out, *extra,
                                                                        check=False)))
    thread.start()
    return thread, result


def first_started(out: Path, timeout: float = 120) -> tuple[str, dict]:
    """The first cell whose task has started, once its run has begun to train, and its pids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for folder in sorted((out / "cells").glob("*")) if (out / "cells").exists() else []:
            info = started_info(folder)
            if info is not None and "training the causal net" in (folder / LOG_FILE).read_text():
                return folder.name, info
        time.sleep(0.2)
    raise AssertionError("no cell started")


def gone(pid: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


SEEDS = """
    experiment = "grating"
    [options]
    iterations = 3
    queries = 20
    n-obs = 500
    [grid]
    seed = [0, 1, 2]
"""


def test_a_killed_worker_fails_its_cell_and_a_rerun_runs_that_cell_alone(cluster, tmp_path):
    out, spec = tmp_path / "sweep", write_spec(tmp_path, SEEDS)
    thread, result = start_sweep(spec, out, "--retries", 0)
    killed, info = first_started(out)
    os.kill(info["worker_pid"], signal.SIGKILL)          # the Ray worker running the cell
    assert gone(info["pid"])                              # its run went with it
    thread.join(300)
    assert result["run"].returncode == 6, result["run"].stderr
    rows = rows_by_cell(out)
    assert rows[killed]["status"] == "failed" and "the task failed after 1 tries" in rows[killed]["error"]
    finished = {n: (cell_folder(out, n) / MARKER_FILE).stat().st_mtime_ns for n in rows if n != killed}
    assert len(finished) == 2 and all(rows[n]["status"] == "done" for n in finished)

    again = viscause("sweep", spec, "--out", out, "--retries", 0)
    assert "3 cells, 1 to run (2 finished earlier)" in again.stderr
    assert rows_by_cell(out)[killed]["status"] == "done" and len(curve(cell_folder(out, killed))) == 3
    for name, mtime in finished.items():
        assert (cell_folder(out, name) / MARKER_FILE).stat().st_mtime_ns == mtime
        assert (cell_folder(out, name) / LOG_FILE).read_text().count(TRY_HEADER) == 1


def test_a_killed_cell_process_is_tried_again(cluster, tmp_path):
    out = tmp_path / "sweep"
    thread, result = start_sweep(write_spec(tmp_path, SEEDS.replace("[0, 1, 2]", "[0, 1]")), out, "--retries", 1)
    killed, info = first_started(out)
    os.kill(info["pid"], signal.SIGKILL)
    thread.join(300)
    assert result["run"].returncode == 0, result["run"].stderr
    rows = rows_by_cell(out)
    assert (rows[killed]["status"], rows[killed]["tries"]) == ("done", "2")
    assert len(curve(cell_folder(out, killed))) == 3


def test_offline_cells_wait_and_a_command_line_python_oracle_answers_every_cell(cluster, tmp_path):
    data = GratingModel().sample(300, 2)
    np.savez_compressed(tmp_path / "p.npz", images=data.images, p_obs=data.p_obs)
    (tmp_path / "hbar.py").write_text(HBAR_PYTHON)
    spec = write_spec(tmp_path, """
        data = "p.npz"
        oracle = "offline"
        [options]
        iterations = 2
        queries = 6
        [grid]
        seed = [3, 4]
    """)
    waiting = viscause("sweep", spec, "--out", tmp_path / "offline")
    assert "2 cells: 0 done, 2 waiting, 0 failed" in waiting.stderr
    assert {r["status"] for r in rows_by_cell(tmp_path / "offline").values()} == {"waiting"}
    assert (cell_folder(tmp_path / "offline", "seed-3") / "offline" / "algorithm1" / "answers.csv").is_file()

    answered = viscause("sweep", spec, "--out", tmp_path / "answered", "--oracle",
                        f"python:{tmp_path / 'hbar.py'}:answer")
    assert "2 cells: 2 done, 0 waiting, 0 failed" in answered.stderr
    rows = rows_by_cell(tmp_path / "answered")
    oracle = f"python:{tmp_path / 'hbar.py'}:answer"          # the command line's, over the spec's
    assert [(r["status"], r["iterations"], r["oracle"]) for r in rows.values()] == [("done", "2", oracle)] * 2
    assert f"--oracle={oracle}" in json.loads((tmp_path / "answered" / "sweep.json").read_text())["cells"]["seed-3"]
