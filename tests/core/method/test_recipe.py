"""The recipe of `viscause run DATA` (core/method/recipe.py): chosen per kind of image, no invariance
unless declared, the user's overrides win, JSON both ways; the declared invariances' copies
(nets.augment) and how the experiment trains them; configs saved before the new keys keep their meaning."""
from __future__ import annotations

import json

import numpy as np
import pytest

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
from viscause_gui.core.method.observe import ObserveRecipe
from viscause_gui.core.method.recipe import DataFacts, DataRecipe, RecipeError, choose_recipe, recipe_for
from viscause_gui.core.nets.augment import border_background, mirrored, translated

BINARY_TINY = DataFacts(10000, 10, 10, 1, True)       # GRATING's kind
GREY_TINY = DataFacts(1797, 8, 8, 1, False)          # scikit-learn's digits
GREY = DataFacts(5000, 28, 28, 1, False)
COLOUR = DataFacts(5000, 64, 64, 3, False)
TWO_CHANNELS = DataFacts(4000, 14, 14, 2, False)     # Colored MNIST
ALL = (BINARY_TINY, GREY_TINY, GREY, COLOUR, TWO_CHANNELS)


def test_tiny_images_get_the_papers_mlp_and_binary_ones_exact_flips():
    binary = choose_recipe(BINARY_TINY)
    assert binary.net == {"arch": "mlp", "hidden": [100]} and binary.manipulator == "pixels"
    grey = choose_recipe(GREY_TINY)
    assert grey.net["arch"] == "mlp" and grey.manipulator == "patches"
    lines = binary.describe()
    assert lines[0].startswith("causal net: MLP, hidden layer of 100, ensemble of 2: tiny 10x10 binary images")
    assert lines[2].startswith("search: pixel flips: binary images")


@pytest.mark.parametrize("facts, blocks, stride", [(GREY, 3, 1), (COLOUR, 3, 2), (TWO_CHANNELS, 2, 1)])
def test_images_of_real_extent_get_a_cnn_and_the_patch_search(facts, blocks, stride):
    recipe = choose_recipe(facts)
    assert recipe.net["arch"] == "cnn" and len(recipe.net["channels"]) == blocks and recipe.net["stride"] == stride
    assert recipe.manipulator == "patches" and recipe.ensemble == 2
    assert "search: patches of real images" in recipe.describe()[2]
    config = recipe.experiment_config(iterations=1, queries=4)
    assert config.net == recipe.net and config.manipulator == "patches"
    manifold = choose_recipe(facts, (), {"manipulator": "manifold"})
    assert manifold.manipulator == "manifold" and "(your choice)" in manifold.describe()[2]


def test_large_colour_images_stay_within_the_compute_budget():
    """5,000 64x64 RGB images: fewer epochs and a narrower generative model than small images get."""
    big, small = choose_recipe(COLOUR), choose_recipe(TWO_CHANNELS)
    assert big.epochs < small.epochs and 5 <= big.epochs <= 30 and big.retrain_epochs <= 5
    assert big.generative_widths == (16, 32) and small.generative_widths == (32, 64)
    assert big.generative_epochs < small.generative_epochs
    assert big.describe()[0].startswith("causal net: CNN 3 conv blocks (16, 32, 32; first stride 2) + 64 hidden, "
                                        "ensemble of 2: 64x64 colour images have spatial extent and channels")


def test_more_threads_are_offered_for_heavy_convolutional_nets_only():
    """64x64 colour images train about twice as fast on two threads; the paper's MLP and Colored MNIST's
    small CNN gain nothing from a second thread (benchmarks/README.md, "Threads"). Runs keep one thread
    unless asked: the result would depend on the thread count."""
    assert choose_recipe(COLOUR).faster_threads(cores=2) == 2 and choose_recipe(GREY).faster_threads(cores=4) == 4
    assert choose_recipe(BINARY_TINY).faster_threads(cores=2) is None
    assert choose_recipe(TWO_CHANNELS).faster_threads(cores=2) is None
    assert choose_recipe(COLOUR).faster_threads(cores=1) is None
    assert choose_recipe(COLOUR, (), {"net": "mlp"}).faster_threads(cores=2) == 2     # the P(T=1|I) nets stay CNNs


