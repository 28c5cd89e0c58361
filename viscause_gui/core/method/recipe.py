"""The recipe of a run on data nobody made a recipe for, chosen from the images and said out loud.

A built-in experiment declares its own recipe (GRATING: the paper's MLP, exact flips, answers trained
as cyclic shifts; MNIST: robust MLPs on the manifold; Colored MNIST: CNNs with jitter). A user's data
gets one chosen here from what the images are (binary or not, size, channels, count) and from what
the user declares; every choice comes with its reason, and each can be overridden:

- **causal net**: a fully connected net (the paper's, one hidden layer of 100) for tiny images, where
  every pixel is seen at once anyway; a CNN for images of real spatial extent, channels included:
  3x3 convolutions, each block halving the map until it is 4 pixels or fewer (2 to 4 blocks; the
  first convolution strides by 2 on images of 48 pixels or more, four times less work), 64 hidden
  units. An ensemble of two: the manipulator must convince both, and the active query choice
  needs a committee that can disagree.
- **training**: epochs so that one net's first training costs about `CAUSAL_BUDGET` multiply-adds
  (at least 5, at most 30), with early stopping on a held-out tenth of the training images and
  answers (nets.training: the best epoch's weights are kept after 5 epochs without a better one);
  later iterations continue from those weights for a third as many epochs (2 to 5).
- **search**: exact pixel flips for binary images (greedy flips ranked by the gradient); patches of
  real images for grey and colour images (method.patches: regions of a real image of the target
  class pasted in, the rest left as it was). A pixel search there makes adversarial smudges the
  nets accept and an oracle does not (MErr 70-75 % on benchmarks/bench_own_data.py's bars); the
  manifold search (a choice) decodes through an autoencoder, which blurs a small cause away and
  moves the confounded background with the rest (benchmarks/bench_unseen.py).
- **invariances**: none unless declared (`--invariant shifts|cyclic-shifts|flips|none`): wrapping a
  face or a digit round the border, or mirroring a letter, makes a different image; only the user
  knows whether T ignores it.

Qt-free: the CLI uses it for `viscause run DATA`, the Learning panel shows and edits it
(choose_recipe / DataRecipe.describe / with_overrides / to_json / from_json).
"""
from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from viscause_gui.core.method.experiment import MANIPULATORS, ExperimentConfig
from viscause_gui.core.method.observe import FEATURES, LIKELIHOOD, PARTITIONS, ObserveRecipe, observe_net_spec
from viscause_gui.core.nets.generative import DEFAULT_WIDTHS, autoencoder_spec
from viscause_gui.core.nets.models import build_net, faster_threads
from viscause_gui.core.nets.training import GENERATIVE_EPOCHS, generative_config

RECIPE_VERSION = 1
NETS = ("mlp", "cnn")
SHIFTS, CYCLIC_SHIFTS, FLIPS, NONE = "shifts", "cyclic-shifts", "flips", "none"
INVARIANCES = (SHIFTS, CYCLIC_SHIFTS, FLIPS, NONE)
OVERRIDES = ("net", "hidden", "ensemble", "epochs", "manipulator", "observe")
OBSERVE_CHANNELS = (16, 32, 32)   # the nets that fit P(T=1|I) for the observational classes
OBSERVE_HIDDEN = (64,)

TINY_SIDE = 12               # images no larger than this on either side get the MLP
STRIDE_SIDE = 48             # images at least this large on both sides: the first convolution strides by 2
SMALL_MAP = 4                # CNN blocks halve the map until it is this small
CNN_CHANNELS = (16, 32, 32, 32)
CNN_HIDDEN = 64
MLP_HIDDEN = 100             # the paper's
ENSEMBLE = 2
CAUSAL_BUDGET = 1.2e11       # forward multiply-adds of one net's first training (images seen x per image)
MIN_EPOCHS, MAX_EPOCHS = 5, 30
GENERATIVE_BUDGET = 2.4e11   # forward multiply-adds of the generative model's training
NARROW_VALUES = 4096         # images with at least this many values (64x64 grey) get the narrower model
NARROW_WIDTHS = (16, 32)
DESCRIBED = ("causal net", "training", "search", "invariances", "observational classes")
SHIFT_COPIES = 10            # copies of each answered image per declared shift invariance


class RecipeError(ValueError):
    """A choice the recipe cannot take (an unknown net, invariances that contradict each other)."""


