"""`viscause-gui` on a desktop that lacks Qt's X11 libraries (issue 21, finding 9): one line naming the
Debian / Ubuntu packages to install and exit code 3, before Qt aborts with "Could not load the Qt
platform plugin xcb" (which named xcb-cursor0 where libxcb-icccm4 and libxcb-keysyms1 were missing)."""
from __future__ import annotations

import pytest

from viscause_gui.gui import app


def lacking(*names: str):
    def load(library: str) -> object:
        if library in names:
            raise OSError(f"{library}: cannot open shared object file: No such file or directory")
        return object()
    return load


@pytest.mark.parametrize("env, platform, expected", [
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb:nograb;offscreen"}, "linux", True),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux", False),
    ({"DISPLAY": ":0"}, "linux", True),                                          # Qt's default on X11
    ({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ({"QT_QPA_PLATFORM": "xcb"}, "darwin", False),
    ({}, "win32", False),
])
def test_when_qt_starts_its_x11_plugin(env, platform, expected):
    assert app.uses_xcb(env, platform) is expected


def test_the_missing_libraries_are_named_with_their_packages():
    line = app.display_problem({"QT_QPA_PLATFORM": "xcb"}, "linux",
                               lacking("libxcb-icccm.so.4", "libxcb-keysyms.so.1"))
    assert line is not None and "\n" not in line
    assert "lacks libxcb-icccm.so.4, libxcb-keysyms.so.1" in line
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in line
    assert app.display_problem({"QT_QPA_PLATFORM": "xcb"}, "linux", lacking()) is None
    assert app.display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux", lacking("libxcb.so.1")) is None


def test_every_library_has_its_package():
    libraries = [lib for lib, _ in app.XCB_LIBRARIES]
    assert len(set(libraries)) == len(libraries) and all(".so." in lib for lib in libraries)
    for needed in ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0"):
        assert needed in libraries


def test_viscause_gui_says_which_packages_to_install_and_exits_3(monkeypatch, capsys):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(app.sys, "platform", "linux")
    monkeypatch.setattr(app, "_load_library", lacking("libxcb-cursor.so.0", "libxcb-keysyms.so.1"))
    created = []
    monkeypatch.setattr(app, "create_app", lambda *a: created.append(a))         # never reached
    assert app.main([]) == app.EXIT_NO_DISPLAY == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("viscause-gui: Qt cannot open a window on X11: ")
    assert "sudo apt install libxcb-cursor0 libxcb-keysyms1" in err and not created