@pytest.mark.parametrize("facts", ALL)
def test_no_augmentation_unless_declared(facts):
    fields = choose_recipe(facts).config_fields()
    assert fields["augment_shifts"] == 0 and fields["augment_flips"] is False and fields["augment_jitter"] == 0
    assert choose_recipe(facts).describe()[3] .startswith("invariances: none (declare with --invariant)")


def test_declared_invariances_become_the_configs_copies():
    shifts = choose_recipe(GREY, ["shifts"]).config_fields()
    assert shifts["augment_shifts"] == 10 and shifts["shift_mode"] == "translate" and not shifts["augment_flips"]
    cyclic = choose_recipe(BINARY_TINY, ["cyclic-shifts"]).config_fields()
    assert cyclic["augment_shifts"] == 10 and cyclic["shift_mode"] == "cyclic"
    flips = choose_recipe(COLOUR, ["flips"])
    assert flips.config_fields()["augment_flips"] is True and flips.config_fields()["augment_shifts"] == 0
    assert flips.describe()[3].startswith("invariances: flips (your choice): declared: each answered image's mirror")
    assert choose_recipe(GREY, ["none"]).invariances == ()


@pytest.mark.parametrize("invariances, says", [(["shifts", "cyclic-shifts"], "together"),
                                               (["none", "flips"], "choose one"),
                                               (["rotations"], "unknown invariance")])
def test_contradicting_or_unknown_invariances_are_refused(invariances, says):
    with pytest.raises(RecipeError, match=says):
        choose_recipe(GREY, invariances)


def test_overrides_win_and_are_marked():
    recipe = choose_recipe(COLOUR, (), {"net": "mlp", "hidden": [300, 50], "ensemble": 3, "manipulator": "pixels",
                                        "epochs": 4})
    assert recipe.net == {"arch": "mlp", "hidden": [300, 50]} and recipe.ensemble == 3
    assert recipe.manipulator == "pixels" and recipe.epochs == 4
    assert all("(your choice)" in line for line in recipe.describe()[:3])
    cnn = choose_recipe(BINARY_TINY, (), {"net": "cnn"})
    assert cnn.net["arch"] == "cnn" and cnn.manipulator == "pixels"
    again = recipe.with_overrides(net=None, hidden=None)
    assert again.net["arch"] == "cnn" and again.ensemble == 3          # the others stay


def test_binary_images_flip_pixels_whatever_search_is_asked():
    recipe = choose_recipe(BINARY_TINY, (), {"manipulator": "manifold"})
    assert recipe.manipulator == "pixels" and "manifold search is for grey and colour" in recipe.describe()[2]
    recipe = choose_recipe(BINARY_TINY, (), {"manipulator": "patches"})
    assert recipe.manipulator == "pixels" and "patches search is for grey and colour" in recipe.describe()[2]


@pytest.mark.parametrize("overrides", [{"net": "resnet"}, {"ensemble": 0}, {"hidden": []}, {"manipulator": "x"},
                                       {"depth": 3}])
def test_bad_overrides_are_refused(overrides):
    with pytest.raises(RecipeError):
        choose_recipe(GREY, (), overrides)


def test_json_both_ways_and_a_damaged_recipe_is_refused():
    recipe = choose_recipe(COLOUR, ["flips"], {"ensemble": 1})
    doc = json.loads(json.dumps(recipe.to_json()))
    assert DataRecipe.from_json(doc) == recipe
    assert DataRecipe.from_json(doc).describe() == recipe.describe()
    for damage in ({"ensemble": 0}, {"net": {"arch": "resnet"}}, {"net": {"arch": "mlp", "hidden": [10 ** 9]}},
                   {"invariances": ["spin"]}, {"version": 99},
                   {"facts": {"count": 1}}, {"manipulator": "magic"}, {"observe": "guess"}):
        with pytest.raises(RecipeError, match="missing or damaged"):
            DataRecipe.from_json({**doc, **damage})