@dataclass(frozen=True)
class DataFacts:
    """What the recipe looks at: how many images, their size and channels, binary or not."""

    count: int
    height: int
    width: int
    channels: int              # 1 for grey images (N, H, W)
    binary: bool

    @classmethod
    def of(cls, images: np.ndarray, binary: bool | None = None) -> DataFacts:
        """The facts of images (N, H, W) or (N, H, W, C); `binary` when already known (Dataset.is_binary)."""
        images = np.asarray(images)
        if images.ndim not in (3, 4):
            raise RecipeError(f"images must be (N, H, W) or (N, H, W, C), got shape {images.shape}")
        if binary is None:
            binary = bool(np.all((images == 0.0) | (images == 1.0)))
        n, h, w = images.shape[:3]
        return cls(int(n), int(h), int(w), int(images.shape[3]) if images.ndim == 4 else 1, bool(binary))

    @property
    def shape(self) -> tuple[int, ...]:
        """One image's shape, as nets take it."""
        return (self.height, self.width) if self.channels == 1 else (self.height, self.width, self.channels)

    @property
    def kind(self) -> str:
        """'binary', 'grey' or 'colour'."""
        return "binary" if self.binary else ("grey" if self.channels == 1 else "colour")

    def words(self) -> str:
        """e.g. '5,000 64x64 colour images (3 channels)'."""
        what = {"binary": "binary", "grey": "grey", "colour": "colour"}[self.kind]
        channels = f" ({self.channels} channels)" if self.channels > 1 else ""
        return f"{self.count:,} {self.height}x{self.width} {what} images{channels}"


