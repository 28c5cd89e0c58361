"""The Learning panel's recipe model (Qt-free), through a mock view: a person's own data gets the recipe
`viscause run DATA` chooses, each change is shown at once, reset goes back, a session keeps it."""
from __future__ import annotations

import numpy as np
import pytest

from viscause_gui.core.method.experiment import ExperimentConfig
from viscause_gui.core.method.recipe import DataFacts, choose_recipe
from viscause_gui.gui.controllers.recipe import RecipeModel, RecipeShown, config_lines, parse_hidden

GREY = DataFacts(60, 10, 10, 1, False)
BINARY = DataFacts(60, 10, 10, 1, True)
COLOUR = DataFacts(200, 32, 32, 3, False)


class MockView:
    def __init__(self) -> None:
        self.shown: list[RecipeShown] = []

    def show_recipe(self, shown: RecipeShown) -> None:
        self.shown.append(shown)

    @property
    def last(self) -> RecipeShown:
        return self.shown[-1]


@pytest.fixture
def view() -> MockView:
    return MockView()


@pytest.fixture
def model(view) -> RecipeModel:
    model = RecipeModel(view)
    model.use_data(GREY)
    return model


def test_own_data_gets_the_recipe_the_command_chooses_with_no_options(model, view):
    cli = choose_recipe(GREY, (), {"net": None, "hidden": None, "ensemble": None, "manipulator": None})
    run = {"iterations": 20, "queries": 100, "alpha": 0.5, "seed": 0, "queries_by": "active"}
    assert model.experiment_config(**run) == cli.experiment_config(**run)
    shown = view.last
    assert shown.editable and not shown.changed and shown.problem is None
    assert shown.lines == tuple(cli.describe())
    assert (shown.net, shown.hidden, shown.ensemble, shown.manipulator, shown.invariances) == (
        "mlp", "100", 2, "patches", ())
    assert (shown.epochs, shown.retrain_epochs) == (cli.epochs, cli.retrain_epochs)
    assert "60 10x10 grey images" in shown.title


def test_each_change_is_shown_at_once_with_your_choice(model, view):
    model.set_invariance("flips", True)
    assert view.last.invariances == ("flips",) and view.last.changed
    assert "invariances: flips (your choice)" in view.last.lines[3]
    model.set_manipulator("pixels")
    assert view.last.manipulator == "pixels" and "search: pixels (your choice)" in view.last.lines[2]
    model.set_net("cnn")
    assert view.last.net == "cnn" and view.last.lines[0].startswith("causal net: CNN")
    model.set_hidden("300, 50")
    assert view.last.hidden == "300,50" and "300, 50 hidden" in view.last.lines[0]
    model.set_ensemble(3)
    assert view.last.ensemble == 3 and "ensemble of 3 (your choice)" in view.last.lines[0]
    model.set_epochs(2)
    assert (view.last.epochs, view.last.retrain_epochs) == (2, 2)
    config = model.experiment_config(queries=5)
    assert (config.augment_flips, config.manipulator, config.net["arch"], config.net["hidden"], config.ensemble,
            config.epochs, config.augment_shifts) == (True, "pixels", "cnn", [300, 50], 3, 2, 0)


def test_one_kind_of_shift_at_a_time_and_none_when_every_box_is_off(model, view):
    model.set_invariance("shifts", True)
    model.set_invariance("flips", True)
    model.set_invariance("cyclic-shifts", True)            # takes the place of shifts, as the CLI takes one
    assert view.last.invariances == ("cyclic-shifts", "flips") and view.last.problem is None
    config = model.experiment_config()
    assert (config.augment_shifts, config.shift_mode, config.augment_flips) == (10, "cyclic", True)
    model.set_invariance("cyclic-shifts", False)
    model.set_invariance("flips", False)
    assert view.last.invariances == () and view.last.lines[3].startswith("invariances: none")
    assert model.experiment_config().augment_shifts == 0


