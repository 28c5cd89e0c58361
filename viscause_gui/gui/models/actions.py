"""Every command of the main window, declared once: its title, tooltip, shortcut and place in a menu.

As napari's app-model does, a command is data (`ActionSpec`) apart from the code that runs it:
the window builds its menus from this table (gui/widgets/actions.py, `build_menus`), each part of
the window contributes the functions behind its ids (the window, the session, the share,
teaching), and nobody finds a menu by its title. A menu is a list of sections; sections are
separated by a line. Commands made at run time (one per shipped lesson) are specs too, added to
the registry before the menus are built.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ActionSpec:
    id: str                      # the key in the window's `actions`
    title: str                   # with & before the mnemonic letter
    tip: str                     # tooltip and status tip (the shortcut is added to it)
    menu: str | None = None      # a key of MENUS; None: a command with a key but no menu entry
    section: str = ""            # a key of the menu's SECTIONS
    shortcut: str | None = None
    checkable: bool = False
    window_wide: bool = False    # its key works wherever the focus is (a presenter's clicker)
    enabled: bool = True         # at start
    submenu: str | None = None   # the title of the submenu (in its section) it sits in
    more_shortcuts: tuple[str, ...] = ()   # other keys that do the same (Ctrl+Y for redo)


#: menu key -> its title, in menu-bar order
MENUS: dict[str, str] = {"file": "&File", "edit": "&Edit", "view": "&View", "share": "S&hare", "help": "&Help"}

#: menu key -> its sections, in order (a line between two sections that have entries)
SECTIONS: dict[str, tuple[str, ...]] = {
    "file": ("open", "session", "export", "quit"),
    "edit": ("history", "tools", "edits"),
    "view": ("panels", "teaching panels", "presenter", "layout"),
    "share": ("share",),
    "help": ("help", "lessons", "about"),
}

#: submenu title -> its tooltip
LESSONS_MENU = "&Lessons"
SUBMENU_TIPS = {LESSONS_MENU: "The shipped lessons: the paper's story step by step, for a class"}

#: the sections whose entries are Qt's own (a dock's show/hide toggle): the window adds them
DOCK_TOGGLES = {"panels": "view", "teaching panels": "view"}


def _file() -> list[ActionSpec]:
    return [
        ActionSpec("open_file", "&Open file…", "Open an .npz or MNIST IDX file", "file", "open", "Ctrl+O"),
        ActionSpec("open_folder", "Open &folder…", "Open a folder of images (sub-folders become labels)",
                   "file", "open", "Ctrl+Shift+O"),
        ActionSpec("open_builtin", "Open &built-in…", "Open a data set that ships with the app (a generated one "
                   "with its generator's settings)", "file", "open", "Ctrl+B"),
        ActionSpec("open_sweep", "Open s&weep…", "Open a sweep folder (viscause sweep --out DIR): its table of "
                   "cells, its figures, and each cell's run folder", "file", "open"),
        ActionSpec("open_lesson", "Open &lesson…", "Open a lesson file (.json or .toml) and show its first step",
                   "file", "open", "Ctrl+L"),
        ActionSpec("save_lesson", "Save as lesson…", "Write the current set-up (data, settings, panels, and the "
                   "open lesson's steps) as a lesson file", "file", "open"),
        ActionSpec("save_session", "&Save session", "Save the whole session (data, classes, answers, weights, "
                   "history) to its file", "file", "session", "Ctrl+S"),
        ActionSpec("save_session_as", "Save session &as…", "Save the session to a new file", "file", "session",
                   "Ctrl+Shift+S"),
        ActionSpec("open_session", "Open &session…", "Open a saved session and go on where it stopped",
                   "file", "session"),
        ActionSpec("export_answers", "Export answers CSV…", "Every answer and undo of the oracle as CSV",
                   "file", "export"),
        ActionSpec("export_causal", "Export causal data set (npz)…", "Images with their causal class, and the "
                   "answered manipulated images", "file", "export"),
        ActionSpec("export_plots", "Export plots (PNG)…", "The learning panel's plots as PNG images",
                   "file", "export"),
        ActionSpec("quit", "&Quit", "Close the window (stops background work)", "file", "quit", "Ctrl+Q"),
    ]


def _view() -> list[ActionSpec]:
    return [
        ActionSpec("presenter", "&Presenter mode", "Large fonts and lines, high contrast, secondary panels "
                   "hidden: for a projector", "view", "presenter", "F11", checkable=True),
        ActionSpec("zoom_in", "Zoom in", "Everything larger in presenter mode", "view", "presenter", "Ctrl+="),
        ActionSpec("zoom_out", "Zoom out", "Everything smaller in presenter mode", "view", "presenter", "Ctrl+-"),
        ActionSpec("reset_layout", "Reset layout", "Show every panel in its default place", "view", "layout"),
        ActionSpec("lesson_next", "Next step", "The lesson's next step", None, shortcut="PgDown",
                   window_wide=True, enabled=False),     # only while a lesson is open: PgDown scrolls lists
        ActionSpec("lesson_back", "Previous step", "The lesson's previous step", None, shortcut="PgUp",
                   window_wide=True, enabled=False),
    ]


def _share_and_help() -> list[ActionSpec]:
    return [
        ActionSpec("share", "&Let others answer…", "Open a web page on which other people answer the oracle's "
                   "images from their phones", "share", "share"),
        ActionSpec("share_stop", "&Stop sharing", "Stop the web server; every answer given stays in the session",
                   "share", "share", enabled=False),
        ActionSpec("help", "&How it works", "What C, S, P(T|I) and P(T|man I) mean", "help", "help", "F1"),
        ActionSpec("about", "&About", "About viscause", "help", "about"),
    ]


def _canvas() -> list[ActionSpec]:
    """The canvas's tools and edits (the Edit menu; the canvas shows them as buttons too)."""
    tools = [ActionSpec(key, title, tip, "edit", "tools", shortcut, checkable=True) for key, title, tip, shortcut in (
        ("pen", "Pen", "Draw ink", "B"), ("eraser", "Eraser", "Erase ink", "E"),
        ("hbar", "H-bar", "Click a row to fill it with ink (the GRATING cause)", "H"),
        ("vbar", "V-bar", "Click a column to fill it with ink (the GRATING spurious correlate)", "V"),
        ("picker", "Eyedropper", "Click a pixel to paint with its colour (then back to the pen)", "O"))]
    shifts = [ActionSpec(f"shift_{name}", arrow, f"Shift the image one pixel {name} (wraps around)", "edit", "edits",
                         f"Alt+{name.capitalize()}")
              for name, arrow in (("left", "←"), ("right", "→"), ("up", "↑"), ("down", "↓"))]
    return [
        ActionSpec("undo", "Undo", "Undo the last edit", "edit", "history", "Ctrl+Z"),
        ActionSpec("redo", "Redo", "Redo the last undone edit", "edit", "history", "Ctrl+Shift+Z",
                   more_shortcuts=("Ctrl+Y",)),
        ActionSpec("revert", "Revert", "Back to the data set image last opened", "edit", "history", "Ctrl+R"),
        *tools,
        ActionSpec("colour", "Colour…", "Choose the pen colour (2 channels: its red and green)", "edit", "tools", "C"),
        ActionSpec("noise", "Noise", "Add noise (binary images: flip ~3% of the pixels)", "edit", "edits", "N"),
        *shifts,
        ActionSpec("invert", "Invert", "Swap ink and paper", "edit", "edits", "I"),
        ActionSpec("clear", "Clear", "Erase everything", "edit", "edits", "Delete"),
    ]


