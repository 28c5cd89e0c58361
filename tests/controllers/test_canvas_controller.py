"""What drawing on the canvas does (gui.controllers.canvas and the numpy edits of gui.controllers.drawing),
with a mock view and no QApplication: each tool changes the image as expected, undo / redo, and every
edit reaches the app state."""
from __future__ import annotations

import numpy as np
import pytest

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.experiments.grating import GratingModel, has_hbar, has_vbar
from viscause_gui.gui.controllers.canvas import CanvasController
from viscause_gui.gui.controllers.drawing import PICKER, EditHistory, add_noise, disk, shift, stamp, stroke
from viscause_gui.gui.state import AppState


class MockView:
    """Keeps what the controller shows; publishes at once or when asked, as the Canvas does with its timer."""

    def __init__(self) -> None:
        self.drawing: CanvasController | None = None
        self.edits = self.images = self.published = 0
        self.soon = False                  # an edit waits for the pen to rest
        self.tools: list[tuple[str, bool]] = []
        self.pen_colours: list[np.ndarray] = []
        self.colour_tools: bool | None = None

    def show_image(self, new_shape): self.images += 1
    def show_tool(self, tool, remember): self.tools.append((tool, remember))
    def show_pen_colour(self, values): self.pen_colours.append(values)
    def show_colour_tools(self, colour): self.colour_tools = colour

    def show_edit(self, publish_now):
        self.edits += 1
        if publish_now:
            self.publish()
        else:
            self.soon = True

    def publish(self):
        self.soon = False
        self.published += 1
        self.drawing.publish()


@pytest.fixture
def state() -> AppState:
    st = AppState()
    st.set_dataset(GratingModel().sample(200, 0))
    return st


def _drawing(state: AppState) -> CanvasController:
    view = MockView()
    drawing = view.drawing = CanvasController(state, view)
    state.dataset_changed.connect(drawing.dataset_changed)            # as the Canvas connects them
    state.current_image_changed.connect(drawing.state_image_changed)
    drawing.dataset_changed()
    drawing.state_image_changed()
    return drawing


@pytest.fixture
def drawing(state) -> CanvasController:
    drawing = _drawing(state)
    drawing.clear()
    return drawing


def test_opens_the_image_another_panel_chose_with_no_undo(drawing, state):
    drawing.invert()
    state.select([5])
    np.testing.assert_array_equal(drawing.image, state.dataset.images[5])
    assert not drawing.history.undo_stack
    drawing.clear()
    drawing.revert()                                    # Revert: back to image 5
    np.testing.assert_array_equal(drawing.image, state.dataset.images[5])


def test_hbar_fills_a_row_undo_restores_redo_reapplies(drawing, state):
    before = drawing.image.copy()
    drawing.set_tool("hbar")
    drawing.press(3, 7)
    drawing.release()
    assert np.all(drawing.image[3] == 1.0) and drawing.image.sum() == 10
    assert has_hbar(drawing.image[None])[0]
    np.testing.assert_array_equal(state.current_image, drawing.image)
    assert state.current_index is None
    drawing.undo()
    np.testing.assert_array_equal(drawing.image, before)
    np.testing.assert_array_equal(state.current_image, before)
    drawing.redo()
    assert np.all(drawing.image[3] == 1.0)
    np.testing.assert_array_equal(state.current_image, drawing.image)


def test_vbar_fills_a_column(drawing):
    drawing.set_tool("vbar")
    drawing.press(2, 4)
    drawing.release()
    assert np.all(drawing.image[:, 4] == 1.0) and drawing.image.sum() == 10
    assert has_vbar(drawing.image[None])[0] and not has_hbar(drawing.image[None])[0]


def test_pen_stroke_and_eraser(drawing, state):
    drawing.set_tool("pen")
    drawing.pen_size = 1
    drawing.press(0, 0)
    drawing.move_to(0, 9)
    drawing.release()
    assert np.all(drawing.image[0] == 1.0) and drawing.image.sum() == 10
    np.testing.assert_array_equal(state.current_image, drawing.image)
    drawing.set_tool("eraser")
    drawing.press(0, 5)
    drawing.release()
    assert drawing.image[0, 5] == 0.0 and drawing.image.sum() == 9


