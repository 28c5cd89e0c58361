"""The action registry: every command declared once, in a menu section that exists, no key twice."""
from __future__ import annotations

import pytest

from viscause_gui.gui.models.actions import APP_ACTIONS, MENUS, SECTIONS, ActionRegistry, ActionSpec


def test_the_app_commands_share_no_shortcut():
    assert ActionRegistry().shortcut_clashes() == []


def test_every_menu_has_its_sections_and_every_command_a_tooltip():
    assert set(SECTIONS) == set(MENUS)
    for spec in APP_ACTIONS:
        assert spec.tip and spec.tip != spec.title.replace("&", ""), spec.id


def test_a_second_command_with_the_same_id_is_refused():
    registry = ActionRegistry()
    with pytest.raises(ValueError, match="two commands with the id 'quit'"):
        registry.add([ActionSpec("quit", "Quit again", "again", "file", "quit")])


def test_a_command_in_a_section_that_does_not_exist_is_refused():
    with pytest.raises(ValueError, match="no section 'nowhere' in the menu 'file'"):
        ActionRegistry([ActionSpec("x", "X", "an x", "file", "nowhere")])


def test_a_clash_is_found_whatever_the_case():
    registry = ActionRegistry([ActionSpec("a", "A", "an a", "file", "open", "Ctrl+K"),
                               ActionSpec("b", "B", "a b", "file", "open", "ctrl+k")])
    assert registry.shortcut_clashes() == [("ctrl+k", "a", "b")]


def test_sections_keep_the_order_commands_were_added():
    ids = [spec.id for spec in ActionRegistry().section("file", "open")]
    assert ids == ["open_file", "open_folder", "open_builtin", "open_sweep", "open_lesson", "save_lesson"]
