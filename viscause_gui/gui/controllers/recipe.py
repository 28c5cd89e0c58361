"""The recipe of the next run as the Learning panel shows and edits it (Qt-free).

A person's own data set (File → Open file / Open folder, a dropped file, a path on the command line)
gets the recipe `viscause run DATA` chooses with no options (core.method.recipe.choose_recipe: the
same call, so the app and the command agree), and the person may change it before a run as the
command's --invariant, --net, --hidden, --ensemble and --manipulator do; the epochs are the recipe's
too. Every change chooses the recipe again (DataRecipe.with_overrides), so the description says at
once what the next run does and why. Built-in data keeps its experiment's recipe, shown read-only.

The view gets one `RecipeShown` after every change (`RecipeView.show_recipe`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from viscause_gui.core.method.experiment import ExperimentConfig
from viscause_gui.core.method.recipe import (CYCLIC_SHIFTS, FLIPS, SHIFTS, DataFacts, DataRecipe, RecipeError,
                                             choose_recipe, net_words)

INVARIANCE_CHOICES = (SHIFTS, CYCLIC_SHIFTS, FLIPS)        # "none" is no box ticked
EXCLUSIVE = {SHIFTS: CYCLIC_SHIFTS, CYCLIC_SHIFTS: SHIFTS}  # the recipe takes one kind of shift
MAX_HIDDEN = 4096                                          # what a session's recipe may hold (recipe._sane_net)
HIDDEN_HINT = f"whole numbers from 1 to {MAX_HIDDEN} separated by commas, e.g. 100 or 300,100"
STANDARD = "The app's standard recipe (GRATING's)"


@dataclass(frozen=True)
class RecipeShown:
    """What the view shows of the recipe."""

    editable: bool                          # a person's own data: the controls change it
    title: str
    lines: tuple[str, ...]                  # one choice a line, with its reason
    invariances: tuple[str, ...] = ()
    net: str = "mlp"
    hidden: str = ""                        # e.g. "300,100"
    ensemble: int = 1
    manipulator: str = "pixels"
    manipulator_fixed: bool = False         # binary images always flip pixels
    epochs: int | None = None               # the recipe's training (None: the panel's own spin boxes rule)
    retrain_epochs: int | None = None
    changed: bool = False                   # differs from the data's own recipe: "reset" is offered
    problem: str | None = None              # the last change that was refused, in words
    net_text: str = ""                      # the causal net in words

    def summary(self) -> str:
        """One line: the net, the search and the invariances."""
        if not self.editable:
            return self.title
        invariances = ", ".join(self.invariances) or "none"
        changed = " (changed)" if self.changed else ""
        return f"{self.net_text} x{self.ensemble} · {self.manipulator} search · invariances: {invariances}{changed}"


class RecipeView(Protocol):
    def show_recipe(self, shown: RecipeShown) -> None: ...


class RecipeModel:
    """The recipe of the next new experiment: the data's own, the person's changes, or a built-in one."""

    def __init__(self, view: RecipeView):
        self.view = view
        self._chosen: DataRecipe | None = None       # the data's own recipe (no options)
        self._recipe: DataRecipe | None = None       # with the person's changes
        self._builtin: tuple[str, tuple[str, ...]] = ("", ())
        self._problem: str | None = None

    @property
    def recipe(self) -> DataRecipe | None:
        """The recipe the next run uses (None: built-in data, whose experiment decides)."""
        return self._recipe

    @property
    def editable(self) -> bool:
        return self._recipe is not None

    # ----- which data -----
    def use_data(self, facts: DataFacts) -> None:
        """A person's own data set: the recipe chosen from its images, as `viscause run DATA` does."""
        self._chosen = self._recipe = choose_recipe(facts)
        self._problem = None
        self._show()

    def use_builtin(self, title: str, lines: Sequence[str]) -> None:
        """Built-in data (or none): its experiment's recipe, to read, not to change."""
        self._chosen = self._recipe = None
        self._builtin = (title, tuple(lines))
        self._problem = None
        self._show()

    # ----- a person's changes -----
    def set_invariance(self, name: str, on: bool) -> None:
        """Tick or untick one invariance; ticking one kind of shift unticks the other."""
        if self._recipe is None or name not in INVARIANCE_CHOICES:
            return
        chosen = set(self._recipe.invariances) - {name}
        if on:
            chosen = (chosen - {EXCLUSIVE.get(name)}) | {name}
        self._change(invariances=[v for v in INVARIANCE_CHOICES if v in chosen])

    def set_net(self, arch: str) -> None:
        if self._recipe is not None and arch != self._recipe.net["arch"]:
            self._change(net=arch)

    def set_hidden(self, text: str) -> None:
        """The causal net's hidden layers as typed, e.g. '300, 100'."""
        if self._recipe is None:
            return
        units = parse_hidden(text)
        if units is None:
            self._problem = f"Hidden units: {HIDDEN_HINT}; got {text.strip() or 'nothing'}."
            self._show()
        elif units != list(self._recipe.net["hidden"]):
            self._change(hidden=units)
        elif self._problem is not None:
            self._problem = None
            self._show()

    def set_ensemble(self, members: int) -> None:
        if self._recipe is not None and members != self._recipe.ensemble:
            self._change(ensemble=members)

    def set_manipulator(self, manipulator: str) -> None:
        if self._recipe is not None and manipulator != self._recipe.manipulator:
            self._change(manipulator=manipulator)

    def set_epochs(self, epochs: int) -> None:
        """The first training's epochs (the later ones follow: a third, 2 to 5)."""
        if self._recipe is not None and epochs != self._recipe.epochs:
            self._change(epochs=epochs)

    def reset(self) -> None:
        """Back to the recipe chosen from the data."""
        if self._chosen is not None:
            self._recipe, self._problem = self._chosen, None
            self._show()

    def _change(self, **changes: Any) -> None:
        if self._recipe is None:            # built-in data: nothing to change (the setters check it first)
            return
        try:
            self._recipe, self._problem = self._recipe.with_overrides(**changes), None
        except RecipeError as exc:
            self._problem = str(exc)
        self._show()

    # ----- the run and the session -----
    def experiment_config(self, retrain_epochs: int | None = None, **run: Any) -> ExperimentConfig:
        """The config of a new experiment with this recipe, as `viscause run DATA` makes it (`run`:
        iterations, queries, alpha, seed, queries_by); `retrain_epochs`, the person's, over the recipe's."""
        if self._recipe is None:
            raise ValueError("built-in data has no recipe: its experiment's settings are the config")
        config = self._recipe.experiment_config(**run)
        return config if retrain_epochs is None else replace(config, retrain_epochs=retrain_epochs)

    def to_json(self) -> dict[str, Any] | None:
        """What a session keeps: the recipe with the person's changes (None for built-in data)."""
        return None if self._recipe is None else self._recipe.to_json()

    def restore(self, doc: Any, facts: DataFacts) -> bool:
        """A session's recipe back, for data with these facts; False (nothing changes) when it is
        missing, damaged or of other images."""
        try:
            recipe = DataRecipe.from_json(doc)
        except RecipeError:
            return False
        if recipe.facts != facts:
            return False
        self._chosen, self._recipe, self._problem = choose_recipe(facts), recipe, None
        self._show()
        return True

    # ----- what the view shows -----
    def shown(self) -> RecipeShown:
        recipe = self._recipe
        if recipe is None:
            return RecipeShown(False, *self._builtin)
        return RecipeShown(
            True, f"Recipe chosen from the data: {recipe.facts.words()}", tuple(recipe.describe()),
            recipe.invariances, recipe.net["arch"], ",".join(str(h) for h in recipe.net["hidden"]), recipe.ensemble,
            recipe.manipulator, recipe.facts.binary, recipe.epochs, recipe.retrain_epochs,
            recipe != self._chosen, self._problem, net_words(recipe.net))

    def _show(self) -> None:
        self.view.show_recipe(self.shown())


