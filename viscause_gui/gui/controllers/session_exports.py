"""The session's exports (Qt-free): the answers as CSV, the causal data set (npz), the learning
plots as PNGs. Each export that fails gives one message and leaves the session as it was."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from viscause_gui.core.method.experiment import Experiment
from viscause_gui.core.store.exports import export_answers_csv, export_causal_dataset
from viscause_gui.core.store.journal import AnswerRecord
from viscause_gui.gui.models.dialogs import Dialogs, Level

#: a plot by name -> a writer of it as a PNG file (True when written); the window grabs its widgets
PlotWriters = Mapping[str, Callable[[str], bool]]


class SessionExports:
    """File → Export …: each asks for a file (`*_dialog`) or writes to the path it is given."""

    def __init__(self, records: Callable[[], list[AnswerRecord]], experiment: Callable[[], Experiment | None],
                 dialogs: Dialogs, folder: Callable[[], str], plots: PlotWriters | None = None):
        self.records, self.experiment, self.dialogs, self.folder = records, experiment, dialogs, folder
        self.plot_writers: PlotWriters = plots or {}
        # the names of T's outcomes (the window's data set's); None: the experiment's, or a binary T's
        self.outcomes: Callable[[], Sequence[str] | None] = lambda: None

    def answers_dialog(self) -> None:
        path = self.dialogs.save_file("Export answers", self.folder(), "CSV (*.csv)")
        if path:
            self.answers(path)

    def answers(self, path: str | os.PathLike) -> bool:
        """Every answer and undo, with its annotator, as CSV; over K > 2 outcomes each answer's outcome by name."""
        try:
            export_answers_csv(path, self.records(), self._outcome_names())
        except (OSError, ValueError) as exc:
            self.dialogs.message(Level.WARNING, "Could not export the answers", str(exc))
            return False
        return True

    def _outcome_names(self) -> Sequence[str] | None:
        names = self.outcomes()
        if names is None:
            exp = self.experiment()
            names = None if exp is None else exp.outcomes
        return names

    def causal_dialog(self) -> None:
        path = self.dialogs.save_file("Export causal data set", self.folder(), "NumPy archives (*.npz)")
        if path:
            self.causal(path)

    def causal(self, path: str | os.PathLike) -> bool:
        """The images with their causal class, and the answered manipulated images."""
        exp = self.experiment()
        try:
            if exp is None:
                raise ValueError("there is no experiment yet (run Algorithm 1 first), or it is running")
            export_causal_dataset(path, exp)
        except (OSError, ValueError) as exc:
            self.dialogs.message(Level.WARNING, "Could not export the causal data set", str(exc))
            return False
        return True

    def plots_dialog(self) -> None:
        path = self.dialogs.save_file("Export plots (one PNG per plot)", self.folder(), "PNG images (*.png)")
        if path:
            self.plots(path)

    def plots(self, path: str | os.PathLike) -> list[Path]:
        """Write ``<stem>-loss.png``, ``<stem>-merr.png``, ``<stem>-mdist.png``; the files written
        (on the first that cannot be written: one message, and those before it)."""
        path = Path(path)
        stem = path.with_suffix("") if path.suffix.lower() == ".png" else path
        written: list[Path] = []
        for name, write in self.plot_writers.items():
            out = stem.with_name(f"{stem.name}-{name}.png")
            try:
                ok = write(str(out))
            except OSError as exc:
                ok, why = False, str(exc)
            else:
                why = f"{out}: cannot write"
            if not ok:
                self.dialogs.message(Level.WARNING, "Could not export the plots", why)
                return written
            written.append(out)
        return written
