"""What File → Open sweep… shows of a sweep folder (`viscause sweep --out DIR`, docs/sweeps.md):
its table (sweep.csv), its summary figures and each cell's run folder. Qt-free, and it never
imports Ray: a sweep folder is files."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from viscause_gui.core.store.rundir import ManipulationPairs, last_manipulations
from viscause_gui.core.store.sweep import (CSV_FILE, MERR_FIGURE, SEEDS_FIGURE, SweepError, cell_folder, read_csv,
                                           read_record)

FIGURES = {"MErr per iteration, each cell": MERR_FIGURE, "MErr: mean and range over seeds": SEEDS_FIGURE}
CELL_FIGURE = "history.png"          # a run folder's own MErr / MDist figure
CELL_FIGURE_TITLE = "the chosen cell's run (history.png)"
CELL_MANIPULATIONS_TITLE = "the chosen cell's last manipulations"
MANIPULATIONS_SHOWN = 12             # start images and their manipulations of the cell's last iteration


@dataclass(frozen=True)
class SweepView:
    folder: Path
    columns: list[str]
    rows: list[dict[str, str]]

    @classmethod
    def open(cls, folder: str | Path) -> SweepView:
        """The sweep folder's table; SweepError (one line) for a folder that is not one."""
        folder = Path(folder)
        read_record(folder)
        if not (folder / CSV_FILE).is_file():
            raise SweepError(f"{folder}: no {CSV_FILE} yet (the sweep writes it when it ends: rerun it to finish)")
        columns, rows = read_csv(folder / CSV_FILE)
        return cls(folder, columns, rows)

    def summary(self) -> str:
        """e.g. "6 cells: 5 done, 1 failed" (the statuses that occur, in the table's order of first use)."""
        statuses = [row.get("status", "") for row in self.rows]
        counts = {s: statuses.count(s) for s in dict.fromkeys(statuses)}
        return f"{len(self.rows)} cells: " + ", ".join(f"{n} {s}" for s, n in counts.items())

    def cell_folder(self, row: int) -> Path | None:
        """The run folder of the table's row, None where the name is not a plain folder name in the sweep."""
        name = self.rows[row].get("cell", "")
        if not name or name in (".", "..") or Path(name).name != name:
            return None                  # a table edited by hand must not point outside the sweep
        return cell_folder(self.folder, name)

    def figure_titles(self) -> list[str]:
        """The summary figures the folder holds, then the chosen cell's own figure."""
        return [title for title, name in FIGURES.items() if (self.folder / name).is_file()] + [
            CELL_FIGURE_TITLE, CELL_MANIPULATIONS_TITLE]

    def figure(self, title: str, row: int | None) -> Path | None:
        """The PNG behind a title (the cell's for CELL_FIGURE_TITLE and a chosen row); None where there is none
        (CELL_MANIPULATIONS_TITLE: images, see `manipulations`)."""
        if title == CELL_MANIPULATIONS_TITLE:
            return None
        if title == CELL_FIGURE_TITLE:
            folder = None if row is None else self.cell_folder(row)
            path = None if folder is None else folder / CELL_FIGURE
        else:
            path = self.folder / FIGURES[title]
        return path if path is not None and path.is_file() else None


    def manipulations(self, row: int | None) -> ManipulationPairs | None:
        """The chosen cell's last iteration: its first start images and their manipulations; None where the cell
        has none. SweepError (one line) for a damaged iteration file."""
        folder = None if row is None else self.cell_folder(row)
        if folder is None or not folder.is_dir():
            return None
        try:
            return last_manipulations(folder, MANIPULATIONS_SHOWN)
        except ValueError as exc:
            raise SweepError(f"{folder.name}: {exc}") from None
