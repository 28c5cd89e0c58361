"""Opening data: a file or folder a person names, or a built-in data set, in a worker or at once.

Bad input gives one message and keeps what was loaded: the session that would have ended
(`SessionGuard`) is told to stay.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from viscause_gui.core.data.dataset import Dataset, DatasetError
from viscause_gui.core.data.readers import load_path
from viscause_gui.core.experiments.registry import load_builtin
from viscause_gui.gui.models.dialogs import Dialogs, KeyValueSettings

DATA_FILTER = "Data sets (*.npz *-ubyte *-ubyte.gz *idx3*);;NumPy archives (*.npz);;All files (*)"
LAST_FOLDER = "paths/last_folder"


def load_dataset(kind: str, target: str, options: dict[str, Any]) -> Dataset:
    """Load a data set (runs in a worker): kind 'builtin' (target = name) or 'path'."""
    if kind == "builtin":
        return load_builtin(target, **options)
    return load_path(target)


class SessionGuard(Protocol):
    """The session, asked before its data is replaced (gui/controllers/session.py)."""

    def may_drop_work(self, action: str) -> bool: ...

    def stay(self) -> None: ...


class DataTarget(Protocol):
    def set_dataset(self, dataset: Dataset, own_data: bool = False) -> None: ...


class Loader(Protocol):
    def start(self, key: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...


class DataOpener:
    """Loads data for the window: `guard` (the session, once there is one) may keep the old data."""

    def __init__(self, state: DataTarget, workers: Loader, settings: KeyValueSettings, dialogs: Dialogs,
                 closing: Callable[[], bool] = lambda: False):
        self.state, self.workers, self.settings, self.dialogs = state, workers, settings, dialogs
        self.closing = closing
        self.guard: SessionGuard | None = None

    def last_folder(self) -> str:
        return str(self.settings.value(LAST_FOLDER, str(Path.home())))

    def open_file_dialog(self) -> None:
        path = self.dialogs.open_file("Open data file", self.last_folder(), DATA_FILTER)
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        path = self.dialogs.open_folder("Open a folder of images", self.last_folder())
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> None:
        """Load a file or folder in a worker; errors give one warning and keep the old data."""
        if not self._may_replace_the_data():
            return
        path = Path(path)
        self.settings.setValue(LAST_FOLDER, str(path if path.is_dir() else path.parent))
        self._start_load("path", str(path), own_data=True)

    def open_builtin(self, name: str, **options: Any) -> None:
        if self._may_replace_the_data():
            self._start_load("builtin", name, options)

    def load_now(self, kind: str, target: str, options: dict[str, Any] | None = None) -> bool:
        """Load on the GUI thread (small data, first start); False and a warning on failure."""
        error = self.load_or_say_why(kind, target, options)
        if error is not None:
            self.dialogs.message("warning", "Could not open the data", error)
        return error is None

    def load_or_say_why(self, kind: str, target: str, options: dict[str, Any] | None = None) -> str | None:
        """Load on the GUI thread; None, or why it failed in one line (the old data and session go on)."""
        try:
            self.loaded(load_dataset(kind, target, options or {}))
        except DatasetError as exc:
            self._keep_the_old_data()
            return str(exc)
        return None

    def loaded(self, dataset: Dataset, own_data: bool = False) -> None:
        if self.closing():
            return
        self.state.set_dataset(dataset, own_data)
        self.dialogs.status(f"loaded {dataset.name}", 4000)

    def _may_replace_the_data(self) -> bool:
        return self.guard is None or self.guard.may_drop_work("Open another data set")

    def _start_load(self, kind: str, target: str, options: dict[str, Any] | None = None,
                    own_data: bool = False) -> None:
        """Load in a worker; `own_data`: a person's own file or folder (its recipe is chosen from its images)."""
        self.dialogs.status(f"loading {target}…", 0)
        self.workers.start("load", load_dataset, kind, target, options or {},
                           on_return=lambda dataset: self.loaded(dataset, own_data), on_error=self._load_failed)

    def _load_failed(self, exc: BaseException) -> None:
        self._keep_the_old_data()
        text = str(exc) if isinstance(exc, DatasetError) else f"{type(exc).__name__}: {exc}"
        self.dialogs.message("warning", "Could not open the data", text)

    def _keep_the_old_data(self) -> None:
        self.dialogs.status("", 1)
        if self.guard is not None:
            self.guard.stay()