def parse_hidden(text: str) -> list[int] | None:
    """'300, 100' -> [300, 100]; None unless whole numbers in 1..MAX_HIDDEN separated by commas."""
    try:
        units = [int(part) for part in text.split(",")]
    except ValueError:
        return None
    return units if units and all(1 <= u <= MAX_HIDDEN for u in units) else None


def config_lines(config: ExperimentConfig, binary: bool) -> list[str]:
    """A built-in recipe's choices in words (its ExperimentConfig), as DataRecipe.describe words a data recipe's;
    the epochs are the panel's spin boxes'."""
    members = f"ensemble of {config.ensemble}" if config.ensemble > 1 else "one net"
    robust = f", trained with adversarial copies (radius {config.adversarial_radius:g})" \
        if config.adversarial_radius > 0 else ""
    if config.manipulator == "manifold":
        search = f"manifold (generative model: {config.generative_epochs} epochs)"
    elif config.manipulator == "patches":
        search = "patches of real images"
    else:
        search = "pixel flips" if binary else "pixels"
    return [f"causal net: {net_words(config.net)}, {members}{robust}", f"search: {search}",
            f"invariances: {', '.join(_config_invariances(config)) or 'none'}"]


def _config_invariances(config: ExperimentConfig) -> list[str]:
    said = []
    if config.augment_shifts:
        kind = "cyclic shifts" if config.shift_mode == "cyclic" else "shifts"
        said.append(f"{config.augment_shifts} {kind} of each answered image")
    if config.augment_flips:
        said.append("each answered image's mirror image")
    if config.augment_jitter:
        said.append(f"{config.augment_jitter} jittered copies of every image")
    return said

