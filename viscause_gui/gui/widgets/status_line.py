"""The main window's permanent status-bar fields: the data set, the device, and what is working now."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.data.outcomes import describe_outcomes
from viscause_gui.core.nets.models import default_device
from viscause_gui.gui.widgets.busy import BusySign
from viscause_gui.gui.widgets.plain_text import plain_label, plain_tooltip


class StatusLine:
    """Background work is shown first; else what the learning run does (it may wait for a person); else idle."""

    def __init__(self, bar: QStatusBar):
        self.data_label = plain_label(QLabel("no data"))
        self.data_label.setToolTip("The data set: name, N images × height × width")
        self.device_label = QLabel(f"device: {default_device().type.upper()}")
        self.device_label.setToolTip("Where the nets run (CUDA when available, else the CPU)")
        self.worker_label = QLabel("idle")
        self.worker_label.setToolTip("Background work (training, loading) running now")
        self.busy_bar = BusySign()         # not an animated QProgressBar: that repainted at 60 Hz
        self._busy, self._run_phase = "", ""
        for widget in (self.data_label, self.device_label, self.busy_bar, self.worker_label):
            bar.addPermanentWidget(widget)

    def show_dataset(self, ds: Dataset | None) -> None:
        if ds is None:
            self.data_label.setText("no data")
            return
        size = " × ".join(str(d) for d in ds.shape)      # H × W, and C for colour
        outcomes = f" · T: {describe_outcomes(ds.outcome_names)}" if ds.n_outcomes > 2 else ""
        self.data_label.setText(f"{ds.name}: {len(ds):,} × {size}{outcomes}")
        self.data_label.setToolTip(plain_tooltip(f"The data set: name, N images × height × width; T's outcomes: "
                                                 f"{describe_outcomes(ds.outcome_names)}"))

    def set_busy(self, description: str) -> None:
        self._busy = description
        self._show_work()
        self.busy_bar.set_busy(bool(description))

    def set_run_phase(self, text: str) -> None:
        self._run_phase = text
        self._show_work()

    def _show_work(self) -> None:
        busy, phase = self._busy, self._run_phase
        self.worker_label.setText(f"working: {busy}" if busy else (phase or "idle"))
