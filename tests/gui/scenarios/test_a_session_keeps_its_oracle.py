"""A person who answers as the oracle saves the session and opens it again: the oracle is still
"Human", not the data set's default (it came back as "Truth")."""
from __future__ import annotations

import pytest

from tests.gui.conftest import open_main_window, pick_item
from viscause_gui.core.experiments.grating import GratingModel

pytestmark = pytest.mark.slow      # two main windows, a session saved and opened


def test_a_reopened_session_keeps_the_oracle_a_person_chose(qtbot, settings, tmp_path):
    first = open_main_window(qtbot, settings)
    first.state.set_dataset(GratingModel().sample(300, 0))
    learning = first.panels["learning"]
    assert learning.oracle_combo.currentData() == "truth"          # GRATING's default
    pick_item(qtbot, learning.oracle_combo, "human")
    learning.queries_spin.setValue(12)
    assert first.session.save_to(tmp_path / "mine.vcsession")
    second = open_main_window(qtbot, settings)
    assert second.session.open(tmp_path / "mine.vcsession")
    reopened = second.panels["learning"]
    assert reopened.oracle_combo.currentData() == "human" and reopened.oracle_combo.currentText().startswith("Human")
    assert reopened.queries_spin.value() == 12
