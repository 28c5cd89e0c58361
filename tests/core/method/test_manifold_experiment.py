"""The manifold manipulator through the whole loop: Experiment, session, run folder, `viscause predict`."""
import json

import numpy as np
import pytest

from tests.core.nets.test_generative import bars
from viscause_gui.cli import main as viscause
from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig, TrainEvent
from viscause_gui.core.method.manipulator_model import MANIFOLD
from viscause_gui.core.store.rundir import RunModel, save_model
from viscause_gui.core.store.session import SessionData
from viscause_gui.core.store.session_reader import load_session
from viscause_gui.core.store.session_writer import save_session


class BarOracle:
    """T = 1 for a vertical bar: the truth of the bar images, read off the image."""

    name = "bars"

    def answer(self, images):
        x = np.asarray(images)
        return (x.max(axis=1).sum(1) < x.max(axis=2).sum(1)).astype(np.float64)   # columns inked < rows inked


@pytest.fixture(scope="module")
def trained():
    images, labels = bars(500, seed=2)
    data = Dataset(images=images, obs_class=labels, name="bars")
    config = ExperimentConfig(iterations=2, queries=40, seed=1, manipulator="manifold", generative_epochs=25,
                              generative_code=8, epochs=10, retrain_epochs=3, augment_shifts=0,
                              net={"arch": "mlp", "hidden": [32]}, batch_size=32)
    exp = Experiment(data, config)
    events = []
    exp.run(BarOracle(), on_event=lambda e: events.append(e) and None)
    return exp, events


@pytest.mark.slow
def test_the_loop_trains_the_generative_model_first_then_searches_on_the_manifold(trained):
    exp, events = trained
    kinds = [e.model for e in events if isinstance(e, TrainEvent)]
    assert kinds[0] == "generative" and "causal" in kinds and "generative" not in kinds[kinds.index("causal"):]
    assert exp.generative is not None and len(exp.history) == 2
    assert exp.history[-1].merr <= 0.2
    batch = exp.batches[-1]
    again = exp.manipulate(batch.originals, batch.targets)
    assert again.codes is not None                                  # the manifold search answered


def test_binary_images_keep_the_exact_flips():
    images = (bars(60, seed=1)[0] > 0.5).astype(np.float32)
    exp = Experiment(Dataset(images=images, obs_class=np.zeros(60, int)),
                     ExperimentConfig(manipulator="manifold"))
    assert not exp.uses_manifold


@pytest.mark.slow
def test_a_session_keeps_the_generative_model(trained, tmp_path):
    exp, _ = trained
    path = tmp_path / "s.vcsession"
    save_session(path, SessionData(dataset=exp.data, experiment=exp))
    back = load_session(path).experiment
    assert back.generative is not None
    starts, targets = exp.data.images[:10], 1 - exp.data.obs_class[:10]
    np.testing.assert_allclose(back.manipulate(starts, targets).images, exp.manipulate(starts, targets).images,
                               atol=1e-5)
    assert back.manipulator_model().default_search == MANIFOLD


@pytest.mark.slow
def test_saving_does_not_run_the_nets_over_the_data_but_opening_does(trained, tmp_path, monkeypatch):
    """The save's read-back check (an autosave runs it on the GUI thread when a batch waits) skips
    the prototype bank, the nets over every image; opening the session builds it once."""
    from viscause_gui.core.method import manifold

    exp, _ = trained
    built = []
    real = manifold.PrototypeBank.build
    monkeypatch.setattr(manifold.PrototypeBank, "build", staticmethod(lambda *a, **k: built.append(1) or real(*a, **k)))
    path = save_session(tmp_path / "s.vcsession", SessionData(dataset=exp.data, experiment=exp))
    assert built == []
    assert load_session(path).experiment.bank is not None and built == [1]


@pytest.mark.slow
def test_a_run_folder_keeps_it_and_predict_manipulates_with_it(trained, tmp_path):
    exp, _ = trained
    save_model(tmp_path, exp)
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["generative"]["spec"]["arch"] == "autoencoder"
    model = RunModel(tmp_path)
    assert model.manipulator().default_search == MANIFOLD
    np.savez(tmp_path / "in.npz", images=exp.data.images[:8])
    assert viscause(["predict", "--run", str(tmp_path), "--images", str(tmp_path / "in.npz"),
                     "--out", str(tmp_path / "out.npz"), "--manipulate"]) == 0
    with np.load(tmp_path / "out.npz") as z:
        assert z["manipulated"].shape == (8, 12, 12)
        assert np.all(z["target_class"] != z["causal_class"])
    assert viscause(["predict", "--run", str(tmp_path), "--images", str(tmp_path / "in.npz"), "--manipulate"]) == 2


@pytest.mark.slow
def test_a_damaged_generative_model_in_a_run_folder_is_one_line(trained, tmp_path):
    exp, _ = trained
    save_model(tmp_path, exp)
    (tmp_path / "generative.pt").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ValueError, match=r"generative\.pt"):
        RunModel(tmp_path)
    save_model(tmp_path, exp)
    with np.load(tmp_path / "prototypes.npz") as z:
        arrays = dict(z)
    arrays["codes"] = arrays["codes"][:, :3]
    np.savez(tmp_path / "prototypes.npz", **arrays)
    with pytest.raises(ValueError, match=r"prototypes\.npz"):
        RunModel(tmp_path)
