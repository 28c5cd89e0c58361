"""What drawing on the canvas does (Qt-free): the image being drawn, the tool and the pen, a click or
a drag turned into edits, the whole-image edits, undo / redo, and the image handed to the app.

The Canvas panel is its view (`CanvasView`): it paints the image, shows the tool and the pen
colour, and publishes edits (at once, or once the pen rests: coalesced with a timer). The edits
themselves are numpy functions (controllers.drawing). On colour data the pen paints its colour
and the eraser the data set's background (`drawing.background`); grey data has ink (1) and paper (0).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from viscause_gui.gui.controllers.drawing import (PICKER, TOOLS, EditHistory, Value, add_noise, background, fill_col,
                                                  fill_row, invert, pixel, shift, stamp, stroke)


class CanvasView(Protocol):
    def show_image(self, new_shape: bool) -> None: ...       # the image as it is now (new shape: new frame, colours)
    def show_edit(self, publish_now: bool) -> None: ...      # an edit: show it; publish() now or once the pen rests
    def publish(self) -> None: ...                           # hand the image to the app now (calls back publish())
    def show_tool(self, tool: str, remember: bool) -> None: ...
    def show_pen_colour(self, values: np.ndarray) -> None: ...
    def show_colour_tools(self, colour: bool) -> None: ...


class CanvasController:
    """The image on the canvas and everything a person does to it."""

    def __init__(self, state: Any, view: CanvasView):
        self.state, self.view = state, view
        self.image = np.zeros((10, 10), np.float32)
        self.binary = True
        self.background: Value = 0.0            # what the eraser paints (grey: no ink)
        self.pen_colour: np.ndarray | None = None   # colour data: the pen's channel values (C,)
        self.pen_size = 1
        self.history = EditHistory()
        self.rng = np.random.default_rng()
        self.noise_amount = 0.03
        self.tool = "pen"
        self._last: tuple[int, int] | None = None   # the pixel a pen / eraser stroke is at
        self._source_index: int | None = None        # the data set image last opened (what Revert goes back to)
        self._publishing = False

    @property
    def colour(self) -> bool:
        """Whether the image on the canvas is a colour image (H, W, C)."""
        return self.image.ndim == 3

    # ----- the tool and the pen -----
    def set_tool(self, name: str) -> None:
        if name not in TOOLS and not (name == PICKER and self.colour):
            raise ValueError(f"unknown tool {name!r}; one of {TOOLS} (and {PICKER!r} for colour images)")
        self.tool = name
        self.view.show_tool(name, remember=name != PICKER)   # the eyedropper is a moment's tool, not remembered

    def set_pen_colour(self, values: Any) -> None:
        """The pen's colour as channel values (C,) in [0, 1] (colour images only)."""
        values = np.clip(np.asarray(values, np.float32).reshape(-1), 0.0, 1.0)
        if not self.colour or values.shape != self.image.shape[2:]:
            raise ValueError(f"a pen colour has one value per channel of the image {self.image.shape}")
        self.pen_colour = values
        self.view.show_pen_colour(values)

    def pick(self, row: int, col: int) -> None:
        """The eyedropper: the pen takes the colour of a pixel, and the pen is the tool again."""
        value = pixel(self.image, row, col)
        if value is not None and self.colour:
            self.set_pen_colour(value)
            self.set_tool("pen")

    def _ink(self) -> Value:
        """What the pen and the bars paint: ink (grey) or the pen colour."""
        return self.pen_colour if self.colour and self.pen_colour is not None else 1.0

    # ----- a click or a drag (what the mouse calls) -----
    def press(self, row: int, col: int) -> None:
        """Start an edit at a pixel with the current tool (the eyedropper picks its colour instead)."""
        if self.tool == PICKER:
            self.pick(row, col)
            return
        self.history.push(self.image)
        self._last = (row, col)
        if self.tool == "hbar":
            self.image = fill_row(self.image, row, self._ink())
        elif self.tool == "vbar":
            self.image = fill_col(self.image, col, self._ink())
        else:
            stamp(self.image, row, col, self.pen_size, self._ink() if self.tool == "pen" else self.background)
        self.view.show_edit(publish_now=False)

    def move_to(self, row: int, col: int) -> None:
        """Continue a pen / eraser stroke to a pixel."""
        if self._last is None or self.tool not in ("pen", "eraser") or (row, col) == self._last:
            return
        stroke(self.image, self._last, (row, col), self.pen_size,
               self._ink() if self.tool == "pen" else self.background)
        self._last = (row, col)
        self.view.show_edit(publish_now=False)

    def release(self) -> None:
        """End an edit (a click of the eyedropper edited nothing and publishes nothing)."""
        edited = self._last is not None
        self._last = None
        if edited:
            self.view.publish()

    # ----- whole-image edits (the actions) -----
    def apply(self, edit: Callable[[np.ndarray], np.ndarray]) -> None:
        """Apply a whole-image edit (undoable)."""
        self.history.push(self.image)
        self.image = np.ascontiguousarray(edit(self.image), dtype=np.float32)
        self.view.show_edit(publish_now=True)

    def add_noise(self) -> None:
        self.apply(lambda img: add_noise(img, self.noise_amount if self.binary else 0.1, self.rng, self.binary))

    def shift(self, rows: int, cols: int) -> None:
        self.apply(lambda img: shift(img, rows, cols))

    def invert(self) -> None:
        self.apply(invert)

    def clear(self) -> None:
        self.apply(self._blank)

    def _blank(self, image: np.ndarray) -> np.ndarray:
        out = np.empty_like(image)
        out[...] = self.background
        return out

    def revert(self) -> None:
        """Back to the data set image last opened."""
        index = self.state.current_index if self.state.current_index is not None else self._source_index
        data = self.state.dataset
        if index is not None and data is not None and index < len(data):
            self.apply(lambda img: data.images[index].copy())

    def undo(self) -> None:
        image = self.history.undo(self.image)
        if image is not None:
            self.image = image
            self.view.show_edit(publish_now=True)

    def redo(self) -> None:
        image = self.history.redo(self.image)
        if image is not None:
            self.image = image
            self.view.show_edit(publish_now=True)

    # ----- the app state -----
    def publish(self) -> None:
        """Hand the edited image to the app state (every panel sees it)."""
        self._publishing = True
        try:
            self.state.set_current_image(self.image.copy())
        finally:
            self._publishing = False

    def dataset_changed(self) -> None:
        """A new data set: binary or not, and the background the eraser paints."""
        ds = self.state.dataset
        self.binary = bool(ds.is_binary) if ds is not None else True
        self.background = background(ds.images) if ds is not None else 0.0
        self._source_index = None

    def state_image_changed(self) -> None:
        """Another panel changed the current image (not this canvas publishing its own): show it, with
        no undo history."""
        if self._publishing or self.state.current_image is None:
            return
        image = np.asarray(self.state.current_image, np.float32)
        if self.state.current_index is None and image.shape == self.image.shape and np.array_equal(image, self.image):
            return
        self._source_index = self.state.current_index
        self.history.clear()
        self._show_new(image.copy())

    def _show_new(self, image: np.ndarray) -> None:
        shape_changed = image.shape != self.image.shape
        self.image = image
        if shape_changed:
            self._colour_mode()
        self.view.show_image(new_shape=shape_changed)

    def _colour_mode(self) -> None:
        """A new image shape: colour tools and a pen colour that fits its channels (the complement of the
        background: white on black), or ink on grey (where the eyedropper is no tool)."""
        colour = self.colour
        if not colour:
            self.pen_colour = None
        elif self.pen_colour is None or self.pen_colour.shape != self.image.shape[2:]:
            bg = np.broadcast_to(np.asarray(self.background, np.float32), self.image.shape[2:])
            self.set_pen_colour(1.0 - bg)
        self.view.show_colour_tools(colour)
        if not colour and self.tool == PICKER:
            self.set_tool("pen")
