"""The Oracle queue tab over ten outcomes: each waiting image gets a list of the outcomes (not Yes / No); the
outcome chosen is journalled as its index, as a key in the Oracle (label) panel would."""
from __future__ import annotations

from PySide6.QtWidgets import QComboBox

from tests.gui.panels.test_labelling_outcomes import panel_on, ten_outcomes, waiting_batch
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.queue_view import QueueView


def test_the_queue_offers_the_outcomes_and_journals_the_one_chosen(qtbot, tmp_path):
    state = AppState()
    state.set_dataset(ten_outcomes())
    waiting_batch(state)
    panel = panel_on(qtbot, state, tmp_path / "q.journal.jsonl")
    queue = QueueView(state)
    qtbot.addWidget(queue)
    queue.use_oracle(panel)
    queue.show()
    queue.refresh()
    assert "choose the outcome T takes" in queue.status.text()
    choice = queue.table.cellWidget(0, 3)
    assert isinstance(choice, QComboBox)
    assert [choice.itemText(k) for k in range(choice.count())] == ["answer…", *(str(d) for d in range(10))]
    choice.activated.emit(4)                                         # the person picks outcome "3"
    assert panel.progress.text() == "1 / 10 answered"
    assert [r.value for r in panel.session.records() if r.type == "answer"] == [3.0]

