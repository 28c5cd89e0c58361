"""The run folder of `viscause run` (docs/formats.md): history.json, iteration_NN.npz, model.pt, model.json.

Every file is written atomically, and history.json and the model after every iteration, so a run
stopped at any moment (Ctrl+C, a kill, a full disk) leaves a folder `viscause predict` can use,
holding the iterations that were finished.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from viscause_gui.core.method.experiment import Experiment, QueryBatch, TrainEvent
from viscause_gui.core.method.oracles import Oracle
from viscause_gui.core.nets.models import build_net, default_device, ensemble_proba
from viscause_gui.core.store.atomic import atomic_write


RUN_FILES = ("history.json", "model.pt", "model.json", "history.png", "manipulations.png")


def prepare_run_folder(out: Path) -> Path:
    """Create the folder (or use it), check that it can be written before any work starts, and
    remove the files of an earlier run there (a rerun must not leave its iterations beside ours)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(out / ".write-check", lambda f: f.write(b"ok"))
        (out / ".write-check").unlink()
        for old in [*out.glob("iteration_[0-9][0-9]*.npz"), *(out / name for name in RUN_FILES)]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    return out


def save_iteration(out: Path, batch: QueryBatch) -> Path:
    path = out / f"iteration_{batch.iteration:02d}.npz"
    atomic_write(path, lambda f: np.savez_compressed(
        f, originals=batch.originals.astype(np.float32), manipulated=batch.images.astype(np.float32),
        targets=batch.targets.astype(np.int64), answers=batch.answers.astype(np.float64)))
    return path


def save_history(out: Path, experiment: Experiment, extra_config: dict[str, Any] | None = None,
                 finished: bool = True) -> Path:
    """history.json; `finished` False while the run goes on (the folder is usable all the same)."""
    config = {**experiment.config.to_json(), **(extra_config or {}), "finished": finished}
    data = {"config": config, "iterations": [r.to_json() for r in experiment.history]}
    path = out / "history.json"
    atomic_write(path, lambda f: f.write(json.dumps(data, indent=2).encode("utf-8")))
    return path


def save_model(out: Path, experiment: Experiment) -> None:
    """model.pt: the state_dict of the causal net (members prefixed 'm<k>.' for an ensemble)."""
    nets = experiment.nets
    if len(nets) == 1:
        state = nets[0].state_dict()
    else:
        state = {f"m{m}.{k}": v for m, net in enumerate(nets) for k, v in net.state_dict().items()}
    atomic_write(out / "model.pt", lambda f: torch.save({k: v.detach().cpu() for k, v in state.items()}, f))
    meta = {"spec": experiment.spec, "members": len(nets), "binary": experiment.binary,
            "causal_levels": experiment.causal_levels.tolist(), "image_shape": list(experiment.data.shape)}
    atomic_write(out / "model.json", lambda f: f.write(json.dumps(meta, indent=2).encode("utf-8")))


class RunModel:
    """The causal net(s) of a finished run, rebuilt without unpickling anything."""

    def __init__(self, run_dir: str | Path):
        run_dir = Path(run_dir)
        try:
            self.meta = json.loads((run_dir / "model.json").read_text())
            state = torch.load(run_dir / "model.pt", map_location="cpu", weights_only=True)
        except FileNotFoundError as exc:
            raise ValueError(f"{run_dir}: not a run folder ({Path(exc.filename).name} is missing)") from None
        except (json.JSONDecodeError, RuntimeError, EOFError, OSError) as exc:
            raise ValueError(f"{run_dir}: the saved model cannot be read ({exc})") from None
        self.levels = np.asarray(self.meta["causal_levels"], np.float64)
        self.shape = tuple(self.meta["image_shape"])
        self.nets = [self._member(state, m) for m in range(int(self.meta.get("members", 1)))]

    def _member(self, state: dict[str, torch.Tensor], m: int) -> nn.Module:
        net = build_net(self.meta["spec"])
        if int(self.meta.get("members", 1)) > 1:
            prefix = f"m{m}."
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        net.load_state_dict(state)
        return net.to(default_device()).eval()

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(p_causal P(T=1|man(I)), causal_class) per image."""
        if tuple(images.shape[1:]) != self.shape:
            raise ValueError(f"images are {images.shape[1]}x{images.shape[2]}, the run's net expects "
                             f"{self.shape[0]}x{self.shape[1]}")
        proba = ensemble_proba(self.nets, images)
        return proba @ self.levels, proba.argmax(1)


def run_to_folder(experiment: Experiment, oracle: Oracle, out: Path, progress: Callable[[str], None],
                  started: float, on_iteration: Callable[[QueryBatch], None] | None = None) -> None:
    """Algorithms 1 and 2 with an automatic oracle; each answered Algorithm 2 batch is saved as
    iteration_NN.npz, then on_iteration(batch) is called (the nets are that iteration's)."""
    iterations = experiment.config.iterations
    for event in experiment.steps():
        if isinstance(event, TrainEvent) and event.progress.epoch == 1 and event.member == 0:
            progress(f"iteration {event.iteration}: training the causal net")
        elif isinstance(event, QueryBatch):
            experiment.answer(oracle.answer(event.images))
            if event.kind == "algorithm1":
                progress(f"Algorithm 1: {len(event)} representatives -> causal levels "
                         f"{np.round(experiment.causal_levels, 3).tolist()}")
            else:
                save_iteration(out, event)
                save_model(out, experiment)           # the nets that made this iteration's queries
                save_history(out, experiment, finished=False)
                if on_iteration is not None:
                    on_iteration(event)
                r = experiment.history[-1]
                progress(f"iteration {r.iteration}/{iterations}: MErr {r.merr:.3f}  MDist {r.mdist:.2f}  "
                         f"({time.perf_counter() - started:.1f} s)")
