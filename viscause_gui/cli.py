"""The `viscause` command: headless runs, observational classes, predictions and the CCT.

Contract: DESIGN.md. Progress goes to stderr, results to files (or JSON on stdout);
a bad argument or file gives a one-line message and a non-zero exit code.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

EXIT_BAD_INPUT = 2


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _digit(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 9:
        raise argparse.ArgumentTypeError(f"must be a digit 0..9, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="viscause", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run Algorithms 1 and 2 on an experiment")
    run.add_argument("experiment", choices=["grating", "mnist"], help="which experiment")
    run.add_argument("--digit", type=_digit, help="mnist (required): the digit d of T = 'a person says this shows d'")
    run.add_argument("--iterations", type=_positive_int, default=20)
    run.add_argument("--queries", type=_positive_int, default=100)
    run.add_argument("--oracle", choices=["truth", "model"], default=None,
                     help="who answers P(T=1|man(I)): 'truth' = the exact GRATING model (grating, default); "
                          "'model' = reference classifiers standing in for people (mnist, default)")
    run.add_argument("--annotators", type=_positive_int, default=None,
                     help="mnist: reference CNNs in the model oracle's panel (majority vote, as the paper's "
                          "five people; default 3)")
    run.add_argument("--oracle-epochs", type=_positive_int, default=None,
                     help="mnist: training epochs of each reference CNN (default 8)")
    run.add_argument("--epochs", type=_positive_int, default=None,
                     help="mnist: epochs of the causal net's first training (default 30, early stopping)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--out", type=Path, required=True, help="folder for history.json, iteration_NN.npz, model.*")
    run.add_argument("--alpha", type=_probability, default=0.5, help="0 = reach the target at any distance, 1 = stay close")
    run.add_argument("--n-obs", type=_positive_int, default=10000, help="grating: observational images")
    run.add_argument("--recipe", choices=["default", "paper"], default="default",
                     help="grating: 'paper' = the paper's training recipe (no shift augmentation, answers weighted 1)")
    run.add_argument("--threads", type=_positive_int, default=1, help="torch threads")

    observe = sub.add_parser("observe", help="estimate P(T=1|I) and observational classes from samples of T")
    observe.add_argument("data", type=Path, help=".npz with 'images' and 't'")
    observe.add_argument("--out", type=Path, required=True)
    observe.add_argument("--seed", type=int, default=0)

    predict = sub.add_parser("predict", help="P(T=1|man(I)) and the causal class from a run's net")
    predict.add_argument("--run", type=Path, required=True)
    predict.add_argument("--images", type=Path, required=True)
    predict.add_argument("--out", type=Path)

    cct = sub.add_parser("cct", help="exact observational and causal partitions of a discrete model")
    cct.add_argument("model", type=Path)
    cct.add_argument("--tol", type=float, default=1e-3)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"run": cmd_run, "observe": cmd_observe, "predict": cmd_predict, "cct": cmd_cct}[args.command](args)
    except (CliError, ValueError) as exc:
        print(f"viscause {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"viscause {args.command}: interrupted", file=sys.stderr)
        return 130


RECIPES = {
    "default": {},
    "paper": {"augment_shifts": 0, "query_weight": 1.0},
}


EXPERIMENT_ORACLES = {"grating": "truth", "mnist": "model"}


def _check_run_args(args: argparse.Namespace) -> None:
    expected = EXPERIMENT_ORACLES[args.experiment]
    if args.oracle is None:
        args.oracle = expected
    elif args.oracle != expected:
        raise CliError(f"run {args.experiment} takes --oracle {expected}, not --oracle {args.oracle}")
    if args.experiment == "mnist" and args.digit is None:
        raise CliError("run mnist needs --digit D (the digit 0..9 that T asks about)")
    mnist_only = {"--digit": args.digit, "--annotators": args.annotators,
                  "--oracle-epochs": args.oracle_epochs, "--epochs": args.epochs}
    given = [name for name, value in mnist_only.items() if value is not None]
    if args.experiment != "mnist" and given:
        raise CliError(f"{', '.join(given)}: only for run mnist, not run {args.experiment}")


def cmd_run(args: argparse.Namespace) -> int:
    _check_run_args(args)
    if args.experiment == "mnist":
        return cmd_run_mnist(args)
    from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
    from viscause_gui.core.experiments.grating import GratingModel
    from viscause_gui.core.nets.models import configure_torch_threads
    from viscause_gui.core.method.oracles import TruthOracle
    from viscause_gui.core.store.figures import plot_history
    from viscause_gui.core.store import rundir

    configure_torch_threads(args.threads)
    out = _prepare_out(args.out)
    model = GratingModel()
    data = model.sample(args.n_obs, args.seed)
    config = ExperimentConfig(iterations=args.iterations, queries=args.queries, alpha=args.alpha,
                              seed=args.seed, **RECIPES[args.recipe])
    experiment = Experiment(data, config)
    oracle = TruthOracle(model)
    started = time.perf_counter()
    _progress(f"GRATING: {args.n_obs} observational images, {args.iterations} iterations x {args.queries} queries")
    _run_loop(experiment, oracle, out, args.iterations, started)
    extra = {"experiment": "grating", "oracle": args.oracle, "n_obs": args.n_obs, "recipe": args.recipe,
             "seconds_total": round(time.perf_counter() - started, 3)}
    rundir.save_history(out, experiment, extra)
    rundir.save_model(out, experiment)
    plot_history([{"label": f"GRATING ({args.recipe})", "iterations": [r.to_json() for r in experiment.history]}],
                 out / "history.png", title="GRATING, truth oracle")
    _progress(f"done in {time.perf_counter() - started:.1f} s; results in {out}")
    return 0


def _run_loop(experiment, oracle, out: Path, iterations: int, started: float, on_iteration=None) -> None:
    """Algorithms 1 and 2 with an automatic oracle; each answered Algorithm 2 batch is saved
    as iteration_NN.npz, then on_iteration(batch) is called (the nets are that iteration's)."""
    from viscause_gui.core.method.experiment import QueryBatch, TrainEvent
    from viscause_gui.core.store import rundir

    for event in experiment.steps():
        if isinstance(event, TrainEvent) and event.progress.epoch == 1 and event.member == 0:
            _progress(f"iteration {event.iteration}: training the causal net")
        elif isinstance(event, QueryBatch):
            experiment.answer(oracle.answer(event.images))
            if event.kind == "algorithm1":
                _progress(f"Algorithm 1: {len(event)} representatives -> causal levels "
                          f"{np.round(experiment.causal_levels, 3).tolist()}")
            else:
                rundir.save_iteration(out, event)
                if on_iteration is not None:
                    on_iteration(event)
                r = experiment.history[-1]
                _progress(f"iteration {r.iteration}/{iterations}: MErr {r.merr:.3f}  MDist {r.mdist:.2f}  "
                          f"({time.perf_counter() - started:.1f} s)")


def cmd_run_mnist(args: argparse.Namespace) -> int:
    from viscause_gui.core.experiments import mnist
    from viscause_gui.core.store import rundir
    from viscause_gui.core.method.experiment import Experiment
    from viscause_gui.core.nets.models import configure_torch_threads
    from viscause_gui.core.store.figures import plot_history

    configure_torch_threads(args.threads)
    out = _prepare_out(args.out)
    started = time.perf_counter()
    d, annotators = args.digit, args.annotators or mnist.ANNOTATORS
    task = mnist.one_vs_all(d, args.seed)
    _progress(f"MNIST, T = 'shows a {d}': {len(task.data)} images ({d} and as many others), "
              f"{args.iterations} iterations x {args.queries} queries")
    _progress(f"training the model oracle: {annotators} reference CNN(s) on {len(task.pool)} pool images")
    oracle = mnist.train_oracle(task, annotators=annotators, seed=args.seed,
                                epochs=args.oracle_epochs or mnist.REFERENCE_EPOCHS)
    oracle_heldout = mnist.oracle_report(oracle, task.heldout)
    _progress(f"oracle on {len(task.heldout)} held-out digits: accuracy {oracle_heldout['accuracy_answered']:.3f} "
              f"on answered, '?' {oracle_heldout['unsure_rate']:.3f}")
    config = mnist.experiment_config(iterations=args.iterations, queries=args.queries, seed=args.seed,
                                     alpha=args.alpha, **({"epochs": args.epochs} if args.epochs else {}))
    experiment = Experiment(task.data, config)
    probe, probe_targets = mnist.figure_probe(task, seed=args.seed)
    stages, stage_answers, summaries = [], [], []

    def on_iteration(batch) -> None:
        result = experiment.manipulate(probe, probe_targets)
        stages.append(result.images)
        stage_answers.append(oracle.answer(result.images))
        summaries.append(mnist.batch_summary(experiment, batch))

    _run_loop(experiment, oracle, out, args.iterations, started, on_iteration)
    last = experiment.batches[-1]
    baseline = mnist.nearest_real_baseline(last.originals, last.targets == 1, task.pool.images,
                                           task.pool.obs_class == 1, oracle)
    extra = {"experiment": "mnist", "oracle": args.oracle, "digit": d, "annotators": annotators,
             "unsure_below": oracle.unsure_below, "oracle_epochs": args.oracle_epochs or mnist.REFERENCE_EPOCHS,
             "train_recipe": experiment.train_fn.to_json(),
             "n_data": len(task.data), "n_pool": len(task.pool), "n_heldout": len(task.heldout),
             "oracle_heldout": oracle_heldout, "iteration_summaries": summaries,
             "baseline_last_iteration": mnist.baseline_summary(baseline),
             "seconds_total": round(time.perf_counter() - started, 3)}
    rundir.save_history(out, experiment, extra)
    rundir.save_model(out, experiment)
    plot_history([{"label": f"digit {d}", "iterations": [r.to_json() for r in experiment.history]}],
                 out / "history.png", title=f"MNIST, T = 'shows a {d}', model oracle",
                 distance_label="MDist (L2)")
    mnist.plot_manipulation_rows(probe, stages, out / "manipulations.png", targets=probe_targets,
                                 answers=stage_answers, digit=d,
                                 title=f"held-out digits pushed to / away from {d},\nby each iteration's manipulator")
    _progress(f"baseline (nearest real image of the target class): median L2 "
              f"{np.median(baseline.distance):.2f}, accepted {baseline.accepted.mean():.3f}")
    _progress(f"done in {time.perf_counter() - started:.1f} s; results in {out}")
    return 0


def _prepare_out(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _load_npz(path: Path):
    from viscause_gui.core.data.readers import load_npz

    return load_npz(path)


def cmd_observe(args: argparse.Namespace) -> int:
    from viscause_gui.core.nets.models import configure_torch_threads
    from viscause_gui.core.method.partitions import fit_observational_classes

    configure_torch_threads(1)
    data = _load_npz(args.data)
    if data.t is None:
        raise CliError(f"{args.data}: no 't' array (observed samples of T, one per image)")
    t = np.asarray(data.t)
    if not np.all((t == 0) | (t == 1)):
        raise CliError(f"{args.data}: 't' must hold samples of a binary T (0 or 1)")
    started = time.perf_counter()
    _progress(f"fitting P(T=1|I) on {len(data)} images")
    fit = fit_observational_classes(data.images, t.astype(np.int64), seed=args.seed)
    np.savez_compressed(args.out, p_obs=fit.p_obs.astype(np.float64), obs_class=fit.obs_class.astype(np.int64))
    _progress(f"{fit.n_classes} observational classes ({fit.criterion}) in {time.perf_counter() - started:.1f} s")
    print(json.dumps({"n_classes": int(fit.n_classes), "class_p": [float(p) for p in fit.class_p],
                      "criterion": fit.criterion, "out": str(args.out)}))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from viscause_gui.core.store.rundir import RunModel

    model = RunModel(args.run)
    data = _load_npz(args.images)
    p_causal, causal_class = model.predict(data.images)
    if args.out:
        np.savez_compressed(args.out, p_causal=p_causal, causal_class=causal_class.astype(np.int64))
        _progress(f"{len(data)} predictions written to {args.out}")
    else:
        print(json.dumps({"p_causal": np.round(p_causal, 6).tolist(), "causal_class": causal_class.tolist()}))
    return 0


def cmd_cct(args: argparse.Namespace) -> int:
    from viscause_gui.core.method.partitions import DiscreteModel, cct

    try:
        spec = json.loads(args.model.read_text())
    except FileNotFoundError:
        raise CliError(f"{args.model}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CliError(f"{args.model}: not valid JSON ({exc})") from None
    result = cct(DiscreteModel.from_json(spec), tol=args.tol)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