def test_observational_classes_are_fine_unless_chosen_and_old_recipes_keep_theirs():
    recipe = choose_recipe(COLOUR)
    assert recipe.observe == "features" and recipe.observe_recipe().partition == "features"
    assert recipe.describe()[4].startswith("observational classes: fine: clusters of the features")
    chosen = recipe.with_overrides(observe="likelihood")
    assert chosen.observe_recipe() == ObserveRecipe() and "(your choice)" in chosen.describe()[4]
    old = recipe.to_json()
    del old["observe"]                    # a recipe saved before the choice existed found them by the likelihood
    assert DataRecipe.from_json(old).observe == "likelihood"
    with pytest.raises(RecipeError, match="unknown way to find observational classes"):
        choose_recipe(COLOUR, (), {"observe": "guess"})


def test_facts_read_from_images():
    grey = recipe_for(np.random.default_rng(0).random((30, 20, 24), dtype=np.float32))
    assert grey.facts == DataFacts(30, 20, 24, 1, False) and grey.facts.words() == "30 20x24 grey images"
    binary = DataFacts.of(np.zeros((5, 10, 10, 3), np.float32))
    assert binary.binary and binary.kind == "binary" and binary.shape == (10, 10, 3)


# ---------------------------------------------------------------- the copies an invariance adds

def test_translated_copies_do_not_wrap_and_fill_the_background():
    image = np.full((1, 8, 8, 3), 0.2, np.float32)
    image[0, 3, 7] = (1.0, 0.0, 0.0)                    # a red mark on the right border
    copies = translated(image, 40, np.random.default_rng(0), max_shift=1)
    moved_right = [c for c in copies if c[3, 7, 0] < 1.0 and not (c[:, :, 0] == 1.0).any()]
    assert moved_right, "some copies push the mark out of the image"
    assert all(not (c[:, 0, 0] == 1.0).any() for c in moved_right)     # nothing wrapped to the left border
    np.testing.assert_allclose(border_background(image)[0], 0.2)
    assert set(np.unique(copies[..., 1])) == {np.float32(0.0), np.float32(0.2)}   # only the image's own values
    assert np.abs(copies - image).max() > 0 and copies.shape == (40, 8, 8, 3)


def test_mirrored_is_the_left_right_mirror():
    image = np.arange(12, dtype=np.float32).reshape(1, 3, 4) / 12
    np.testing.assert_array_equal(mirrored(image)[0], image[0, :, ::-1])


def _experiment(config: ExperimentConfig) -> Experiment:
    rng = np.random.default_rng(0)
    images = (rng.random((40, 8, 8)) < 0.3).astype(np.float32) * 0.5
    data = Dataset(images, obs_class=np.arange(40) % 2)
    experiment = Experiment(data, config)
    experiment.causal_labels = data.obs_class.copy()
    experiment.causal_levels = np.array([0.2, 0.8])
    experiment.query_images = images[:3] + 0.1
    experiment.query_labels = np.array([0, 1, 1])
    return experiment


def test_training_adds_only_the_declared_copies_and_an_answer_weighs_the_same():
    plain_images, _plain_labels, plain_weights = _experiment(ExperimentConfig(augment_shifts=0))._training_set()
    assert len(plain_images) == 43 and plain_weights[40:].sum() == pytest.approx(3 * 20.0)
    images, labels, weights = _experiment(ExperimentConfig(augment_shifts=2, shift_mode="translate",
                                                           augment_flips=True))._training_set()
    assert len(images) == 40 + 3 * 2 * 3                 # each answer, its mirror, two shifts of both
    np.testing.assert_array_equal(images[43:46], mirrored(images[40:43]))
    assert weights[40:].sum() == pytest.approx(3 * 20.0) and list(labels[40:46]) == [0, 1, 1] * 2


def test_configs_saved_before_the_new_keys_keep_their_meaning():
    old = ExperimentConfig().to_json()
    for key in ("shift_mode", "augment_flips", "generative_widths"):
        del old[key]
    config = ExperimentConfig.from_json(old)
    assert config.shift_mode == "cyclic" and config.augment_flips is False and config.generative_widths == [32, 64]
    assert config.augment_shifts == 10                   # GRATING's cyclic shifts, as those runs trained
    with pytest.raises(ValueError, match="shift_mode"):
        ExperimentConfig(shift_mode="sideways")