#: the canvas's commands: the canvas makes their QActions (they act on its image)
CANVAS_ACTIONS: tuple[ActionSpec, ...] = tuple(_canvas())

#: every command but the lessons (one per shipped lesson, added by teaching)
APP_ACTIONS: tuple[ActionSpec, ...] = (*_file(), *CANVAS_ACTIONS, *_view(), *_share_and_help())


class ActionRegistry:
    """The commands of one window, in the order they were added."""

    def __init__(self, specs: Iterable[ActionSpec] = APP_ACTIONS):
        self._specs: dict[str, ActionSpec] = {}
        self.add(specs)

    def add(self, specs: Iterable[ActionSpec]) -> None:
        for spec in specs:
            if spec.id in self._specs:
                raise ValueError(f"two commands with the id {spec.id!r}")
            if spec.menu is not None and spec.section not in SECTIONS.get(spec.menu, ()):
                raise ValueError(f"{spec.id!r}: no section {spec.section!r} in the menu {spec.menu!r}")
            self._specs[spec.id] = spec

    def __getitem__(self, key: str) -> ActionSpec:
        return self._specs[key]

    def __contains__(self, key: object) -> bool:
        return key in self._specs

    def __iter__(self):
        return iter(self._specs.values())

    def section(self, menu: str, section: str) -> list[ActionSpec]:
        return [s for s in self._specs.values() if s.menu == menu and s.section == section]

    def shortcut_clashes(self) -> list[tuple[str, str, str]]:
        """(shortcut, first id, second id) for shortcuts two commands share (none may)."""
        seen: dict[str, str] = {}
        clashes = []
        for spec in self._specs.values():
            for shortcut in (spec.shortcut, *spec.more_shortcuts) if spec.shortcut else ():
                key = shortcut.lower()
                if key in seen:
                    clashes.append((shortcut, seen[key], spec.id))
                seen.setdefault(key, spec.id)
        return clashes
