"""File → Export answers over K > 2 outcomes: each answer's outcome is named (the window's data set's names),
and a binary T's CSV has the columns it always had."""
from __future__ import annotations

import csv

from viscause_gui.core.store.journal import AnswerRecord
from viscause_gui.gui.controllers.session_exports import SessionExports
from viscause_gui.gui.models.dialogs import ScriptedDialogs


def _records() -> list[AnswerRecord]:
    return [AnswerRecord("answer", "a1", 1, "ann", "2026-01-01T00:00:00Z", "algorithm1:0", 0, 2.0),
            AnswerRecord("answer", "a2", 2, "ann", "2026-01-01T00:00:01Z", "algorithm1:0", 1, float("nan"))]


def _rows(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_answers_over_three_outcomes_are_exported_by_name(tmp_path):
    exports = SessionExports(_records, lambda: None, ScriptedDialogs(), lambda: str(tmp_path))
    exports.outcomes = lambda: ("left", "up", "right")
    assert exports.answers(tmp_path / "answers.csv")
    rows = _rows(tmp_path / "answers.csv")
    assert [(r["value"], r["outcome"]) for r in rows] == [("2", "right"), ("", "")]


def test_a_binary_t_exports_as_before(tmp_path):
    exports = SessionExports(lambda: _records()[1:], lambda: None, ScriptedDialogs(), lambda: str(tmp_path))
    exports.outcomes = lambda: ("0", "1")
    assert exports.answers(tmp_path / "answers.csv")
    [row] = _rows(tmp_path / "answers.csv")
    assert "outcome" not in row and row["value"] == ""
