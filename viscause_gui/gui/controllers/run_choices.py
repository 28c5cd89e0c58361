"""What the next run will use, from the form, the recipe and the data set (Qt-free): which label counts
as T = 1, the recipe shown, the settings handed to the worker, why a run cannot start, and what a
session keeps of the settings."""
from __future__ import annotations

from typing import Any

import numpy as np

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.experiments.registry import recipe_for
from viscause_gui.core.method.observe import ObservedClasses, observational_problem
from viscause_gui.core.method.recipe import DataFacts
from viscause_gui.gui.controllers.learning import RunSettings
from viscause_gui.gui.controllers.recipe import STANDARD, RecipeModel, config_lines
from viscause_gui.gui.models.run_form import PLUGGED, PluggedChoice, RunForm

MAX_SAVED_LOSSES = 20_000
BUILTIN_HINT = ("Built-in data, lessons and sessions saved before recipes run with this one. A data set you open "
                "with File → Open file or Open folder gets a recipe chosen from its images, which you can change here.")


class RunChoices:
    """The run's settings as chosen now, checked against the data set."""

    def __init__(self, state: Any, form: RunForm, recipe: RecipeModel, view: Any):
        self.state, self.form, self.recipe, self.view = state, form, recipe, view
        self.plugged: dict[str, PluggedChoice] = {}    # the file a person chose for each plugged oracle
        self.labels_only = False                       # a data set with labels and no T: T = 1 for a label
        self.classes_from_label: int | None = None     # the label the data set's classes were derived from
        self._shown_problem: str | None = None

    def positive_label(self) -> int | None:
        return self.form.label if self.labels_only else None

    def data_changed(self) -> None:
        """A new data set: may T come from its labels, which recipe, and can a run start on it."""
        data = self.state.dataset
        self.labels_only = data is not None and data.labels is not None and all(
            getattr(data, k) is None for k in ("t", "p_obs", "obs_class"))
        self.view.show_label_choice(self.labels_only)
        self.classes_from_label = None
        self.state.set_positive_label(self.positive_label())
        self.choose_recipe()
        self._shown_problem = None
        self.view.show_status("")
        self.show_data_problem()

    def label_changed(self, has_experiment: bool, running: bool) -> None:
        if not self.labels_only:
            return
        label = self.form.label
        self.state.set_positive_label(label)
        if not self.recipe.editable:
            self.choose_recipe()            # a built-in recipe may depend on the label (digit mode)
        if has_experiment and self.classes_from_label not in (None, label):
            self.view.show_status(f"T = 1 for label {label} applies from the next Run Algorithm 1; the current "
                                  f"experiment asks about label {self.classes_from_label}.")
        elif not has_experiment and not running:
            self.show_data_problem()

    def choose_recipe(self) -> None:
        """A person's own data: the recipe chosen from its images; other data: its experiment's, to read."""
        data = self.state.dataset
        if data is not None and self.state.own_data:
            self.recipe.use_data(DataFacts.of(data.images, data.is_binary))
            return
        label = self.positive_label()
        builtin = None if data is None else recipe_for(data, label)
        config = RunSettings.for_data(data, "model", label, builtin).config
        title = STANDARD if builtin is None else f"{builtin.describe[:1].upper()}{builtin.describe[1:]}"
        lines = [] if data is None else config_lines(config, data.is_binary)
        self.recipe.use_builtin(title, [*lines, BUILTIN_HINT])

    def settings_now(self) -> RunSettings:
        """What the worker gets: the experiment's config, the oracle and T's label."""
        label = self.positive_label()
        data = self.state.dataset
        recipe = None if data is None else recipe_for(data, label)
        key = self.form.oracle
        oracle = "plugged" if key in PLUGGED else key
        run = {"queries": self.form.queries, "alpha": self.form.alpha, "queries_by": self.form.queries_by,
               "seed": self.form.seed}
        data_recipe = self.recipe.recipe      # a person's own data: the recipe `viscause run DATA` chooses, or theirs
        if data_recipe is not None:
            config = self.recipe.experiment_config(retrain_epochs=self.form.retrain_epochs, **run)
            return RunSettings(config, oracle, label, recipe, self.plugged.get(key),
                               observe=data_recipe.observe_recipe())
        return RunSettings.for_data(data, oracle, label, recipe, self.plugged.get(key), **run,
                                    epochs=self.form.epochs, retrain_epochs=self.form.retrain_epochs)

    def problem(self, settings: RunSettings) -> str | None:
        """Why a run with these settings cannot start (None: it can)."""
        problem = observational_problem(self.state.dataset, settings.positive_label)
        if problem is None and settings.oracle == "truth" and self.state.truth is None:
            problem = ("The truth oracle needs the data set's exact generative model (e.g. GRATING); choose the "
                       "model oracle or answer yourself.")
        if problem is None and settings.oracle == "plugged" and settings.plugged is None:
            problem = "Choose the oracle's file first: pick it in the Oracle list again."
        return problem

    def forget_classes_of_another_label(self) -> None:
        """Classes derived from an earlier choice of the label that counts as T = 1 go: the next
        experiment derives them from the label chosen now."""
        data: Dataset | None = self.state.dataset
        label = self.positive_label()
        if self.classes_from_label is None or self.classes_from_label == label or data is None:
            return
        data.obs_class = data.t = data.p_obs = None
        self.classes_from_label = None
        self.state.classes_changed.emit()

    def observed(self, found: ObservedClasses, data: Dataset, label: int | None) -> None:
        """A run estimated the observational classes of its data with T = 1 for `label`: the loaded data
        set shows them too (unless another one was opened meanwhile), in place of any the readout estimated
        meanwhile: the tables and badges must show the classes the experiment answers for."""
        if self.state.dataset is not data:
            return
        if data.obs_class is not None and not np.array_equal(data.obs_class, found.obs_class):
            data.obs_class, data.p_obs = found.obs_class, found.p_obs
        found.apply_to(data)
        self.classes_from_label = label
        self.state.classes_changed.emit()

    def show_data_problem(self) -> None:
        """Why no experiment can start on the data with this label, or nothing once it can (a label the
        data set lacks was chosen, then one it has)."""
        data = self.state.dataset
        problem = observational_problem(data, self.positive_label())
        if problem is not None and data is not None:
            self.view.show_error(problem)
        elif self._shown_problem is not None:
            self.view.show_status("")
            self.view.show_progress("idle")
        self._shown_problem = problem

    # ----- sessions -----
    def for_session(self, train_losses: list[float], val_losses: list[float]) -> dict:
        """What a session keeps of the run: its settings and the loss curve."""
        recipe = {} if self.recipe.to_json() is None else {"recipe": self.recipe.to_json()}
        form = {k: v for k, v in self.form.to_json().items() if k != "oracle"}
        return {**form, "train_losses": [float(v) for v in train_losses[-MAX_SAVED_LOSSES:]],
                "val_losses": [float(v) for v in val_losses[-MAX_SAVED_LOSSES:]], **recipe}

    def restore(self, saved: object, oracle: object, oracles: tuple[str, ...]) -> tuple[list[float], list[float]]:
        """Put back what for_session kept and the oracle (None: keep the one chosen, e.g. Human for a waiting
        batch), when the data allows it; anything malformed is left as it is. Returns the saved losses."""
        saved = saved if isinstance(saved, dict) else {}
        data = self.state.dataset
        if "recipe" in saved and data is not None:     # before the numbers: the retrain epochs saved are the person's
            self.recipe.restore(saved["recipe"], DataFacts.of(data.images, data.is_binary))
        self.form.restore_session(saved if oracle is None else {**saved, "oracle": oracle}, oracles)
        train, val = saved.get("train_losses"), saved.get("val_losses")
        if isinstance(train, list) and isinstance(val, list) and len(train) == len(val) and all(
                isinstance(v, (int, float)) for v in train + val):
            return [float(v) for v in train], [float(v) for v in val]
        return [], []