@dataclass(frozen=True)
class DataRecipe:
    """The chosen recipe: ExperimentConfig's fields for the causal net, its training, the search and the
    declared invariances, with the reason for each choice (`reasons`, keyed like `describe`'s lines)."""

    facts: DataFacts
    net: dict[str, Any]
    ensemble: int
    epochs: int
    retrain_epochs: int
    manipulator: str
    generative_epochs: int
    generative_widths: tuple[int, int]
    invariances: tuple[str, ...]
    overrides: dict[str, Any] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    observe: str = FEATURES        # how the observational classes are found (observe.PARTITIONS)

    def observe_recipe(self) -> ObserveRecipe:
        """How the observational classes are found from samples of T (observe.fit_observational_classes)."""
        if self.observe == FEATURES:
            return ObserveRecipe(partition=FEATURES, channels=OBSERVE_CHANNELS, hidden=OBSERVE_HIDDEN)
        return ObserveRecipe()

    def faster_threads(self, cores: int | None = None) -> int | None:
        """Torch threads that would train this recipe's nets faster than one (nets.models.faster_threads), or
        None: its heaviest net is the causal net or the nets that fit P(T=1|I)."""
        shape = list(self.facts.shape)
        macs = max(forward_macs({**self.net, "in_shape": shape}),
                   forward_macs(observe_net_spec(tuple(shape), 2, self.observe_recipe())))
        return faster_threads(macs, cores)

    def config_fields(self) -> dict[str, Any]:
        """The ExperimentConfig fields this recipe sets (everything else keeps ExperimentConfig's default)."""
        shifts = SHIFTS in self.invariances or CYCLIC_SHIFTS in self.invariances
        return {"net": dict(self.net), "ensemble": self.ensemble, "epochs": self.epochs,
                "retrain_epochs": self.retrain_epochs, "manipulator": self.manipulator,
                "generative_epochs": self.generative_epochs, "generative_widths": list(self.generative_widths),
                "augment_shifts": SHIFT_COPIES if shifts else 0,
                "shift_mode": "translate" if SHIFTS in self.invariances else "cyclic",
                "augment_flips": FLIPS in self.invariances, "augment_jitter": 0,
                "premise_check": True}     # the classes are estimated: Algorithm 1 checks its premise

    def experiment_config(self, **run: Any) -> ExperimentConfig:
        """The ExperimentConfig of a run with this recipe; `run`: its other fields (iterations, queries,
        alpha, seed, queries_by, ...)."""
        return ExperimentConfig(**{**run, **self.config_fields()})

    def with_overrides(self, **changes: Any) -> DataRecipe:
        """The recipe chosen again with these overrides added (None removes one): e.g. net='mlp', ensemble=3."""
        overrides = {**self.overrides, **changes}
        invariances = overrides.pop("invariances", self.invariances)
        return choose_recipe(self.facts, invariances, {k: v for k, v in overrides.items() if v is not None})

    def describe(self) -> list[str]:
        """Human lines, one per choice with its reason; '(your choice)' marks an override."""
        return [f"{key}: {self._summary(key)}{self._yours(key)}: {self.reasons.get(key, '')}".rstrip(": ")
                for key in DESCRIBED]

    def _yours(self, key: str) -> str:
        owned = {"causal net": ("net", "hidden", "ensemble"), "training": ("epochs",), "search": ("manipulator",),
                 "invariances": ("invariances",), "observational classes": ("observe",)}[key]
        return " (your choice)" if any(k in self.overrides for k in owned) else ""

    def _summary(self, key: str) -> str:
        if key == "causal net":
            return f"{net_words(self.net)}, ensemble of {self.ensemble}"
        if key == "training":
            return (f"up to {self.epochs} epochs, then {self.retrain_epochs} per iteration, early stopping on a "
                    "held-out tenth of images and answers")
        if key == "search":
            if self.manipulator == "pixels":
                return "pixel flips" if self.facts.binary else "pixels"
            if self.manipulator == "patches":
                return "patches of real images"
            return f"manifold (generative model: {self.generative_epochs} epochs, widths {self.generative_widths})"
        if key == "observational classes":
            return ("fine: clusters of the features of the nets that fit P(T|I)" if self.observe == FEATURES else
                    "as many as the held-out samples of T support")
        return ", ".join(self.invariances) if self.invariances else "none (declare with --invariant)"

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["generative_widths"] = list(self.generative_widths)
        doc["invariances"] = list(self.invariances)
        return {"version": RECIPE_VERSION, **doc}

    @classmethod
    def from_json(cls, doc: Any) -> DataRecipe:
        """A recipe read back (a session, history.json): exactly what ran, checked; RecipeError when damaged."""
        try:
            assert isinstance(doc, dict) and doc.get("version") == RECIPE_VERSION
            facts = DataFacts(**doc["facts"])
            assert all(isinstance(getattr(facts, f.name), int) for f in fields(DataFacts))
            assert isinstance(doc["reasons"], dict) and all(isinstance(v, str) for v in doc["reasons"].values())
            assert isinstance(doc["overrides"], dict)
            recipe = cls(facts, dict(doc["net"]), doc["ensemble"], doc["epochs"], doc["retrain_epochs"],
                         doc["manipulator"], doc["generative_epochs"], tuple(doc["generative_widths"]),
                         tuple(_checked_invariances(doc["invariances"])), dict(doc["overrides"]), dict(doc["reasons"]),
                         # recipes saved before the choice existed found their classes by the likelihood
                         str(doc.get("observe", LIKELIHOOD)))
            assert recipe.observe in PARTITIONS
            assert recipe.epochs >= 0 and recipe.retrain_epochs >= 0 and recipe.ensemble >= 1
            assert _sane_net(recipe.net)
            recipe.experiment_config()                       # its fields' own checks
            return recipe
        except (AssertionError, KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise RecipeError(f"the recipe is missing or damaged ({type(exc).__name__})") from None


def _sane_net(spec: dict[str, Any]) -> bool:
    """A net spec read from a file: the families and sizes a recipe makes (nothing is built from it)."""
    def ints(value: Any, most: int, longest: int) -> bool:
        return isinstance(value, list) and 1 <= len(value) <= longest and all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= most for v in value)

    if spec.get("arch") == "mlp":
        return set(spec) <= {"arch", "hidden"} and ints(spec.get("hidden"), 4096, 8)
    return (spec.get("arch") == "cnn" and set(spec) <= {"arch", "channels", "hidden", "pool", "stride"}
            and ints(spec.get("channels"), 1024, 8) and ints(spec.get("hidden"), 4096, 8)
            and isinstance(spec.get("pool", False), bool) and spec.get("stride", 1) in (1, 2))


