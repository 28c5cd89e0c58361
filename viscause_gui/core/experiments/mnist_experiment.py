"""The MNIST experiment as registered: `viscause run mnist --digit d` (T = 'shows a d', one-vs-all: mnist.py)
or `--outcomes ten` (T = the digit read, ten outcomes in one run: mnist_ten.py), the built-in digit data
sets and the digit recipe for any grey labelled data set (the GUI's digit mode)."""
from __future__ import annotations

from pathlib import Path

from viscause_gui.core.data.builtin import load_digits8x8, load_mnist_subset
from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.experiments.mnist import ANNOTATORS, REFERENCE_EPOCHS, digit_recipe, run_one_vs_all
from viscause_gui.core.experiments.mnist_ten import run_ten
from viscause_gui.core.experiments.registry import (BuiltinData, BuiltinExperiment, Progress, Recipe, RunOption,
                                                    RunRequest, register)


class MnistExperiment(BuiltinExperiment):
    name = "mnist"
    title = "MNIST: what makes a digit a d"
    datasets = (BuiltinData("digits8x8", "scikit-learn's 1,797 handwritten digits, 8x8 grey", load_digits8x8),
                BuiltinData("mnist_subset", "5,000 MNIST digits (500 per class), 28x28 grey, from sample_data/",
                            load_mnist_subset))
    oracles = ("model",)

    def recipe(self, data: Dataset, positive_label: int | None) -> Recipe | None:
        return digit_recipe(data, positive_label)

    run_options = (
        RunOption("--digit", "mnist (required unless --outcomes ten): the digit d of T = 'a person says this "
                  "shows d'", int, lo=0, hi=9, what="a digit 0..9"),
        RunOption("--outcomes", "mnist: two (default): T = 'shows d', one-vs-all, needs --digit; ten: T = the digit "
                  "a person reads, ten outcomes 0..9 in one run (the 10 x 10 figure)", str, "two",
                  choices=("two", "ten")),
        RunOption("--annotators", "mnist: reference CNNs in the model oracle's panel (majority vote, as the paper's "
                  f"five people; default {ANNOTATORS})", int, ANNOTATORS, lo=1, what="a positive integer"),
        RunOption("--oracle-epochs", f"mnist: training epochs of each reference CNN (default {REFERENCE_EPOCHS})",
                  int, REFERENCE_EPOCHS, lo=1, what="a positive integer"),
        RunOption("--epochs", "mnist: epochs of the causal net's first training (default 30, early stopping)",
                  int, lo=1, what="a positive integer"),
        RunOption("--generative-epochs", "mnist: epochs of the manifold manipulator's generative model (default 30)",
                  int, lo=1, what="a positive integer"),
    )

    def check_run(self, request: RunRequest) -> None:
        ten = request.options["outcomes"] == "ten"
        if ten and request.options["digit"] is not None:
            raise ValueError("run mnist --outcomes ten asks about every digit: leave out --digit")
        if not ten and request.options["digit"] is None:
            raise ValueError("run mnist needs --digit D (the digit 0..9 that T asks about) or --outcomes ten")

    def run(self, request: RunRequest, out: Path, progress: Progress) -> None:
        if request.options["outcomes"] == "ten":
            run_ten(request, out, progress)
        else:
            run_one_vs_all(request, out, progress)


register(MnistExperiment())
