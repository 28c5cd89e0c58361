"""The run folder's reader (`viscause predict`): every damaged or edited model.json / model.pt is
refused in one line naming the file, before anything large is allocated."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from viscause_gui.core.experiments.grating import GratingModel, TruthOracle
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
from viscause_gui.core.store.rundir import RunModel, save_model


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    model = GratingModel()
    exp = Experiment(model.sample(300, 0), ExperimentConfig(iterations=1, queries=5, epochs=1, retrain_epochs=1))
    exp.run(TruthOracle(model))
    out = tmp_path_factory.mktemp("run")
    save_model(out, exp)
    return out


def _copy(run_folder: Path, tmp_path: Path) -> tuple[Path, dict]:
    d = tmp_path / "run"
    shutil.copytree(run_folder, d)
    return d, json.loads((d / "model.json").read_text())


def test_a_good_run_folder_predicts(run_folder):
    p, c = RunModel(run_folder).predict(GratingModel().sample(20, 1).images)
    assert p.shape == (20,) and np.isfinite(p).all() and set(c.tolist()) <= {0, 1}


@pytest.mark.parametrize("edit, needle", [
    (lambda m: {k: v for k, v in m.items() if k != "spec"}, "has no 'spec'"),
    (lambda m: {k: v for k, v in m.items() if k != "causal_levels"}, "has no 'causal_levels'"),
    (lambda m: [1, 2], "must be a JSON object"),
    (lambda m: {**m, "spec": {**m["spec"], "hidden": [50]}}, "has shape"),
    (lambda m: {**m, "causal_levels": [0.1, 0.5, 0.9]}, "does not match"),
    (lambda m: {**m, "image_shape": [-10, 10]}, "'image_shape'"),
    (lambda m: {**m, "members": 5}, "do not match the net spec"),
    (lambda m: {**m, "members": True}, "'members'"),
    (lambda m: {**m, "spec": {**m["spec"], "hidden": [30_000, 30_000]}}, "more than the limit"),
    (lambda m: {**m, "spec": {**m["spec"], "arch": "transformer"}}, "unknown net architecture"),
    (lambda m: {**m, "causal_levels": ["0.2", 0.8]}, "'causal_levels'"),
    (lambda m: {**m, "spec": "mlp"}, "'spec' must be a JSON object"),
])
def test_edited_model_json_is_refused_in_one_line(run_folder, tmp_path, edit, needle):
    d, meta = _copy(run_folder, tmp_path)
    (d / "model.json").write_text(json.dumps(edit(meta)))
    with pytest.raises(ValueError, match=needle) as info:
        RunModel(d)
    assert str(d) in str(info.value) and "\n" not in str(info.value)


def test_nan_levels_and_nan_weights_are_refused(run_folder, tmp_path):
    d, meta = _copy(run_folder, tmp_path)
    (d / "model.json").write_text(json.dumps(meta).replace("0.25", "NaN", 1))
    with pytest.raises(ValueError, match="NaN"):
        RunModel(d)
    d2, _ = _copy(run_folder, tmp_path / "b")
    state = torch.load(d2 / "model.pt", weights_only=True)
    next(iter(state.values())).view(-1)[0] = float("nan")
    torch.save(state, d2 / "model.pt")
    with pytest.raises(ValueError, match="NaN or infinite weights"):
        RunModel(d2)


class Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/viscause-pwned",))


@pytest.mark.parametrize("weights, needle", [
    (lambda p: p.write_bytes(os.urandom(4000)), "not a torch state_dict file"),
    (lambda p: torch.save(torch.zeros(3), p), "not a state_dict"),
    (lambda p: torch.save({"body.1.weight": [1, 2]}, p), "do not match"),
    (lambda p: torch.save({"x": Payload()}, p), "could run code"),
    (lambda p: p.write_bytes(b""), "not a torch state_dict file"),
])
def test_damaged_or_crafted_weights_are_refused(run_folder, tmp_path, weights, needle):
    d, _ = _copy(run_folder, tmp_path)
    weights(d / "model.pt")
    with pytest.raises(ValueError, match=needle):
        RunModel(d)
    assert not Path("/tmp/viscause-pwned").exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000), cut=st.integers(0, 10_000))
def test_fuzz_model_json_bytes_and_truncated_weights_give_one_value_error(run_folder, tmp_path, data, cut):
    d = tmp_path / "fuzz"
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(run_folder, d)
    (d / "model.json").write_bytes(data)
    with pytest.raises(ValueError):
        RunModel(d)
    shutil.copy(run_folder / "model.json", d / "model.json")
    raw = (run_folder / "model.pt").read_bytes()
    if cut < len(raw):
        (d / "model.pt").write_bytes(raw[:cut])
        with pytest.raises(ValueError):
            RunModel(d)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory from /proc (VmHWM)")
def test_a_huge_spec_is_refused_with_bounded_memory(run_folder, tmp_path):
    """The spec is sized on the meta device: asking for 900 million parameters allocates nothing."""
    d, meta = _copy(run_folder, tmp_path)
    (d / "model.json").write_text(json.dumps({**meta, "spec": {**meta["spec"], "hidden": [30_000, 30_000]}}))
    code = ("import resource, sys\nfrom viscause_gui.core.store.rundir import RunModel\n"
            "try:\n    RunModel(sys.argv[1])\nexcept ValueError as e:\n    print('refused', e)\n"
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))")  # KiB
    result = subprocess.run([sys.executable, "-c", code, str(d)], capture_output=True, text=True, timeout=120)
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("refused") and "more than the limit" in lines[0]
    assert int(lines[-1]) < 1_000_000          # KiB: under 1 GB peak (it was 3.6 GB)
