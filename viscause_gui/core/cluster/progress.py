"""A sweep's progress: cells done, running, failed, waiting and queued, and the time left (no Ray).

The time left is the mean time of the cells finished in this command, times the cells not yet
finished, over the cells that run at once; it says nothing until one cell has finished.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass
class SweepProgress:
    total: int                    # the cells this command runs
    slots: int                    # cells that run at once (the cluster's CPUs over each cell's)
    skipped: int = 0              # cells finished by an earlier command
    statuses: dict[str, str] = field(default_factory=dict)     # cell -> done / waiting / failed
    seconds: list[float] = field(default_factory=list)         # the finished cells' times
    running: int = 0

    def finish(self, name: str, status: str, seconds: float | None) -> None:
        self.statuses[name] = status
        if seconds is not None and status != "failed":
            self.seconds.append(seconds)

    def count(self, status: str) -> int:
        return sum(1 for s in self.statuses.values() if s == status)

    def seconds_left(self) -> float | None:
        left = self.total - len(self.statuses)
        if not self.seconds or left == 0:
            return None
        return math.ceil(left / max(1, self.slots)) * (sum(self.seconds) / len(self.seconds))

    def line(self) -> str:
        queued = max(0, self.total - len(self.statuses) - self.running)
        left = self.seconds_left()
        eta = "" if left is None else f"; about {_duration(left)} left"
        earlier = f" ({self.skipped} finished earlier)" if self.skipped else ""
        return (f"cells: {self.count('done')} done, {self.running} running, {self.count('failed')} failed, "
                f"{self.count('waiting')} waiting, {queued} queued, of {self.total}{earlier}{eta}")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class ProgressDisplay:
    """One line per change on a pipe or a file; on a terminal the line is rewritten in place."""

    def __init__(self, write: Callable[[str], None], tty: bool) -> None:
        self._write, self._tty, self._last = write, tty, ""

    def show(self, line: str) -> None:
        if line == self._last:
            return
        self._last = line
        self._write(f"\r\033[K{line}" if self._tty else f"{line}\n")

    def say(self, lines: Iterable[str]) -> None:
        """Lines that stay (a cell's failure), above the progress line on a terminal."""
        for line in lines:
            self._write(f"\r\033[K{line}\n" if self._tty else f"{line}\n")
        if self._tty and self._last:
            self._write(self._last)

    def close(self) -> None:
        if self._tty and self._last:
            self._write("\n")
