"""The Data browser's images (gui.models.shown_images), no Qt: the class filters, view rows and data set
indices both ways, and what the tooltip and the count say."""
from __future__ import annotations

import numpy as np

from viscause_gui.gui.models.shown_images import ShownImages, selection_runs


def _shown() -> ShownImages:
    shown = ShownImages()
    shown.set_images(np.zeros((6, 4, 4), np.float32), labels=np.array([7, 7, 1, 1, 7, 1]))
    return shown


def test_every_image_shows_until_classes_are_known():
    shown = _shown()
    assert shown.rows.tolist() == list(range(6)) and shown.count_text() == "6 images"
    assert shown.choices("obs") is None and shown.class_of("causal", 3) is None
    assert shown.filtered({"obs": 1, "causal": None}).tolist() == list(range(6))   # nothing to filter by
    assert shown.tooltip(2) == "image #2\nlabel = 1"


def test_filters_combine_and_minus_one_means_any():
    shown = _shown()
    shown.set_classes(np.array([0, 1, 1, 2, 1, 0]), np.array([0, 0, 1, 1, 1, 0]), None)
    assert shown.choices("obs") == [0, 1, 2] and shown.choices("spurious") is None
    assert shown.filtered({"obs": 1, "causal": -1, "spurious": None}).tolist() == [1, 2, 4]
    shown.rows = shown.filtered({"obs": 1, "causal": 1, "spurious": 3})      # no S known: S ignored
    assert shown.rows.tolist() == [2, 4] and shown.count_text() == "2 of 6"


def test_view_rows_and_data_set_indices_both_ways():
    shown = _shown()
    shown.rows = np.array([1, 2, 4])
    assert shown.dataset_index(2) == 4
    assert shown.rows_of(np.array([4, 0, 1])).tolist() == [2, 0]     # 0 is not shown
    shown.rows = np.zeros(0, np.int64)
    assert shown.rows_of(np.array([1])).tolist() == []


def test_the_tooltip_names_learned_classes_and_the_truth_apart():
    shown = _shown()
    shown.set_classes(np.array([0, 1, 1, 2, 1, 0]), np.array([0, 0, 1, 1, 1, 0]), np.zeros(6, int),
                      given_causal=np.array([1, 1, 0, 0, 0, 1]))
    assert shown.tooltip(3).splitlines() == [
        "image #3", "observational class = 2", "causal class C = 1", "spurious class S = 0",
        "truth (given by the data set, not learned): C = 0", "label = 1"]
    shown.set_images(None)                                 # a new data set forgets them
    assert len(shown) == 0 and shown.given_causal is None and shown.classes["causal"] is None


def test_selection_runs():
    assert selection_runs(np.array([5, 1, 2, 3, 9, 10])) == [(1, 3), (5, 5), (9, 10)]
    assert selection_runs(np.array([], np.int64)) == []
