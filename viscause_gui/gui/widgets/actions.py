"""QActions and slots: one way to make a command with its shortcut and tooltip; slots safe after close."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence


def if_alive(method: Callable[..., Any]) -> Callable[..., Any]:
    """For worker callbacks: do nothing once the widget's C++ object is gone.

    A worker's result is a queued event; connected through a lambda it has no receiver that
    Qt could disconnect, so it may arrive after the window closed and deleted the widget.
    """
    @functools.wraps(method)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        if not shiboken6.isValid(self):
            return None
        return method(self, *args, **kwargs)
    return wrapper


def while_alive(widget: QObject, callback: Callable[..., Any]) -> Callable[..., Any]:
    """A worker callback that does nothing once the widget's C++ object is gone (as `if_alive`, for a
    callback that is not the widget's own method: a controller's, say)."""
    def call(*args: Any) -> Any:
        return callback(*args) if shiboken6.isValid(widget) else None
    return call


def make_action(parent: QObject, text: str, tip: str, shortcut: str | QKeySequence | None = None,
                slot: Callable[[], Any] | None = None, checkable: bool = False) -> QAction:
    """A QAction whose tooltip and status tip say what it does and name its shortcut.

    The slot is called with no argument: `triggered` passes `checked`, which would otherwise
    land in the slot's first default parameter (a lambda's bound loop variable, say); a slot
    that needs the state reads `action.isChecked()`.
    """
    action = QAction(text, parent)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
        tip = f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
    action.setToolTip(tip)
    action.setStatusTip(tip)
    action.setCheckable(checkable)
    if slot is not None:
        action.triggered.connect(lambda _checked=False: slot())
    return action
