"""Levels and answers in words (gui/models/outcome_text.py) and the Classes panel's summaries over K outcomes."""
from __future__ import annotations

import numpy as np

from viscause_gui.gui.models.outcome_text import level_text, level_tooltip, most_likely, target_name
from viscause_gui.gui.models.summaries import causal_summary, observational_summary

NAMES = ("circle", "square", "triangle")


def test_a_distribution_is_named_by_its_most_likely_outcome_and_shown_whole_in_its_tooltip():
    level = np.array([0.05, 0.93, 0.02])
    assert most_likely(level, NAMES) == "mostly 'square' (0.93)"
    assert level_text(level, NAMES) == "mostly 'square' (0.93)"
    assert level_tooltip(level, NAMES) == "circle 0.05 · square 0.93 · triangle 0.02"
    assert target_name(2, level, NAMES) == "C2: mostly 'square' (0.93)"
    assert level_text(np.full(3, np.nan), NAMES) == "–"


def test_a_binary_level_keeps_its_number():
    assert level_text(0.834, ("0", "1")) == "0.83"
    assert level_tooltip(0.834, ("0", "1")) == ""
    assert level_text(np.nan, ("0", "1")) == "–"
    assert target_name(1, 0.834, ("0", "1")) == "C = 1   (P(T=1|man) = 0.83)"


def test_summaries_over_three_outcomes_hold_a_distribution_per_class():
    obs = np.array([0, 0, 1, 1])
    t = np.array([0, 1, 2, 2])
    s = observational_summary(obs, t=t, outcomes=3)
    np.testing.assert_allclose(s.p_t, [[0.5, 0.5, 0], [0, 0, 1]])
    c = causal_summary(np.array([0, 1, 1, 3]), np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]]), outcomes=3)
    np.testing.assert_allclose(c.p_t[:2], [[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])
    assert np.isnan(c.p_t[2]).all() and c.p_t.shape == (3, 3)


def test_binary_summaries_are_as_before():
    s = observational_summary(np.array([0, 0, 1]), t=np.array([0, 1, 1]))
    np.testing.assert_allclose(s.p_t, [0.5, 1.0])
    c = causal_summary(np.array([0, 2]), np.array([0.25, 0.85]))
    assert c.p_t[0] == 0.25 and np.isnan(c.p_t[1])
