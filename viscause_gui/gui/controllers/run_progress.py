"""What a running learning job reports, in the words and numbers the Learning panel shows (Qt-free):
the progress bar's text and value, the status line, the loss curves and the iteration records."""
from __future__ import annotations

from typing import Any

from viscause_gui.core.method.driver import BatchAnswered, Goal, RunOutcome
from viscause_gui.core.method.experiment import IterationRecord, TrainEvent
from viscause_gui.gui.controllers.learning import run_fraction


class RunProgress:
    """Turns the worker's events into view calls; keeps the losses and counts the records shown."""

    def __init__(self, view: Any):
        self.view = view
        self.train_losses: list[float] = []
        self.val_losses: list[float] = []
        self.records_shown = 0
        self.goal: Goal = None
        self.goal_base = 0
        self._oracle_model, self._oracle_epoch = 1, 0
        self._generative_shown = False

    def start(self, goal: Goal, goal_base: int, estimating: bool = False) -> None:
        """A run towards `goal` (history rows, from `goal_base`) begins; first, perhaps, by estimating the
        observational classes of data that has only samples of T."""
        self.view.show_status("Running…")
        self.goal, self.goal_base = goal, goal_base
        self._oracle_model, self._oracle_epoch = 1, 0
        self.view.show_progress("estimating observational classes from the samples of T…" if estimating
                                else "starting…")

    def reset(self) -> None:
        """A new experiment: no losses, no records."""
        self.train_losses.clear()
        self.val_losses.clear()
        self.records_shown = 0
        self.view.show_losses(self.train_losses, self.val_losses, now=True)
        self.view.clear_records()
        self.view.show_progress("idle", 0)

    def restore_losses(self, train: list[float], val: list[float]) -> None:
        """A session's loss curve comes back (nothing when it kept none)."""
        if train:
            self.train_losses[:], self.val_losses[:] = train, val
            self.view.show_losses(self.train_losses, self.val_losses, now=True)

    def add_record(self, record: IterationRecord, running: bool) -> None:
        self.records_shown += 1
        self.view.add_record(record, running)

    def oracle_progress(self, p: Any) -> None:
        """The model oracle trains its models one after another: say which, and fill the bar per model."""
        if p.epoch <= self._oracle_epoch:
            self._oracle_model += 1
        self._oracle_epoch = p.epoch
        self.view.show_progress(f"training the model oracle: model {self._oracle_model}, epoch {p.epoch}/{p.epochs}",
                                int(1000 * p.epoch / max(p.epochs, 1)))

    def train(self, event: TrainEvent) -> None:
        p = event.progress
        if event.model == "generative":          # the manifold manipulator's model of the images, first
            self.view.show_status("Training the generative model of the images (the manipulator searches on the "
                                  "data manifold it learns)…")
            self.view.show_progress(f"iteration {event.iteration}: generative model, epoch {p.epoch}/{p.epochs}",
                                    int(1000 * p.epoch / max(p.epochs, 1)))
            self._generative_shown = True
            return
        if self._generative_shown:
            self._generative_shown = False
            self.view.show_status("Training the causal net…")
        self.train_losses.append(p.train_loss)
        self.val_losses.append(p.val_loss)
        self.view.show_losses(self.train_losses, self.val_losses, now=False)
        net = f" net {event.member + 1}/{event.members}," if event.members > 1 else ""
        self.view.show_progress(f"iteration {event.iteration}:{net} epoch {p.epoch}/{p.epochs}, "
                                f"val loss {p.val_loss:.3f}", int(1000 * run_fraction(event, self.goal,
                                                                                     self.goal_base)))

    def answered(self, event: BatchAnswered, history_len: int) -> None:
        if event.record is None:
            self.view.show_status("Algorithm 1 answered: causal classes found; training the causal net…")
            return
        self.add_record(event.record, running=True)
        span = max((self.goal or 0) - self.goal_base, 1)
        self.view.show_progress(value=int(1000 * min((history_len - self.goal_base) / span, 1.0)))
        self.view.show_status(f"Iteration {event.record.iteration}: MErr {event.record.merr:.3f}, "
                              f"MDist {event.record.mdist:.2f}")

    def ended(self, reason: str, waiting_images: int, has_experiment: bool) -> None:
        """Say how the run ended: reached its goal, has no iterations left, stopped, or waits for a person."""
        texts = {RunOutcome.GOAL: "Done.", RunOutcome.DONE: "Done: the experiment has no iterations left.",
                 RunOutcome.STOPPED: "Stopped. Resume (F7) goes on; Run Algorithm 1 starts over."}
        if reason == RunOutcome.HUMAN:
            self.view.show_status(f"Waiting for the oracle: {waiting_images} image(s) in the queue (Oracle queue tab).")
            self.view.show_progress("waiting for your answers")
        elif reason in texts:
            self.view.show_status(texts[RunOutcome(reason)] if has_experiment or reason != RunOutcome.STOPPED
                                  else "Stopped.")
            reached = reason == RunOutcome.GOAL
            self.view.show_progress("done" if reached else str(reason), 1000 if reached else None)

    def last_iteration(self, iterations: list[int]) -> int:
        """The run's last iteration: the plots' axis is set once per run."""
        return max([*iterations, self.goal or 0, 1])