def test_pen_size_draws_a_disk(drawing):
    drawing.pen_size = 3
    drawing.set_tool("pen")
    drawing.press(5, 5)
    drawing.release()
    assert drawing.image[4:7, 4:7].sum() == disk(3).sum()
    assert drawing.image.sum() == disk(3).sum()


def test_whole_image_edits(drawing, state):
    drawing.set_tool("hbar")
    drawing.press(0, 0)
    drawing.release()
    drawing.shift(1, 0)
    assert np.all(drawing.image[1] == 1.0)
    drawing.invert()
    assert np.all(drawing.image[1] == 0.0) and drawing.image.sum() == 90
    drawing.clear()
    assert drawing.image.sum() == 0
    drawing.noise_amount = 0.5
    drawing.add_noise()
    assert set(np.unique(drawing.image).tolist()) <= {0.0, 1.0}   # binary stays binary
    assert drawing.image.sum() > 0
    np.testing.assert_array_equal(state.current_image, drawing.image)
    for _ in range(5):
        drawing.undo()
    assert drawing.image.sum() == 0   # back to the cleared start


def test_grey_images_stay_in_range():
    rng = np.random.default_rng(0)
    img = rng.random((8, 8)).astype(np.float32)
    noisy = add_noise(img, 0.5, rng, binary=False)
    assert noisy.min() >= 0 and noisy.max() <= 1 and noisy.dtype == np.float32


def test_pure_edits():
    img = np.zeros((5, 5), np.float32)
    stamp(img, 0, 0, 3, 1.0)            # clipped at the corner
    assert img[0, 0] == 1 and img[4, 4] == 0
    img[:] = 0
    stroke(img, (0, 0), (4, 4), 1, 1.0)
    np.testing.assert_array_equal(img, np.eye(5, dtype=np.float32))
    np.testing.assert_array_equal(shift(np.eye(3), 0, 1)[0], [0, 1, 0])
    history = EditHistory(limit=2)
    for k in range(4):
        history.push(np.full((1, 1), k))
    assert len(history.undo_stack) == 2


def test_a_stroke_publishes_once_the_pen_is_lifted(drawing, state):
    before = drawing.view.published
    drawing.press(1, 1)
    drawing.move_to(1, 5)
    assert drawing.view.soon and drawing.view.published == before        # coalesced while the pen moves
    assert not np.array_equal(state.current_image, drawing.image)
    drawing.release()
    assert not drawing.view.soon and drawing.view.published == before + 1
    np.testing.assert_array_equal(state.current_image, drawing.image)
    assert state.current_index is None


def test_the_eyedropper_is_a_colour_tool_that_is_never_remembered():
    rng = np.random.default_rng(0)
    state = AppState()
    state.set_dataset(Dataset(images=rng.random((10, 6, 6, 3)).astype(np.float32)))
    drawing = _drawing(state)
    state.select([0])
    assert drawing.colour and drawing.view.colour_tools is True
    drawing.set_tool(PICKER)
    assert drawing.view.tools[-1] == (PICKER, False)
    drawing.press(2, 3)
    drawing.release()
    np.testing.assert_allclose(drawing.pen_colour, state.dataset.images[0, 2, 3])
    assert drawing.tool == "pen" and drawing.view.tools[-1] == ("pen", True)
    assert not drawing.history.undo_stack                     # picking a colour edits nothing
    drawing.set_tool("hbar")
    drawing.press(4, 0)
    drawing.release()
    np.testing.assert_allclose(drawing.image[4], np.tile(drawing.pen_colour, (6, 1)))
    with pytest.raises(ValueError, match="one value per channel"):
        drawing.set_pen_colour([0.5, 0.5])


def test_grey_data_has_no_eyedropper_and_the_eraser_paints_paper(drawing):
    assert not drawing.colour and drawing.pen_colour is None
    with pytest.raises(ValueError, match="unknown tool"):
        drawing.set_tool(PICKER)
    drawing.set_tool("hbar")
    drawing.press(2, 0)
    drawing.set_tool("eraser")
    drawing.press(2, 4)
    drawing.release()
    assert drawing.image[2].sum() == 9 and drawing.image[2, 4] == 0.0