def test_reset_goes_back_to_the_data_recipe(model, view):
    model.set_manipulator("pixels")
    model.set_invariance("shifts", True)
    model.reset()
    assert not view.last.changed and view.last.manipulator == "patches" and view.last.invariances == ()
    assert model.recipe == choose_recipe(GREY)


def test_a_change_to_the_same_value_is_no_change(model, view):
    before = len(view.shown)
    model.set_net("mlp")
    model.set_hidden("100")
    model.set_ensemble(2)
    model.set_manipulator("patches")
    model.set_epochs(model.recipe.epochs)
    assert len(view.shown) == before and not view.last.changed


def test_bad_hidden_units_are_refused_in_words_and_change_nothing(model, view):
    for text in ("", "0", "100,,3", "abc", "5000"):
        model.set_hidden(text)
        assert view.last.problem is not None and "Hidden units" in view.last.problem, text
        assert model.recipe.net["hidden"] == [100]
    model.set_hidden("100")                                  # the same as before: the problem is gone
    assert view.last.problem is None


def test_binary_images_always_flip_pixels(view):
    model = RecipeModel(view)
    model.use_data(BINARY)
    assert view.last.manipulator_fixed and view.last.manipulator == "pixels"
    model.set_manipulator("manifold")
    assert model.recipe.manipulator == "pixels"
    assert "manifold search is for grey and colour images" in view.last.lines[2]


def test_colour_images_get_a_cnn(view):
    model = RecipeModel(view)
    model.use_data(COLOUR)
    assert view.last.net == "cnn" and view.last.hidden == "64" and not view.last.manipulator_fixed


def test_a_session_keeps_the_recipe_with_the_changes(model, view):
    model.set_invariance("flips", True)
    model.set_ensemble(3)
    doc = model.to_json()
    other = RecipeModel(MockView())
    other.use_data(GREY)
    assert other.restore(doc, GREY)
    assert other.recipe == model.recipe and other.view.last.changed
    other.reset()
    assert other.recipe == choose_recipe(GREY)


def test_a_damaged_or_foreign_recipe_is_not_restored(model, view):
    doc = model.to_json()
    for bad in (None, {}, {**doc, "version": 99}, {**doc, "net": {"arch": "mlp", "hidden": [10**6]}}, "recipe"):
        assert not model.restore(bad, GREY)
    assert not model.restore(doc, BINARY)                  # another data set's images
    assert model.recipe == choose_recipe(GREY)


def test_built_in_data_is_shown_read_only(view):
    model = RecipeModel(view)
    model.use_builtin("GRATING's", config_lines(ExperimentConfig(), binary=True))
    shown = view.last
    assert not shown.editable and model.recipe is None and model.to_json() is None
    assert shown.lines == ("causal net: MLP, hidden layer of 100, one net", "search: pixel flips",
                           "invariances: 10 cyclic shifts of each answered image")
    assert shown.summary() == "GRATING's"
    model.set_invariance("flips", True)
    model.set_epochs(3)
    model.reset()
    assert view.last == shown


def test_config_lines_say_a_built_in_recipe():
    config = ExperimentConfig(net={"arch": "mlp", "hidden": [300]}, ensemble=3, adversarial_radius=2.5,
                              manipulator="manifold", augment_shifts=0, augment_jitter=2, augment_flips=True)
    lines = config_lines(config, binary=False)
    assert lines[0] == "causal net: MLP, hidden layer of 300, ensemble of 3, trained with adversarial copies " \
                       "(radius 2.5)"
    assert lines[1].startswith("search: manifold")
    assert lines[2] == "invariances: each answered image's mirror image, 2 jittered copies of every image"


@pytest.mark.parametrize("text, units", [("100", [100]), (" 300 , 100 ", [300, 100]), ("4096", [4096]),
                                         ("4097", None), ("0", None), ("", None), ("1.5", None)])
def test_parse_hidden(text, units):
    assert parse_hidden(text) == units


def test_facts_of_images_agree_with_the_command():
    images = np.random.default_rng(0).random((60, 10, 10)).astype(np.float32)
    assert DataFacts.of(images, False) == GREY
