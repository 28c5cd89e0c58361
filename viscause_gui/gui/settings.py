"""Where the app keeps its settings: the names QSettings uses (one place for the app and its window)."""
from __future__ import annotations

from PySide6.QtCore import QSettings

ORGANIZATION, APPLICATION = "viscause", "viscause_gui"


def make_settings() -> QSettings:
    """The application's settings store (tests pass their own QSettings instead)."""
    return QSettings(ORGANIZATION, APPLICATION)
