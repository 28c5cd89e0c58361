"""Edits of the canvas image as plain numpy (Qt-free, testable alone) and the undo history.

An image is (H, W) grey (1.0 = ink) or (H, W, C) colour (channels last). A pixel value is a
float for grey and a (C,) vector for colour: the pen's colour, or the background the eraser
paints (`background`).
"""
from __future__ import annotations

import numpy as np

TOOLS = ("pen", "eraser", "hbar", "vbar")
PICKER = "picker"            # the eyedropper: a colour image's tool only, never remembered as the tool
CORNER_SAMPLE = 1000         # images whose corners decide a colour data set's background

Value = float | np.ndarray


HISTORY_LIMIT = 200


def disk(size: int) -> np.ndarray:
    """A boolean pen footprint of the given diameter in pixels."""
    r = (size - 1) / 2.0
    yy, xx = np.mgrid[:size, :size]
    return (yy - r) ** 2 + (xx - r) ** 2 <= r * r + 0.5


def stamp(image: np.ndarray, row: int, col: int, size: int, value: Value) -> None:
    """Set a disk of pixels around (row, col) to value, in place (clipped at the borders)."""
    h, w = image.shape[:2]
    mask = disk(size)
    top, left = row - (size - 1) // 2, col - (size - 1) // 2
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + size, h), min(left + size, w)
    if r0 >= r1 or c0 >= c1:
        return
    sub = mask[r0 - top:r1 - top, c0 - left:c1 - left]
    image[r0:r1, c0:c1][sub] = value


def stroke(image: np.ndarray, start: tuple[int, int], end: tuple[int, int], size: int, value: Value) -> None:
    """Stamp along the straight line from start to end (in place)."""
    steps = max(abs(end[0] - start[0]), abs(end[1] - start[1]), 1)
    for t in np.linspace(0.0, 1.0, steps + 1):
        stamp(image, round(start[0] + t * (end[0] - start[0])),
              round(start[1] + t * (end[1] - start[1])), size, value)


def fill_row(image: np.ndarray, row: int, value: Value = 1.0) -> np.ndarray:
    out = image.copy()
    if 0 <= row < out.shape[0]:
        out[row, :] = value
    return out


def fill_col(image: np.ndarray, col: int, value: Value = 1.0) -> np.ndarray:
    out = image.copy()
    if 0 <= col < out.shape[1]:
        out[:, col] = value
    return out


def pixel(image: np.ndarray, row: int, col: int) -> Value | None:
    """The value under (row, col) (a copy; None outside the image): what the eyedropper picks."""
    h, w = image.shape[:2]
    if not (0 <= row < h and 0 <= col < w):
        return None
    value = image[row, col]
    return np.array(value, np.float32) if np.ndim(value) else float(value)


def background(images: np.ndarray) -> Value:
    """What the eraser paints. Grey (N, H, W): 0.0, no ink. Colour (N, H, W, C): the most common
    colour of the four corner pixels of the first CORNER_SAMPLE images (rounded to 1/255), e.g.
    black for Colored MNIST and white for photos on white; black (0 in every channel) when the
    data set is empty."""
    images = np.asarray(images)
    if images.ndim != 4:
        return 0.0
    if not len(images):
        return np.zeros(images.shape[-1], np.float32)
    corners = images[:CORNER_SAMPLE][:, [0, 0, -1, -1], [0, -1, 0, -1]].reshape(-1, images.shape[-1])
    values, counts = np.unique(np.round(corners * 255), axis=0, return_counts=True)
    return (values[np.argmax(counts)] / 255).astype(np.float32)


def add_noise(image: np.ndarray, amount: float, rng: np.random.Generator, binary: bool) -> np.ndarray:
    """Binary: flip each pixel with probability `amount`; grey: add N(0, amount²), clipped."""
    if binary:
        flips = rng.random(image.shape) < amount
        return np.where(flips, 1.0 - image, image).astype(np.float32)
    return np.clip(image + rng.normal(0.0, amount, image.shape), 0.0, 1.0).astype(np.float32)


def shift(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Cyclic shift (bars stay bars; the experiment uses the same invariance)."""
    return np.roll(image, (rows, cols), axis=(0, 1))


def invert(image: np.ndarray) -> np.ndarray:
    return (1.0 - image).astype(np.float32)


class EditHistory:
    """Undo / redo as a stack of image copies."""

    def __init__(self, limit: int = HISTORY_LIMIT):
        self.limit = limit
        self.undo_stack: list[np.ndarray] = []
        self.redo_stack: list[np.ndarray] = []

    def push(self, image: np.ndarray) -> None:
        self.undo_stack.append(image.copy())
        del self.undo_stack[:-self.limit]
        self.redo_stack.clear()

    def undo(self, current: np.ndarray) -> np.ndarray | None:
        if not self.undo_stack:
            return None
        self.redo_stack.append(current.copy())
        return self.undo_stack.pop()

    def redo(self, current: np.ndarray) -> np.ndarray | None:
        if not self.redo_stack:
            return None
        self.undo_stack.append(current.copy())
        return self.redo_stack.pop()

    def clear(self) -> None:
        self.undo_stack.clear()
        self.redo_stack.clear()
