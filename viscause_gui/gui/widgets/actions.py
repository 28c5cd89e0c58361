"""QActions and slots: one way to make a command with its shortcut and tooltip; slots safe after close."""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import shiboken6
from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from viscause_gui.gui.models.actions import DOCK_TOGGLES, MENUS, SECTIONS, SUBMENU_TIPS, ActionRegistry, ActionSpec


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


def action_from_spec(parent: QObject, spec: ActionSpec, slot: Callable[[], Any] | None) -> QAction:
    """The QAction a registry's spec describes, calling `slot`."""
    action = make_action(parent, spec.title, spec.tip, spec.shortcut, slot, spec.checkable)
    if spec.more_shortcuts:
        action.setShortcuts([QKeySequence(k) for k in (spec.shortcut, *spec.more_shortcuts) if k])
    action.setEnabled(spec.enabled)
    return action


def build_menus(window: QMainWindow, registry: ActionRegistry, commands: Mapping[str, Callable[[], Any]],
                made: Mapping[str, QAction], dock_toggles: Mapping[str, list[QAction]]) -> dict[str, QAction]:
    """The menu bar from `registry`: a QAction per spec calling `commands[id]` (or the one already
    `made` by its owner, e.g. the canvas's tools), menus and sections in the registry's order, and
    the docks' show/hide toggles in the sections DOCK_TOGGLES names. Returns every action by id.

    A spec without a command, or a command without a spec, is a programming error (KeyError)."""
    unknown = sorted(set(commands) - {spec.id for spec in registry})
    if unknown:
        raise KeyError(f"commands with no spec in the registry: {unknown}")
    actions: dict[str, QAction] = {}
    for spec in registry:
        if spec.id in made:
            actions[spec.id] = made[spec.id]
        elif spec.id in commands:
            actions[spec.id] = action_from_spec(window, spec, commands[spec.id])
        else:
            raise KeyError(f"no command for {spec.id!r}")
        if spec.window_wide:
            window.addAction(actions[spec.id])
    for key, title in MENUS.items():
        menu = window.menuBar().addMenu(title)
        menu.setObjectName(f"menu_{key}")
        menu.setToolTipsVisible(True)
        sections = [_section(menu, registry, actions, key, section, dock_toggles) for section in SECTIONS[key]]
        for entries in [s for s in sections if s]:
            if menu.actions():
                menu.addSeparator()
            menu.addActions(entries)
    return actions


def _section(menu: QMenu, registry: ActionRegistry, actions: Mapping[str, QAction], key: str, section: str,
             dock_toggles: Mapping[str, list[QAction]]) -> list[QAction]:
    """The entries of one section: its actions, its submenus (as their menu's action), its dock toggles."""
    entries: list[QAction] = list(dock_toggles.get(section, [])) if DOCK_TOGGLES.get(section) == key else []
    submenus: dict[str, QMenu] = {}
    for spec in registry.section(key, section):
        if spec.submenu is None:
            entries.append(actions[spec.id])
            continue
        if spec.submenu not in submenus:
            submenus[spec.submenu] = sub = QMenu(spec.submenu, menu)
            sub.setToolTipsVisible(True)
            sub.menuAction().setToolTip(SUBMENU_TIPS.get(spec.submenu, ""))
            entries.append(sub.menuAction())
        submenus[spec.submenu].addAction(actions[spec.id])
    return entries
