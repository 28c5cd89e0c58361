"""The ink-pattern check on the readout net's answers (core/method/ink_patterns.py)."""
import numpy as np

from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.method.ink_patterns import InkPatterns, learn_ink_patterns
from viscause_gui.gui.models.readout import declared_copies

MODEL = GratingModel()


def lines(n: int, rng: np.random.Generator, horizontal: bool) -> tuple[np.ndarray, np.ndarray]:
    """n images, half of them with a full line at a random place (class 1), all with the data's noise."""
    images = (rng.random((n, 10, 10)) < MODEL.noise).astype(np.float32)
    labels = (np.arange(n) % 2).astype(np.int64)
    for i in np.flatnonzero(labels == 1):
        images[i, rng.integers(0, 10)] = 1.0
    return (images, labels) if horizontal else (images.transpose(0, 2, 1).copy(), labels)


def no_copies(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return images, labels


def test_an_image_lacking_one_pixel_of_its_classes_line_is_taken_out_of_the_class():
    images, labels = lines(600, np.random.default_rng(0), horizontal=True)
    patterns = learn_ink_patterns(images, labels, 2, no_copies)
    assert patterns is not None
    full, broken = np.zeros((2, 10, 10), np.float32), None
    full[:, 3] = 1.0
    broken = full.copy()
    broken[1, 3, 6] = 0.0
    lacks, _ = patterns.check(broken)
    assert lacks.tolist() == [[False, False], [False, True]]
    assert patterns.restrict(broken, np.array([[0.1, 0.9], [0.1, 0.9]])).argmax(axis=1).tolist() == [1, 0]


def test_grey_images_and_classes_that_are_no_pattern_get_no_check():
    rng = np.random.default_rng(1)
    images, labels = lines(600, rng, horizontal=True)
    assert learn_ink_patterns(images * 0.8, labels, 2, no_copies) is None        # grey
    assert learn_ink_patterns(images[:100], labels[:100], 2, no_copies) is None       # too few to test it
    runs = images.copy()                  # class 1: a run of 3 to 10 pixels, not one pattern
    for i in np.flatnonzero(labels == 1):
        row = np.flatnonzero(runs[i].all(axis=1))[0]
        runs[i, row, rng.integers(3, 11):] = 0.0
    assert learn_ink_patterns(runs, labels, 2, no_copies) is None


def test_the_check_uses_the_copies_the_data_declares():
    data = MODEL.sample(800, seed=2)
    labels = data.obs_class
    plain = learn_ink_patterns(data.images, labels, 4, no_copies)
    shifted = learn_ink_patterns(data.images, labels, 4, lambda x, y: declared_copies(data, x, y, 0))
    assert plain is None                 # some pair of bars (row, column) has too few images
    assert isinstance(shifted, InkPatterns)
    assert sum(len(r) for r in shifted.references) > 5 * len(data)


def test_unique_rows_are_numpys_unique_rows_in_the_same_order():
    from viscause_gui.core.method.ink_patterns import _unique_rows

    rng = np.random.default_rng(0)
    for shape in [(1000, 64), (500, 7), (300, 100), (0, 10), (5, 1)]:
        rows = rng.random(shape) < 0.3
        rows = np.concatenate([rows, rows[: len(rows) // 2]])
        np.testing.assert_array_equal(_unique_rows(rows), np.unique(rows, axis=0))
