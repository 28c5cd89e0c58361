"""The Oracle (label) panel's text of an image's answers, binary and over K outcomes, without Qt."""
from __future__ import annotations

import math

import numpy as np

from viscause_gui.gui.models.answer_text import binary_answers_text, given_outcome, outcome_answers_text

NAMES, KEYS = ("left", "up", "right"), ("l", "u", "r")


def test_binary_answers():
    assert binary_answers_text(math.nan, math.nan, 0, 1) == "not answered yet"
    assert binary_answers_text(1.0, math.nan, 1, 1) == "your answer: yes (1)"
    assert binary_answers_text(math.nan, math.nan, 1, 1) == "your answer: ?"
    assert binary_answers_text(2 / 3, 0.44, 3, 3) == "3/3 answers · yes fraction 0.67 · disagreement 0.44"


def test_answers_over_three_outcomes():
    one = np.array([0.0, 1.0, 0.0])
    assert outcome_answers_text(one, math.nan, 1, 1, NAMES, KEYS) == "your answer: up [u]"
    assert given_outcome(one, 1) == (1, True)
    shares = np.array([0.5, 0.0, 0.5])
    assert (outcome_answers_text(shares, 0.5, 2, 3, NAMES, KEYS)
            == "2/3 answers · left 0.50, right 0.50 · disagreement 0.50")
    assert given_outcome(shares, 2) == (0, False)                   # several outcomes: no button checked
    unknown = np.full(3, np.nan)
    assert outcome_answers_text(unknown, math.nan, 1, 1, NAMES, KEYS) == "your answer: ?"
    assert given_outcome(unknown, 1) == (None, True) and given_outcome(unknown, 0) == (None, False)
