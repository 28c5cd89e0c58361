"""What a controller may ask of the person, as a protocol: messages, questions, file choosers.

(In models, the layer under both controllers and widgets: the controllers use it, widgets/dialogs.py implements it.)

Controllers (session, share, teaching) talk to a `Dialogs` and a `KeyValueSettings` instead of
the main window, so they can be driven without one: the app gives them `QtDialogs`
(gui/widgets/dialogs.py, message boxes and file dialogs), tests give them `ScriptedDialogs`.
A question nobody can answer (offscreen, no test answering) returns `None` / `Choice.UNANSWERED`,
and each controller says what that means for it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Level(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Choice(StrEnum):
    """The answer to "Save it before you go on?"."""
    SAVE = "save"
    DISCARD = "discard"
    CANCEL = "cancel"
    UNANSWERED = "unanswered"      # no one could be asked (no screen)


class Dialogs(Protocol):
    def message(self, level: str, title: str, text: str) -> None:
        """A message that does not block (the work goes on behind it)."""

    def status(self, text: str, ms: int = 5000) -> None:
        """A line in the status bar for `ms` milliseconds (0: until replaced)."""

    def ask(self, title: str, text: str, default: bool = True) -> bool | None:
        """Yes / No (`default`: the answer Enter gives; Escape says No); None when no one could answer."""

    def ask_save(self, title: str, text: str) -> Choice:
        """Save / Discard / Cancel before work is dropped."""

    def open_file(self, title: str, folder: str, filters: str) -> str | None:
        """A file to open, or None when the person cancelled."""

    def open_folder(self, title: str, folder: str) -> str | None:
        """A folder to open, or None."""

    def save_file(self, title: str, folder: str, filters: str) -> str | None:
        """A file to write, or None."""


class KeyValueSettings(Protocol):
    """The part of QSettings the controllers use (a dict-backed double in tests)."""

    def value(self, key: str, default: Any = None) -> Any: ...

    def setValue(self, key: str, value: Any) -> None: ...   # Qt's name

    def fileName(self) -> str: ...                            # Qt's name


@dataclass
class ScriptedDialogs:
    """Dialogs for tests and headless use: keeps every message and status line, answers questions
    from `answers` in order (then None / UNANSWERED), and file choosers from `paths`."""

    answers: list[bool | Choice | None] = field(default_factory=list)
    paths: list[str | None] = field(default_factory=list)
    messages: list[tuple[str, str, str]] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    asked: list[tuple[str, str]] = field(default_factory=list)

    def message(self, level: str, title: str, text: str) -> None:
        self.messages.append((str(level), title, text))

    def status(self, text: str, ms: int = 5000) -> None:
        self.statuses.append(text)

    def ask(self, title: str, text: str, default: bool = True) -> bool | None:
        self.asked.append((title, text))
        answer = self.answers.pop(0) if self.answers else None
        return answer if answer is None else bool(answer)

    def ask_save(self, title: str, text: str) -> Choice:
        self.asked.append((title, text))
        answer = self.answers.pop(0) if self.answers else Choice.UNANSWERED
        return Choice(answer) if isinstance(answer, str) else Choice.UNANSWERED

    def _path(self) -> str | None:
        return self.paths.pop(0) if self.paths else None

    def open_file(self, title: str, folder: str, filters: str) -> str | None:
        return self._path()

    def open_folder(self, title: str, folder: str) -> str | None:
        return self._path()

    def save_file(self, title: str, folder: str, filters: str) -> str | None:
        return self._path()


@dataclass
class DictSettings:
    """KeyValueSettings over a dict (tests, headless)."""

    values: dict[str, Any] = field(default_factory=dict)
    file_name: str = "viscause_gui.ini"

    def value(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def setValue(self, key: str, value: Any) -> None:
        self.values[key] = value

    def fileName(self) -> str:
        return self.file_name
