"""Sessions in the main window: save / open, autosave, the answer journal, recovery, exports.

- Every answer goes to the journal beside the session file (``<file>.journal.jsonl``); an
  unsaved session keeps its journal and autosave in a recovery folder next to the settings
  (``recovery/untitled.vcsession.*``).
- The session is autosaved (`core.session.Autosaver`) every `interval_s` seconds when
  something changed, and at once when a new batch of queries arrives, so a recovery always
  has the images the journal's answers belong to.
- On start, when an autosave newer than the last session or journal answers the session does
  not hold exist, the controller asks (`ask`, a QMessageBox question tests replace) and
  replays the recovered answers: a batch that is fully answered goes to the experiment and
  the loop goes on.
- A file that cannot be opened gives one message (`MainWindow.show_message`) and changes nothing.
"""
from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox

from viscause_gui.core.store.exports import export_answers_csv, export_causal_dataset
from viscause_gui.core.store.journal import Journal, JournalError, new_id, now_iso, read_journal
from viscause_gui.core.store.recovery import recover
from viscause_gui.core.store.session import SESSION_SUFFIX, SessionData, SessionError, autosave_path, journal_path
from viscause_gui.core.store.session_writer import Autosaver, save_session

SESSION_FILTER = f"viscause sessions (*{SESSION_SUFFIX});;All files (*)"
PLOTS = (("loss", "loss_plot"), ("merr", "merr_plot"), ("mdist", "mdist_plot"))


