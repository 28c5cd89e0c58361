"""File → Open sweep…'s model (gui/models/sweep_view.py), without Qt: a sweep folder's table,
figures and cell folders; a folder that is not a sweep is one line."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from viscause_gui.core.store.sweep import CSV_FILE, MARKER_FILE, MERR_FIGURE, SweepError, cell_folder, check_record
from viscause_gui.gui.models.sweep_view import (CELL_FIGURE_TITLE, CELL_MANIPULATIONS_TITLE, FIGURES,
                                                MANIPULATIONS_SHOWN, SweepView)


def make_sweep(folder: Path) -> Path:
    """A sweep folder as `viscause sweep` leaves it: record, table, one figure, a cell with its history.png."""
    check_record(folder, "spec", {"seed-0": ["run", "grating", "--seed=0"], "seed-1": ["run", "grating", "--seed=1"]})
    (folder / CSV_FILE).write_text("cell,status,run,seed,merr\nseed-0,done,grating,0,0.1\nseed-1,failed,grating,1,\n")
    (folder / MERR_FIGURE).write_bytes(b"\x89PNG\r\n\x1a\n")
    cell_folder(folder, "seed-0").mkdir(parents=True)
    (cell_folder(folder, "seed-0") / "history.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (cell_folder(folder, "seed-0") / MARKER_FILE).write_text(json.dumps({"status": "done"}))
    return folder


def test_a_sweep_folder_shows_its_table_figures_and_cells(tmp_path):
    view = SweepView.open(make_sweep(tmp_path))
    assert view.columns == ["cell", "status", "run", "seed", "merr"]
    assert [r["cell"] for r in view.rows] == ["seed-0", "seed-1"]
    assert view.summary() == "2 cells: 1 done, 1 failed"
    assert view.cell_folder(1) == tmp_path / "cells" / "seed-1"
    merr_title = next(t for t, name in FIGURES.items() if name == MERR_FIGURE)
    assert view.figure_titles() == [merr_title, CELL_FIGURE_TITLE, CELL_MANIPULATIONS_TITLE]   # no seeds figure
    assert view.figure(merr_title, None) == tmp_path / MERR_FIGURE
    assert view.figure(CELL_FIGURE_TITLE, 0) == tmp_path / "cells" / "seed-0" / "history.png"
    assert view.figure(CELL_FIGURE_TITLE, 1) is None and view.figure(CELL_FIGURE_TITLE, None) is None


def test_a_cells_last_manipulations_are_read_from_its_last_iteration(tmp_path):
    folder = make_sweep(tmp_path)
    cell = cell_folder(folder, "seed-0")
    view = SweepView.open(folder)
    assert view.manipulations(0) is None                      # no iteration file yet
    rng = np.random.default_rng(0)
    for iteration, n in ((2, 30), (10, 5)):                   # iteration 10 is the last, not iteration 2
        np.savez_compressed(cell / f"iteration_{iteration:02d}.npz", originals=rng.random((n, 8, 8, 3)),
                            manipulated=rng.random((n, 8, 8, 3)), targets=np.zeros(n, np.int64))
    pairs = view.manipulations(0)
    assert pairs.iteration == 10 and pairs.originals.shape == pairs.manipulated.shape == (5, 8, 8, 3)
    (cell / "iteration_10.npz").unlink()
    assert len(view.manipulations(0).originals) == MANIPULATIONS_SHOWN
    assert view.manipulations(1) is None and view.manipulations(None) is None     # a failed cell, no cell chosen
    np.savez(cell / "iteration_11.npz", originals=np.array([{"a": 1}], dtype=object), manipulated=np.zeros(1))
    with pytest.raises(SweepError, match=r"^seed-0: iteration_11.npz: damaged or not a run's iteration file"):
        view.manipulations(0)                                 # a pickled array is never loaded


@pytest.mark.parametrize("name", ["..", "../../etc", "/etc", ""])
def test_a_cell_name_never_points_outside_the_sweep(tmp_path, name):
    folder = make_sweep(tmp_path)
    (folder / CSV_FILE).write_text(f"cell,status\n{name},done\n")
    assert SweepView.open(folder).cell_folder(0) is None


def test_a_folder_that_is_not_a_sweep_is_one_line(tmp_path):
    with pytest.raises(SweepError, match="not a sweep folder"):
        SweepView.open(tmp_path)
    check_record(tmp_path, "spec", {})
    with pytest.raises(SweepError, match=r"no sweep\.csv yet"):
        SweepView.open(tmp_path)
    (tmp_path / CSV_FILE).write_text("name,value\na,1\n")
    with pytest.raises(SweepError, match="not a sweep's table"):
        SweepView.open(tmp_path)


def test_reading_a_sweep_never_imports_ray(tmp_path):
    make_sweep(tmp_path)
    code = ("import sys; sys.modules['ray'] = None\n"
            "from viscause_gui.gui.models.sweep_view import SweepView\n"
            f"print(SweepView.open({str(tmp_path)!r}).summary())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "2 cells: 1 done, 1 failed", result.stderr
