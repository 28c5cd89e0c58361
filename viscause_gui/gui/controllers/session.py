"""Sessions in the main window, the Qt side: the autosave timer, `session_changed`, and the
window's entry points (File → Save / Open / Export, asking before work is dropped, closing).

What a session is and does lives in Qt-free modules beside this one, tested without a window:

- `session_life`: the window's sessions one after another (new on new data, opened, recovered,
  saved; Save / Discard / Cancel before work is dropped), over a `SessionWiring`;
- `session_files`: the session file, its answer journal and its autosave
  (core/store/session_writer.py's `Autosaver`), and what is left of them when a session ends;
- `session_content`: what a session holds, taken from the app and put back;
- `session_recovery`: unsaved work offered again at the start;
- `session_exports`: answers CSV, the causal data set, the plots;
- `earlier_answers`: other sessions' answers to the same images, offered.

Questions and messages go through the `Dialogs` the window gives (gui/widgets/dialogs.py:
QtDialogs, whose `ANSWER_BOX` lets tests click a question's buttons offscreen).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from viscause_gui.core.store.session import SessionData
from viscause_gui.gui.controllers.session_content import SettingsPart
from viscause_gui.gui.controllers.session_life import SessionLife, SessionWiring

__all__ = ["SessionController", "SessionWiring", "SettingsPart"]


class SessionController(QObject):
    """The session of one main window (`life`), with its timer and its signal."""

    #: another session became the window's (new data, an opened or recovered session): its own
    #: journal and answers; what counted the old session's answers (a share's tally) starts over
    session_changed = Signal()

    def __init__(self, wiring: SessionWiring, interval_s: float = 60.0,
                 recovery_dir: str | os.PathLike | None = None, check_recovery: bool = True,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.dialogs = wiring.dialogs
        self.life = SessionLife(wiring, interval_s=interval_s, recovery_dir=recovery_dir,
                                check_recovery=check_recovery, changed=self.session_changed.emit, later=self._later)
        self.files, self.exports = self.life.files, self.life.exports
        self.timer = QTimer(self)
        self.timer.setInterval(int(min(interval_s, 5.0) * 1000))
        self.timer.timeout.connect(self.life.autosave_if_due)
        self.timer.start()

    def _later(self, call: Callable[[], Any]) -> None:
        QTimer.singleShot(0, self, call)

    # ----- what the session is -----
    @property
    def path(self) -> Path | None:
        """The session file the person saved or opened; None: never saved."""
        return self.files.path

    @property
    def session_id(self) -> str:
        return self.files.session_id

    def current_session(self) -> SessionData:
        return self.life.current_session()

    def has_unsaved_work(self) -> bool:
        return self.life.has_unsaved_work()

    # ----- File: save, open -----
    def save(self) -> bool:
        return self.life.save()

    def save_as(self) -> bool:
        return self.life.save_as()

    def save_to(self, path: str | os.PathLike) -> bool:
        return self.life.save_to(path)

    def open_dialog(self) -> bool:
        return self.life.open_dialog()

    def open(self, path: str | os.PathLike) -> bool:
        return self.life.open(path)

    # ----- File: exports -----
    def export_answers_dialog(self) -> None:
        self.exports.answers_dialog()

    def export_causal_dialog(self) -> None:
        self.exports.causal_dialog()

    def export_plots_dialog(self) -> None:
        self.exports.plots_dialog()

    # ----- before the window drops the session -----
    def may_drop_work(self, action: str) -> bool:
        """Before opening other data, a session or a lesson, or quitting: Save / Discard / Cancel."""
        return self.life.may_drop_work(action)

    def confirm_new_experiment(self, exp: Any) -> bool:
        return self.life.confirm_new_experiment(exp)

    def stay(self) -> None:
        self.life.stay()

    def close(self) -> None:
        """The window closes: no more autosaves by the timer; the session's files are left as
        the person chose (`SessionLife.close`)."""
        self.timer.stop()
        self.life.close()
