"""The binary pixel search's margin (ExperimentConfig.binary_margin, Experiment.manipulator_confidence):
a net half-way through learning a boundary is ~98 % sure of images just short of it; with
cross-entropy the search stops there, with the margin it goes on into the class."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tests.core.method.old_sessions import without_config_key
from viscause_gui.core.experiments.grating import RECIPES, GratingModel, TruthOracle
from viscause_gui.core.method.experiment import BINARY_MARGIN, Experiment, ExperimentConfig
from viscause_gui.core.store.session import SessionData
from viscause_gui.core.store.session_reader import load_session
from viscause_gui.core.store.session_writer import save_session

CFG = dict(iterations=1, queries=4, epochs=1, retrain_epochs=1)


class RowNet(nn.Module):
    """Class 1 (h-bar) logit margin = 4 x (ink in row 0 - threshold) + weak x (ink in row 5): with
    threshold 8 a row of 9 is class 1 at P = 0.98."""

    def __init__(self, threshold: float = 8.0, weak: float = 0.0):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.in_shape = (10, 10)
        self.threshold, self.weak = threshold, weak

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), 10, 10)
        z = 4.0 * (x[:, 0].sum(1) - self.threshold) + self.weak * x[:, 5].sum(1)
        return torch.stack([-z / 2, z / 2], 1) + 0 * self.dummy


def experiment_with_row_net(net: nn.Module | None = None, **config) -> Experiment:
    exp = Experiment(GratingModel().sample(50, 0), ExperimentConfig(**config))
    exp.nets, exp.causal_levels = [net or RowNet()], np.array([0.25, 0.85])
    return exp


def test_the_margin_completes_what_cross_entropy_leaves_one_pixel_short():
    start = np.zeros((1, 10, 10), np.float32)
    start[0, 0, :7] = 1.0                                  # a row of 7
    paper = experiment_with_row_net(binary_margin=0.0).manipulate(start, np.array([1]))
    assert paper.images[0, 0].sum() == 9                    # the net's 98 % was enough: a row of 9, no h-bar
    deep = experiment_with_row_net().manipulate(start, np.array([1]))
    assert deep.images[0, 0].sum() == 10 and deep.distance[0] == 3      # the row completed, nothing else
    assert GratingModel().causal_class(deep.images)[0] == 1


def test_flips_that_buy_little_margin_are_not_taken():
    # a complete row gives margin 6; each pixel of row 5 adds 0.5 logit (a feature the net weighs a
    # little, like a v-bar's pixel on GRATING). Counted in logits, the hinge would buy the last 2
    # logits with 4 such flips; in units of twice the margin a flip must buy 1.6 logits.
    net = RowNet(threshold=8.5, weak=0.5)
    start = np.zeros((1, 10, 10), np.float32)
    start[0, 0, :7] = 1.0
    result = experiment_with_row_net(net).manipulate(start, np.array([1]))
    assert result.images[0, 0].sum() == 10 and result.images[0, 5].sum() == 0 and result.distance[0] == 3


def test_which_margin_the_manipulator_uses():
    binary = Experiment(GratingModel().sample(50, 0), ExperimentConfig(**CFG))
    assert binary.config.binary_margin == BINARY_MARGIN > 0
    assert binary.manipulator_confidence == BINARY_MARGIN
    paper = Experiment(GratingModel().sample(50, 0), ExperimentConfig(**CFG, **RECIPES["paper"]))
    assert paper.manipulator_confidence is None             # the paper's cross-entropy
    chosen = Experiment(GratingModel().sample(50, 0), ExperimentConfig(**CFG, confidence=3.0))
    assert chosen.manipulator_confidence == 3.0
    grey = GratingModel().sample(50, 0)
    grey.images = grey.images * 0.5 + 0.25                  # not binary: the grey search's own depth
    assert Experiment(grey, ExperimentConfig(**CFG)).manipulator_confidence is None


def test_a_session_saved_before_the_margin_existed_goes_on_without_it(tmp_path):
    model = GratingModel()
    exp = Experiment(model.sample(200, 0), ExperimentConfig(**CFG))
    exp.run(TruthOracle(model))
    path = save_session(tmp_path / "a.vcsession", SessionData(experiment=exp))
    assert load_session(path).experiment.config.binary_margin == BINARY_MARGIN
    old = without_config_key(path, "binary_margin", tmp_path / "old.vcsession")
    again = load_session(old).experiment
    assert again.config.binary_margin == 0.0 and again.manipulator_confidence is None
