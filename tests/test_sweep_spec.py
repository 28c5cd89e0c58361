"""`viscause sweep` without Ray: the spec read into cells and their names, the refusals (one line,
before anything runs), the sweep folder's record and resume logic, sweep.csv and the figures read
from run folders, one cell's process run and marked, the progress line. Ray's own tests:
tests/test_sweep_ray.py."""
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.cli_runner import viscause
from viscause_gui.cli import check_run_args
from viscause_gui.core.cluster.cell import CellKilled, CellTask, run_cell
from viscause_gui.core.cluster.progress import ProgressDisplay, SweepProgress
from viscause_gui.core.store.sweep import (CSV_FILE, ERROR_FILE, LOG_FILE, MARKER_FILE, MERR_FIGURE, SEEDS_FIGURE,
                                           SweepError, cell_folder, cells_to_run, check_record, parse_spec, read_csv,
                                           read_record)
from viscause_gui.core.store.sweep_results import write_csv, write_figures

ROOT = Path(__file__).resolve().parents[1]
GRID = """
experiment = "grating"
[options]
iterations = 2
queries = 20
n-obs = 500
[grid]
alpha = [0.3, 0.7]
seed = [0, 1, 2]
"""


def spec_of(text: str, base: Path = ROOT):
    return parse_spec(textwrap.dedent(text), base)


def sweep_refusal(tmp_path: Path, spec: str, *extra: str) -> str:
    """`viscause sweep` on this spec: refused with exit code 2 and one line, nothing written to --out."""
    path = tmp_path / "spec.toml"
    path.write_text(textwrap.dedent(spec))
    result = viscause("sweep", path, "--out", tmp_path / "out", *extra, check=False)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "out").exists()
    return result.stderr


def test_a_grid_is_the_cartesian_product_named_by_what_varies():
    cells = spec_of(GRID).cells
    assert [c.name for c in cells] == ["alpha-0.3_seed-0", "alpha-0.3_seed-1", "alpha-0.3_seed-2",
                                       "alpha-0.7_seed-0", "alpha-0.7_seed-1", "alpha-0.7_seed-2"]
    assert cells[4].argv() == ["run", "grating", "--iterations=2", "--queries=20", "--n-obs=500", "--alpha=0.7",
                               "--seed=1"]


def test_listed_cells_data_sets_flags_and_repeated_options(tmp_path):
    cells = spec_of("""
        data = ["a.npz", "sets/b.npz"]
        oracle = "onnx:judge.onnx"
        [options]
        grey = true
        t-from-labels = false
        invariant = ["shifts", "flips"]
        [grid]
        seed = [0]
        [[cells]]
        data = "a.npz"
        seed = 5
        queries_by = "random"
    """, tmp_path).cells
    assert [c.name for c in cells] == ["a_seed-0_no-queries-by", "b_seed-0_no-queries-by", "a_seed-5_queries-by-random"]
    assert cells[1].argv() == ["run", str(tmp_path / "sets/b.npz"), "--grey", "--invariant=shifts",
                               "--invariant=flips", f"--oracle=onnx:{tmp_path / 'judge.onnx'}", "--seed=0"]
    assert cells[2].option("queries-by") == "random" and cells[2].target == str(tmp_path / "a.npz")


REFUSALS = [
    (GRID.replace("n-obs = 500", "colour = 3"), "cell alpha-0.3_seed-0: unrecognized arguments: --colour=3"),
    (GRID.replace("alpha = [0.3, 0.7]", "alpha = [0.3, 2]"), "argument --alpha: must lie in [0, 1], got 2"),
    (GRID.replace("seed = [0, 1, 2]", "seed = []"), "[grid] seed = []: an empty grid has no cells"),
    ('experiment = "grating"\n[grid]\n', "the grid is empty"),
    (GRID.replace('"grating"', '"gratings"'), "gratings: no experiment of that name"),
    (GRID.replace("[grid]", "[grid]\nqueries-by = ['random', 'sometimes']"), "invalid choice: 'sometimes'"),
    (GRID.replace("[grid]", "[grid]\ndigit = [3]"), "--digit: only for run mnist, not run grating"),
    (GRID + 'oracle = ["human"]\n', "--oracle human needs a person"),
    (GRID.replace('experiment = "grating"', 'experiment = "grating"\noracle = "share"'),
     "--oracle share needs a person"),
    (GRID.replace("[grid]", "[grid]\noracle = ['python:judge.py:answer']"),
     "never names code to run: pass --oracle python:judge.py:answer on the viscause sweep command line"),
    (GRID.replace("n-obs = 500", "threads = 4"), "threads is not a sweep option: torch's threads follow"),
    (GRID.replace("n-obs = 500", "out = 'x'"), "out is not a sweep option"),
    (GRID.replace("n-obs = 500", "help = true"), "help is not a sweep option"),
    (GRID + "[[cells]]\nseed = 0\nalpha = 0.3\n", "the cell alpha-0.3_seed-0 is listed twice"),
    (GRID.replace("[grid]", "[grid"), "not valid TOML"),
]