def choose_recipe(facts: DataFacts, invariances: Sequence[str] = (), overrides: dict[str, Any] | None = None
                  ) -> DataRecipe:
    """The recipe for images with these facts, the declared invariances and the user's overrides
    (keys of OVERRIDES: net 'mlp'|'cnn', hidden [units, ...], ensemble, epochs, manipulator,
    observe 'features'|'likelihood')."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = set(overrides) - set(OVERRIDES)
    if unknown:
        raise RecipeError(f"unknown recipe choices {sorted(unknown)} (known: {', '.join(OVERRIDES)})")
    invariances = _checked_invariances(invariances)
    net, net_reason = _net(facts, overrides)
    ensemble = _positive(overrides.get("ensemble", ENSEMBLE), "ensemble")
    epochs, retrain, training_reason = _epochs(facts, net, overrides)
    manipulator, search_reason = _search(facts, overrides)
    widths = NARROW_WIDTHS if _values(facts) >= NARROW_VALUES else DEFAULT_WIDTHS
    generative_epochs = _generative_epochs(facts, widths)
    observe, observe_reason = _observe(overrides)
    reasons = {"causal net": f"{net_reason}; {_ensemble_reason(ensemble, overrides)}", "training": training_reason,
               "search": search_reason, "invariances": _invariance_reason(invariances),
               "observational classes": observe_reason}
    return DataRecipe(facts, net, ensemble, epochs, retrain, manipulator, generative_epochs, widths,
                      tuple(invariances), {**overrides, **({"invariances": list(invariances)} if invariances else {})},
                      reasons, observe)


def recipe_for(images: np.ndarray, invariances: Sequence[str] = (), overrides: dict[str, Any] | None = None,
               binary: bool | None = None) -> DataRecipe:
    """choose_recipe for these images (N, H, W[, C])."""
    return choose_recipe(DataFacts.of(images, binary), invariances, overrides)


def net_words(spec: dict[str, Any]) -> str:
    """e.g. 'CNN 3 conv blocks (16, 32, 32; the first strides by 2) + 64 hidden' or 'MLP, hidden layer of 100'."""
    hidden = [int(h) for h in spec.get("hidden", [MLP_HIDDEN])]
    units = ", ".join(map(str, hidden))
    if spec.get("arch") == "cnn":
        channels = [int(c) for c in spec.get("channels", [])]
        stride = "; first stride 2" if int(spec.get("stride", 1)) > 1 else ""
        return f"CNN {len(channels)} conv blocks ({', '.join(map(str, channels))}{stride}) + {units} hidden"
    return f"MLP, hidden layer{'s' if len(hidden) > 1 else ''} of {units}"


# ---------------------------------------------------------------- the choices

def _checked_invariances(invariances: Sequence[str]) -> list[str]:
    chosen = list(dict.fromkeys(invariances))
    bad = [v for v in chosen if v not in INVARIANCES]
    if bad:
        raise RecipeError(f"unknown invariance {bad[0]!r} (known: {', '.join(INVARIANCES)})")
    if NONE in chosen:
        if len(chosen) > 1:
            raise RecipeError(f"invariance 'none' with {', '.join(v for v in chosen if v != NONE)}: choose one")
        return []
    if SHIFTS in chosen and CYCLIC_SHIFTS in chosen:
        raise RecipeError("invariances 'shifts' and 'cyclic-shifts' together: choose one (cyclic-shifts wraps the "
                          "image round its border, shifts fills the border with the background)")
    return chosen


def _net(facts: DataFacts, overrides: dict[str, Any]) -> tuple[dict[str, Any], str]:
    tiny = max(facts.height, facts.width) <= TINY_SIDE
    arch = overrides.get("net", "mlp" if tiny else "cnn")
    if arch not in NETS:
        raise RecipeError(f"unknown net {arch!r} (known: {', '.join(NETS)})")
    hidden = overrides.get("hidden")
    if hidden is not None:
        hidden = [_positive(h, "hidden units") for h in hidden]
        if not hidden:
            raise RecipeError("hidden: give at least one layer's units")
    size = f"{facts.height}x{facts.width} {facts.kind}"
    if arch == "mlp":
        reason = f"tiny {size} images (the paper's net sees every pixel at once)" if tiny else f"{size} images"
        return {"arch": "mlp", "hidden": hidden or [MLP_HIDDEN]}, reason
    stride = 2 if min(facts.height, facts.width) >= STRIDE_SIDE else 1
    side, blocks = min(facts.height, facts.width) // stride, 0
    while side > SMALL_MAP and blocks < len(CNN_CHANNELS):
        side, blocks = side // 2, blocks + 1
    blocks = max(blocks, 2)
    spec = {"arch": "cnn", "channels": list(CNN_CHANNELS[:blocks]), "hidden": hidden or [CNN_HIDDEN], "pool": True,
            "stride": stride}
    reason = f"{size} images have spatial extent{' and channels' if facts.channels > 1 else ''}"
    return spec, reason


def _ensemble_reason(ensemble: int, overrides: dict[str, Any]) -> str:
    if "ensemble" in overrides:
        return "ensemble as you chose"
    return "two nets: the manipulator must convince both"


def _epochs(facts: DataFacts, net: dict[str, Any], overrides: dict[str, Any]) -> tuple[int, int, str]:
    macs = forward_macs({**net, "in_shape": list(facts.shape)})
    if "epochs" in overrides:
        epochs = _positive(overrides["epochs"], "epochs")
        reason = "as you chose"
    else:
        fit = int(CAUSAL_BUDGET // max(macs * facts.count, 1))
        epochs = int(np.clip(fit, MIN_EPOCHS, MAX_EPOCHS))
        reason = (f"{facts.count:,} images x {macs / 1e6:.2f} M multiply-adds, about {CAUSAL_BUDGET:.2g} per net "
                  f"({MIN_EPOCHS}-{MAX_EPOCHS} epochs)")
    return epochs, int(np.clip(epochs // 3, 2, 5)), reason


def _search(facts: DataFacts, overrides: dict[str, Any]) -> tuple[str, str]:
    chosen = overrides.get("manipulator")
    if chosen is not None and chosen not in MANIPULATORS:
        raise RecipeError(f"unknown manipulator {chosen!r} (known: {', '.join(MANIPULATORS)})")
    if facts.binary:
        note = f" (the {chosen} search is for grey and colour images)" if chosen in ("manifold", "patches") else ""
        return "pixels", f"binary images{note}"
    if chosen == "pixels":
        return "pixels", "as you chose (on grey or colour images it can make smudges an oracle rejects)"
    if chosen == "manifold":
        return "manifold", "as you chose (a generative model's decodes: small details can be lost)"
    return "patches", (f"{facts.kind} images: regions of real images of the target class pasted in, the rest "
                       "left as it was (no smudges, no blur)")


def _observe(overrides: dict[str, Any]) -> tuple[str, str]:
    chosen = overrides.get("observe", FEATURES)
    if chosen not in PARTITIONS:
        raise RecipeError(f"unknown way to find observational classes {chosen!r} (known: {', '.join(PARTITIONS)})")
    if chosen == LIKELIHOOD:
        return chosen, ("as you chose: one sample of T per image tells classes apart only where their P(T=1) "
                        "differ a lot")
    return chosen, (f"up to {ObserveRecipe.feature_classes} classes, more than the samples of T can tell apart: "
                    "splitting a class costs Algorithm 1 a few answers, merging two gives their images one answer "
                    "(its premise is checked)")


def _invariance_reason(invariances: Sequence[str]) -> str:
    if not invariances:
        return "shifting, wrapping or mirroring an image can change T; only you know whether it does"
    said = {SHIFTS: f"{SHIFT_COPIES} shifted copies of each answered image (background filled in)",
            CYCLIC_SHIFTS: f"{SHIFT_COPIES} cyclic shifts of each answered image (wrapped round)",
            FLIPS: "each answered image's mirror image"}
    return "declared: " + "; ".join(said[v] for v in invariances)


def _generative_epochs(facts: DataFacts, widths: tuple[int, int]) -> int:
    """The generative model's epochs: its default rule (nets.training.generative_config), fewer when the
    images are costly, at least one."""
    default = generative_config(0, GENERATIVE_EPOCHS, facts.count).epochs
    macs = forward_macs(autoencoder_spec(facts.shape, widths=widths))
    return int(max(1, min(default, GENERATIVE_BUDGET // max(macs * facts.count, 1))))


def _values(facts: DataFacts) -> int:
    return facts.height * facts.width * facts.channels


def _positive(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise RecipeError(f"{what} must be a whole number >= 1, got {value!r}")
    return int(value)


def forward_macs(spec: dict[str, Any]) -> int:
    """Multiply-adds of one image's forward pass through the net of `spec` (convolutions and linear layers).
    Remembered per spec: the Learning panel chooses the recipe again on the GUI thread at each change a
    person makes, and a forward pass of a net for large colour images takes ~0.1 s."""
    return _forward_macs(json.dumps(spec, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _forward_macs(spec_json: str) -> int:
    spec = json.loads(spec_json)
    net = build_net({**spec, "n_classes": spec.get("n_classes", 2)})
    total = [0]

    def count(module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            per_output = module.in_channels // module.groups * int(np.prod(module.kernel_size))
            total[0] += per_output * output[0].numel() if isinstance(module, nn.Conv2d) else \
                per_output * output[0].numel() // int(np.prod(module.stride))
        elif isinstance(module, nn.Linear):
            total[0] += module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d,
                                                                                      nn.Linear))]
    with torch.no_grad():
        net(torch.zeros(1, *spec["in_shape"]))
    for hook in hooks:
        hook.remove()
    return total[0]