class SessionController(QObject):
    """Owns the session file, its journal and autosave for one MainWindow."""

    def __init__(self, window: Any, interval_s: float = 60.0, recovery_dir: str | os.PathLike | None = None,
                 check_recovery: bool = True):
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.labelling = window.panels.get("labelling")
        self.learning = window.panels.get("learning")
        self.interval_s = interval_s
        if recovery_dir is None:
            recovery_dir = Path(window.settings.fileName()).resolve().parent / "viscause-recovery"
        self.recovery_dir = Path(recovery_dir)
        self.path: Path | None = None
        self.session_id = new_id()
        self.created = now_iso()
        self.autosaver = Autosaver(self.session_file(), interval_s)
        self._autosaved_batches: set[int] = set()
        self.timer = QTimer(self)
        self.timer.setInterval(int(min(interval_s, 5.0) * 1000))
        self.timer.timeout.connect(self.autosave_if_due)
        self.timer.start()
        if self.labelling is not None:
            self.labelling.answered.connect(lambda _r: self.mark_dirty())
        self.state.queue.changed.connect(self._queries_changed)
        self.state.model_changed.connect(self.mark_dirty)
        recovered = check_recovery and self.check_recovery()
        if not recovered:
            self._open_journal()

    # ----- paths -----
    def session_file(self) -> Path:
        """The session file, or the untitled one in the recovery folder."""
        return self.path if self.path is not None else self.recovery_dir / f"untitled{SESSION_SUFFIX}"

    def _open_journal(self, base_records: list | None = None) -> None:
        if self.labelling is None:
            return
        target = journal_path(self.session_file())
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            journal = Journal(target, self.session_id, annotator=self.labelling.annotator)
        except JournalError as exc:
            if "another process" in str(exc):     # another viscause has this session open
                self.window.show_message("warning", "The session is open elsewhere",
                                         f"{exc}.\nYour answers go to a temporary journal until you "
                                         "save the session under another name.")
                self.labelling.set_journal(None, base_records)
                return
            _set_aside(target)                   # a journal of another session: keep it, out of the way
            journal = Journal(target, self.session_id, annotator=self.labelling.annotator)
        self.labelling.set_journal(journal, base_records)

    # ----- the current session -----
    def live_experiment(self):
        if self.learning is not None:
            if self.learning.running:
                return None
            return self.learning.experiment
        return self.state.experiment

    def current_session(self) -> SessionData:
        if self.learning is not None and self.learning.running:
            raise SessionError("the experiment is running; save when it waits for answers or has stopped")
        exp = self.live_experiment()
        settings = {}
        if self.labelling is not None:
            settings.update(blind=self.labelling.blind.isChecked(), answers_per_image=self.labelling.needed(),
                            positive_digit=self.state.positive_label)
        settings["question"] = self.state.question()          # what the oracle is asked, in words
        share = getattr(self.window, "share", None)
        if share is not None:
            settings["share"] = share.settings()               # k, vote rule, hand-on time
        if self.learning is not None:
            settings.update(oracle=self.learning.oracle_combo.currentData(),
                            goal=self.learning.goal[0], goal_base=self.learning.goal[1],
                            learning=self.learning.settings_for_session())
        answers = self.labelling.records() if self.labelling is not None else []
        if exp is not None:
            return SessionData(experiment=exp, answers=answers, settings=settings,
                               session_id=self.session_id, created=self.created)
        if self.state.dataset is None:
            raise SessionError("there is no data to save")
        return SessionData(dataset=self.state.dataset, answers=answers, settings=settings,
                           session_id=self.session_id, created=self.created)

    def mark_dirty(self) -> None:
        self.autosaver.mark_dirty()

    def has_unsaved_work(self) -> bool:
        """An experiment or answers changed since the last save."""
        answers = self.labelling.records() if self.labelling is not None else []
        return self.autosaver.dirty and (self._experiment() is not None or bool(answers))

    def _experiment(self):
        """The experiment, also while a run owns it."""
        return self.learning.experiment if self.learning is not None else self.state.experiment

    def describe_work(self) -> str:
        exp = self._experiment()
        n = len(self.labelling.records()) if self.labelling is not None else 0
        parts = ([] if exp is None else [f"an experiment with {len(exp.history)} iteration(s)"]) + \
                ([f"{n} answer(s)"] if n else [])
        return " and ".join(parts) or "changes"

    def ask_unsaved(self, action: str) -> str:
        """Before `action` drops unsaved work: "save", "discard" or "cancel" (tests replace it).
        Offscreen (no one to answer) it discards: the autosave still keeps the work for recovery."""
        if QGuiApplication.platformName() in ("offscreen", "minimal"):
            return "discard"
        box = QMessageBox(QMessageBox.Icon.Question, action,
                          f"You have unsaved work ({self.describe_work()}). Save it before you go on?\n\n"
                          "Discard: it is not saved as a session (the last autosave can still be recovered "
                          "at the next start).", parent=self.window)
        buttons = QMessageBox.StandardButton
        box.setStandardButtons(buttons.Save | buttons.Discard | buttons.Cancel)
        box.setDefaultButton(buttons.Save)
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(buttons(box.exec()), "cancel")

    def may_drop_work(self, action: str) -> bool:
        """True when `action` may go on: nothing unsaved, or the person saved or discarded it."""
        if not self.has_unsaved_work():
            return True
        choice = self.ask_unsaved(action)
        if choice == "save":
            return self.save()
        return choice == "discard"

    def _queries_changed(self) -> None:
        self.mark_dirty()
        new = [b for b in self.state.queue.waiting() if id(b) not in self._autosaved_batches]
        dock = getattr(self.window, "docks", {}).get("labelling")
        if new and dock is not None and self.labelling is not None:
            dock.raise_()                         # the oracle answers by keyboard at once
            self.labelling.setFocus()
        if new and (self.learning is None or not self.learning.running):
            if self.autosave(force=True):
                self._autosaved_batches.update(id(b) for b in new)

    def autosave_if_due(self) -> None:
        if self.autosaver.due():
            self.autosave()

    def autosave(self, force: bool = False) -> bool:
        """Autosave now (when due or forced); False when the state cannot be saved right now."""
        try:
            session = self.current_session()
            self.session_file().parent.mkdir(parents=True, exist_ok=True)
            return self.autosaver.maybe_save(session, force=force) is not None
        except (SessionError, OSError, ValueError):
            return False

    # ----- save / open -----
    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        return self.save_to(self.path)

    def save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self.window, "Save session", self._folder(), SESSION_FILTER)
        if not path:
            return False
        if not Path(path).suffix:
            path += SESSION_SUFFIX
        return self.save_to(path)

    def save_to(self, path: str | os.PathLike) -> bool:
        """Save the session to `path`; the journal moves with it. One message on failure."""
        path = Path(path)
        try:
            session = self.current_session()
            save_session(path, session)
        except (SessionError, ValueError) as exc:
            self.window.show_message("warning", "Could not save the session", str(exc))
            return False
        old_file, old_autosaver = self.session_file(), self.autosaver
        records = session.answers
        if path.resolve() != old_file.resolve():
            old_journal = journal_path(old_file)
            if self.labelling is not None:
                self.labelling.set_journal(None, records)   # closes the old journal
            stale = journal_path(path)
            if stale.exists():
                try:
                    same = read_journal(stale).session_id == self.session_id
                except JournalError:
                    same = False
                if not same:
                    _set_aside(stale)
            if self.path is None:                             # the untitled files are in the file now
                _unlink(old_journal)
            old_autosaver.discard()
            self.path = path
            self.autosaver = Autosaver(path, self.interval_s)
            self._open_journal(records)
        self.autosaver.discard()
        self.autosaver.dirty = False
        self.window.settings.setValue("session/last_path", str(path))
        self.window.settings.setValue("paths/last_folder", str(path.parent))
        self.window.statusBar().showMessage(f"session saved to {path}", 5000)
        return True

    def open_dialog(self) -> bool:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open session", self._folder(), SESSION_FILTER)
        return bool(path) and self.may_drop_work("Open a session") and self.open(path)

    def open(self, path: str | os.PathLike) -> bool:
        """Open a session file (answers in its journal that it lacks are replayed too)."""
        path = Path(path)
        try:
            session, answers = recover(path, journal_path(path))
        except (SessionError, JournalError, ValueError) as exc:
            self.window.show_message("warning", "Could not open the session", str(exc))
            return False
        session.answers.extend(answers)
        self._adopt(session, path)
        return True

    def _adopt(self, session: SessionData, path: Path | None) -> None:
        """Make a loaded session the window's state; replay answers of the waiting batch."""
        if self.labelling is not None:
            self.labelling.set_journal(None)
        self.path = path
        self.session_id = session.session_id
        self.created = session.created
        self.autosaver = Autosaver(self.session_file(), self.interval_s)
        settings = session.settings
        self.state.set_dataset(session.dataset)
        if self.labelling is not None:
            self.labelling.blind.setChecked(bool(settings.get("blind", True)))
            self.labelling.per_image.setValue(int(settings.get("answers_per_image", 1) or 1))
        positive = settings.get("positive_digit")
        if isinstance(positive, int) and not isinstance(positive, bool):     # what T asks about
            if self.learning is not None and self.learning.label_spin.isEnabled():
                self.learning.label_spin.setValue(positive)
            self.state.set_positive_label(positive)
        question = settings.get("question")
        self.state.set_question(question if isinstance(question, str) else None)
        if getattr(self.window, "share", None) is not None:
            self.window.share.restore_settings(settings.get("share"))
        exp = session.experiment
        if exp is not None:
            self.state.set_experiment(exp)
            lp = self.learning
            if lp is not None and lp.experiment is not exp:     # the panel adopts on model_changed
                lp.experiment = exp
            if exp.pending is not None:
                if lp is not None:
                    lp.wait_for_answers(settings.get("goal"))
                self._autosaved_batches.add(id(exp.pending))
                self.state.queue.add(exp.pending, notify=False)
        if self.learning is not None:
            self.learning.restore_settings(settings.get("learning"))
        self._open_journal(session.answers)          # replays: a fully answered batch goes on
        self.state.queue.changed.emit()
        if path is not None:
            self.window.settings.setValue("session/last_path", str(path))
            self.window.statusBar().showMessage(f"session opened: {path}", 5000)

    # ----- recovery -----
    def recovery_candidates(self) -> list[tuple[Path | None, Path, Path]]:
        """(session path or None for untitled, file to load, journal) with something to recover."""
        out = []
        last = self.window.settings.value("session/last_path")
        for path in ([Path(str(last))] if last else []) + [None]:
            file = path if path is not None else self.recovery_dir / f"untitled{SESSION_SUFFIX}"
            auto = Autosaver(file)
            base = auto.path if auto.newer_than_session() else file
            if base.exists():
                out.append((path, base, journal_path(file)))
        return out

    def check_recovery(self) -> bool:
        """Offer to recover unsaved answers; True when a session was recovered."""
        for path, base, journal in self.recovery_candidates():
            try:
                session, answers = recover(base, journal)
            except (SessionError, JournalError, ValueError):
                continue
            unsaved = base != path          # an autosave, or the untitled session
            if not answers and not unsaved:
                continue
            if not answers and session.experiment is None and not session.answers:
                continue
            name = "the unsaved session" if path is None else str(path)
            total = sum(r.type == "answer" for r in [*session.answers, *answers])
            text = (f"Unsaved work was found for {name} (viscause was closed without saving, or killed): "
                    f"the session as last autosaved, with {total} answer(s) in all ({len(answers)} of them "
                    f"from the answer journal, newer than the autosave).\n\nRecover it?")
            if self.ask("Recover the session?", text):
                session.answers.extend(answers)
                session.path = path
                self._adopt(session, path)
                self.mark_dirty()
                self.window.statusBar().showMessage(f"recovered the session with {total} answer(s)", 8000)
                return True
            # declined: kept as .old, never deleted; a saved session keeps its journal (opening
            # the file replays it), the untitled one starts a fresh journal
            file = path if path is not None else self.recovery_dir / f"untitled{SESSION_SUFFIX}"
            for p in (autosave_path(file), *((journal,) if path is None else ())):
                _set_aside(p)
        return False

    def ask(self, title: str, text: str) -> bool:
        """A yes/no question (tests replace it). Offscreen (no one to answer) it says no."""
        if QGuiApplication.platformName() in ("offscreen", "minimal"):
            self.window.show_message("info", title, text + "\n\n(not asked: no screen; the files are kept)")
            return False
        answer = QMessageBox.question(self.window, title, text,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes

    # ----- exports -----
    def export_answers_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export answers", self._folder(), "CSV (*.csv)")
        if path:
            self.export_answers(path)

    def export_answers(self, path: str | os.PathLike) -> bool:
        records = self.labelling.records() if self.labelling is not None else []
        try:
            export_answers_csv(path, records)
        except (OSError, ValueError) as exc:
            self.window.show_message("warning", "Could not export the answers", str(exc))
            return False
        return True

    def export_causal_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export causal data set", self._folder(),
                                              "NumPy archives (*.npz)")
        if path:
            self.export_causal(path)

    def export_causal(self, path: str | os.PathLike) -> bool:
        exp = self.live_experiment()
        try:
            if exp is None:
                raise ValueError("there is no experiment yet (run Algorithm 1 first), or it is running")
            export_causal_dataset(path, exp)
        except (OSError, ValueError) as exc:
            self.window.show_message("warning", "Could not export the causal data set", str(exc))
            return False
        return True

    def export_plots_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export plots (one PNG per plot)", self._folder(),
                                              "PNG images (*.png)")
        if path:
            self.export_plots(path)

    def export_plots(self, path: str | os.PathLike) -> list[Path]:
        """Write ``<stem>-loss.png``, ``<stem>-merr.png``, ``<stem>-mdist.png``."""
        path = Path(path)
        stem = path.with_suffix("") if path.suffix.lower() == ".png" else path
        written = []
        for name, attr in PLOTS:
            widget = getattr(self.learning, attr, None) if self.learning is not None else None
            if widget is None:
                continue
            out = stem.with_name(f"{stem.name}-{name}.png")
            if not widget.grab().save(str(out), "PNG"):
                self.window.show_message("warning", "Could not export the plots", f"{out}: cannot write")
                return written
            written.append(out)
        return written

    def _folder(self) -> str:
        return str(self.window.settings.value("paths/last_folder", str(Path.home())))

    def close(self) -> None:
        """The window closes: autosave unsaved work (the journal already holds every answer)."""
        self.timer.stop()
        if self.autosaver.dirty:
            self.autosave(force=True)
        if self.labelling is not None:
            self.labelling.close_journal()      # every answer is on disk already


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _set_aside(path: Path) -> None:
    """Keep a file out of the way (never delete answers): ``<name>.<time>.old``."""
    if path.exists():
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        os.replace(path, path.with_name(f"{path.name}.{stamp}.old"))