@pytest.mark.parametrize(("spec", "says"), [pytest.param(spec, says, id=says[:40]) for spec, says in REFUSALS])
def test_a_bad_spec_is_refused_in_one_line_before_anything_runs(tmp_path, spec, says):
    assert says in sweep_refusal(tmp_path, spec)


def test_a_person_oracle_on_the_command_line_is_refused(tmp_path):
    assert "--oracle human needs a person" in sweep_refusal(tmp_path, GRID, "--oracle", "human")


def test_a_cell_goes_through_the_run_commands_own_checks():
    check_run_args(["run", "grating", "--n-obs=5", "--recipe=paper"])
    with pytest.raises(ValueError, match="--n-obs: must be a positive integer, got 0"):
        check_run_args(["run", "grating", "--n-obs=0"])
    with pytest.raises(ValueError, match="unrecognized arguments: --iter=2"):
        check_run_args(["run", "grating", "--iter=2"])         # no abbreviation of --iterations
    with pytest.raises(ValueError, match="needs --oracle"):
        check_run_args(["run", str(ROOT / "sample_data")])


@pytest.mark.slow          # a fresh process imports torch (3 s)
def test_without_ray_the_command_says_how_to_install_it(tmp_path):
    (tmp_path / "spec.toml").write_text(GRID)
    code = ("import sys; sys.modules['ray'] = None\n"             # `import ray` raises ImportError
            "from viscause_gui.cli import main\n"
            f"raise SystemExit(main(['sweep', {str(tmp_path / 'spec.toml')!r}, '--out', {str(tmp_path / 'o')!r}]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == ('viscause sweep: error: viscause sweep runs on Ray, which is not installed: '
                                     'pip install "viscause_gui[cluster]" (or pip install "ray>=2.9")')


def test_the_folder_records_its_sweep_and_refuses_another(tmp_path):
    commands = {"seed-0": ["run", "grating", "--seed=0"]}
    check_record(tmp_path, "spec text", commands)
    check_record(tmp_path, "the same cells, other comments", commands)
    assert read_record(tmp_path)["spec"] == "spec text"
    with pytest.raises(SweepError, match="holds another sweep"):
        check_record(tmp_path, "spec text", {"seed-0": ["run", "grating", "--seed=1"]})


def test_a_rerun_skips_done_and_waiting_cells_and_runs_failed_ones_again(tmp_path):
    for name, status in (("a", "done"), ("b", "waiting"), ("c", "failed")):
        cell_folder(tmp_path, name).mkdir(parents=True)
        (cell_folder(tmp_path, name) / MARKER_FILE).write_text(json.dumps({"status": status}))
    cell_folder(tmp_path, "d").mkdir()                       # started, never finished: no marker
    assert cells_to_run(tmp_path, ["a", "b", "c", "d", "e"]) == ["c", "d", "e"]


def fake_run(folder: Path, merrs: list[float], marker: dict | None) -> None:
    """A run folder as `viscause run` leaves it: history.json, iteration files, the sweep's marker."""
    folder.mkdir(parents=True)
    iterations = [{"iteration": i + 1, "merr": m, "mdist": 2.0 * (i + 1)} for i, m in enumerate(merrs)]
    config = {"finished": True, "iteration_summaries": [{"iteration": 1, "accepted": 0.75, "queries": 4}],
              "oracle_heldout": {"accuracy_answered": 0.99}}
    (folder / "history.json").write_text(json.dumps({"config": config, "iterations": iterations}))
    for i in range(len(merrs)):
        np.savez(folder / f"iteration_{i + 1:02d}.npz", answers=np.array([1.0, np.nan, 0.0, 1.0]))
    if marker is not None:
        (folder / MARKER_FILE).write_text(json.dumps(marker))


