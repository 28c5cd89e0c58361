"""The Qt-free parts of a learning run."""
from viscause_gui.core.method.experiment import TrainEvent
from viscause_gui.core.nets.training import TrainProgress
from viscause_gui.gui.controllers.learning import run_fraction


def _event(iteration: int, member: int, members: int, epoch: int, epochs: int = 30) -> TrainEvent:
    return TrainEvent(iteration, member, members, TrainProgress(epoch, epochs, 0.5, 0.5, 0.5))


def test_the_progress_counts_every_member_of_an_ensemble():
    # Algorithm 1's first training (goal None): three nets of 30 epochs each
    assert run_fraction(_event(1, 0, 3, 30), None, 0) == 1 / 3
    assert run_fraction(_event(1, 1, 3, 15), None, 0) == 0.5
    assert run_fraction(_event(1, 2, 3, 30), None, 0) == 1.0
    # iteration 3 of a run from 2 to 6 (goal 6, base 2): one net, half way through its epochs
    assert run_fraction(_event(3, 0, 1, 15), 6, 2) == (0 + 0.5) / 4
    assert run_fraction(_event(9, 0, 1, 30), 6, 2) == 1.0