def test_csv_rows_and_figures_come_from_the_run_folders(tmp_path):
    cells = spec_of(GRID).cells[:3]
    fake_run(cell_folder(tmp_path, cells[0].name), [0.5, 0.25],
             {"status": "done", "seconds": 3.5, "peak_mib": 300.0, "tries": 1})
    fake_run(cell_folder(tmp_path, cells[1].name), [0.7, 0.35], {"status": "done", "seconds": 4.0, "tries": 2})
    folder = cell_folder(tmp_path, cells[2].name)
    folder.mkdir(parents=True)
    (folder / MARKER_FILE).write_text(json.dumps({"status": "failed"}))
    (folder / ERROR_FILE).write_text("exit code 2; the end of run.log:\nviscause run: error: bad seed\n")

    columns, rows = read_csv(write_csv(tmp_path, cells))
    assert columns[:8] == ["cell", "status", "run", "iterations", "queries", "n-obs", "alpha", "seed"]
    assert columns[-1] == "error"
    assert rows[0] | {} == {**rows[0], "status": "done", "merr": "0.25", "mdist": "4.0", "answers": "6",
                            "seconds": "3.5", "peak_mib": "300.0", "judge_accepted": "0.75",
                            "oracle_accuracy_answered": "0.99", "error": ""}
    assert (rows[1]["tries"], rows[1]["peak_mib"]) == ("2", "")
    assert (rows[2]["status"], rows[2]["merr"], rows[2]["error"]) == ("failed", "", "exit code 2; the end of run.log:")
    for path in write_figures(tmp_path, cells):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {p.name for p in tmp_path.iterdir()} >= {CSV_FILE, MERR_FIGURE, SEEDS_FIGURE}


def task(tmp_path: Path, code: str) -> CellTask:
    return CellTask("c", str(tmp_path / "c"), (sys.executable, "-c", code))


def test_a_cell_that_ends_is_marked_with_its_time_and_peak_memory(tmp_path):
    marker = run_cell(task(tmp_path, "import sys; b = bytearray(80 * 2**20); print('hello'); "
                                     "print('to stderr', file=sys.stderr)"))
    assert marker["status"] == "done" and marker["returncode"] == 0 and marker["tries"] == 1
    assert marker["peak_mib"] >= 80 and marker["seconds"] > 0
    assert json.loads((tmp_path / "c" / MARKER_FILE).read_text()) == marker
    log = (tmp_path / "c" / LOG_FILE).read_text()
    assert "hello" in log and "to stderr" in log


def test_a_failing_cell_keeps_its_error_and_a_waiting_one_is_told_apart(tmp_path):
    marker = run_cell(task(tmp_path, "import sys; print('viscause run: error: expected non-negative integer', "
                                     "file=sys.stderr); sys.exit(2)"))
    assert marker["status"] == "failed" and marker["returncode"] == 2
    error = (tmp_path / "c" / ERROR_FILE).read_text()
    assert error.startswith("exit code 2") and "expected non-negative integer" in error
    waiting = CellTask("w", str(tmp_path / "w"), (sys.executable, "-c", "open('run.vcsession', 'w').close()"),
                       cwd=str(tmp_path / "w"))
    assert run_cell(waiting)["status"] == "waiting"


def test_a_killed_cell_raises_for_ray_to_try_it_again(tmp_path):
    with pytest.raises(CellKilled, match=r"killed by signal 9 \(SIGKILL\)"):
        run_cell(task(tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"))
    assert not (tmp_path / "c" / MARKER_FILE).exists()
    run_cell(task(tmp_path, "pass"))
    assert json.loads((tmp_path / "c" / MARKER_FILE).read_text())["tries"] == 2


def test_the_progress_line_counts_cells_and_the_time_left():
    progress = SweepProgress(total=6, slots=2, skipped=1)
    assert progress.line() == "cells: 0 done, 0 running, 0 failed, 0 waiting, 6 queued, of 6 (1 finished earlier)"
    progress.running = 2
    progress.finish("a", "done", 10.0)
    progress.finish("b", "failed", 1.0)
    progress.running = 1
    assert progress.line().endswith("1 done, 1 running, 1 failed, 0 waiting, 3 queued, of 6 (1 finished earlier); "
                                    "about 20 s left")
    lines = []
    display = ProgressDisplay(lines.append, tty=False)
    display.show("x")
    display.show("x")
    display.show("y")
    assert lines == ["x\n", "y\n"]


def test_the_benchmarks_grating_spec_is_the_benchmarks_six_runs():
    cells = parse_spec((ROOT / "benchmarks" / "sweep_grating.toml").read_text(), ROOT / "benchmarks").cells
    assert [c.name for c in cells] == [f"recipe-{r}_seed-{s}" for r in ("default", "paper") for s in (0, 1, 2)]
    for cell in cells:
        check_run_args(cell.argv())
    assert cells[3].argv() == ["run", "grating", "--iterations=20", "--queries=100", "--n-obs=10000", "--alpha=0.5",
                               "--oracle=truth", "--recipe=paper", "--seed=0"]


def test_the_specs_in_the_docs_are_good_specs(tmp_path):
    blocks = re.findall(r"```toml\n(.*?)```", (ROOT / "docs" / "sweeps.md").read_text(), re.S)
    assert len(blocks) == 3
    for block in blocks:
        for cell in parse_spec(block, tmp_path).cells:
            if not cell.target.endswith(".npz"):         # the data sets of the example are not shipped
                check_run_args(cell.argv())
    check_run_args(["run", "mnist", "--digit=3"])      # the ten MNIST manipulators' cells
