"""The `viscause` command: headless runs, observational classes, predictions and the CCT.

Contract: docs/formats.md. Progress goes to stderr, results to files (or JSON on stdout);
a bad argument or file gives a one-line message and a non-zero exit code. The command line is
parsed here, and only here: a built-in experiment declares its own options as data
(`registry.RunOption`), and its run gets their values, typed, in a `registry.RunRequest`.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from viscause_gui import sweep_command
from viscause_gui.core.data.dataset import labels_as_outcomes
from viscause_gui.core.data.readers import load_npz, load_path, npz_array_shape
from viscause_gui.core.experiments import registry
from viscause_gui.core.experiments.registry import BuiltinExperiment, RunOption, RunRequest
from viscause_gui.core.method.cct import cct, read_cct_model
from viscause_gui.core.method.experiment import MANIPULATORS, ExperimentError
from viscause_gui.core.method.manipulator_model import default_targets
from viscause_gui.core.method.observe import PARTITIONS, fit_memory_bytes, fit_observational_classes
from viscause_gui.core.method.plugged_oracles import DEFAULT_TIMEOUT, OracleFailure
from viscause_gui.core.method.query_choice import DEFAULT_CHOICE, QUERY_CHOICES
from viscause_gui.core.method.recipe import ENSEMBLE, INVARIANCES, NETS, DataFacts, choose_recipe
from viscause_gui.core.nets.models import configure_torch_threads
from viscause_gui.core.store.atomic import atomic_write
from viscause_gui.core.store.data_run import (DataRunSettings, OracleNeeded, Outcome, answer_data_run, resume_data_run,
                                              start_data_run)
from viscause_gui.core.store.folder_lock import FolderInUse
from viscause_gui.core.store.offline import how_to_answer
from viscause_gui.core.store.rundir import RunModel, locked_run_folder, prepare_run_folder
from viscause_gui.core.system.memory import memory_problem

EXIT_BAD_INPUT = 2
EXIT_UNEXPECTED = 1
EXIT_ORACLE_FAILED = 3       # a plugged oracle failed mid-run; the run is saved: fix it, then `viscause resume`
EXIT_NEEDS_ORACLE = 4        # the run recorded a plugged oracle and none was named; saved: the line says how to go on
EXIT_IN_USE = 5              # another viscause command holds the run folder; nothing changed
ORACLE_FROM_COMMAND_LINE = ("a run folder's oracle is data, never code to run: a plugged oracle is loaded only "
                            "from this option, never from the folder")
DATA_OWNER = "DATA"          # the owner of `viscause run DATA`'s own options


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


# ---------------------------------------------------------------- argument types

def int_in(lo: int, hi: int | None = None, what: str = "an integer") -> Callable[[str], int]:
    """An argparse type: an integer in [lo, hi] (no upper bound for hi None)."""
    def parse(text: str) -> int:
        value = int(text)
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value
    parse.__name__ = "int"       # argparse: "invalid int value"
    return parse


positive_int = int_in(1, what="a positive integer")


def probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], got {text}")
    return value


def _run_option_type(option: RunOption) -> Callable[[str], Any]:
    """The argparse type of an experiment's declared number option: its kind, within its range."""
    if option.lo is None and option.hi is None:
        return option.kind
    what = option.what or f"a number in [{option.lo}, {option.hi}]"

    def parse(text: str) -> Any:
        value = option.kind(text)
        if option.out_of_range(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value
    parse.__name__ = option.kind.__name__      # argparse: "invalid int value"
    return parse


def _add_run_option(run: argparse.ArgumentParser, option: RunOption) -> str:
    """An experiment's declared option on `viscause run`; its dest. It has no default here (None):
    given to another experiment it is refused, and the declared default is filled in later."""
    if option.choices:
        run.add_argument(option.flag, choices=option.choices, default=None, help=option.help)
    else:
        run.add_argument(option.flag, type=_run_option_type(option), default=None, help=option.help)
    return option.key


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_parser(parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The command line; `viscause sweep` checks its cells with a parser_class that raises instead of exiting."""
    parser = parser_class(prog="viscause", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run Algorithms 1 and 2 on an experiment or on a data set",
                         epilog=f"Plugged oracles run in a child process: a hang, a crash or an exit there stops "
                                f"the run with one line, the run saved. {_EXIT_CODES}")
    runnable = registry.runnable()
    run.add_argument("experiment", metavar="NAME|DATA",
                     help=f"a built-in experiment ({', '.join(e.name for e in runnable)}) or a data set: an .npz, "
                          "a folder of images or an MNIST IDX file, with samples of T ('t'), P(T=1|I) or "
                          "observational classes")
    run.add_argument("--iterations", type=positive_int, default=20)
    run.add_argument("--queries", type=positive_int, default=100)
    run.add_argument("--oracle", default=None,
                     help="who answers P(T=1|man(I)): " + "; ".join(
                         f"{e.name}: {', '.join(e.oracles)} (default {e.oracles[0]})" for e in runnable)
                     + "; DATA (required): offline, python:MODULE:FUNCTION, python:FILE.py:FUNCTION, torch:FILE "
                       "(torch.export or TorchScript) or onnx:FILE")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--out", type=Path, required=True, help="folder for history.json, iteration_NN.npz, model.*")
    run.add_argument("--alpha", type=probability, default=0.5,
                     help="0 = reach the target at any distance, 1 = stay close")
    run.add_argument("--threads", type=positive_int, default=None,
                     help="torch threads (default 1: the same seed gives the same result on every machine; more "
                          "train large convolutional nets faster, and the result then depends on the count)")
    run.add_argument("--manipulator", choices=MANIPULATORS, default=None,
                     help="where the manipulator searches: pixels, the data's manifold (a generative model of "
                          "the images, trained first) or patches (regions of real images of the target class "
                          "pasted in); default: the experiment's, for DATA the recipe's (patches for grey and "
                          "colour images; binary images always flip pixels)")
    run.add_argument("--queries-by", choices=QUERY_CHOICES, default=None,
                     help="how Algorithm 2 chooses its queries: random (the paper's: start images and targets at "
                          "random) or active (of a larger pool of candidate manipulations, those the nets doubt "
                          "most, more for the target classes whose manipulations failed); default: active (the MNIST "
                          "recipes: random)")
    owners = {dest: DATA_OWNER for dest in _add_data_run_arguments(run)}
    for experiment in runnable:
        owners.update({_add_run_option(run, option): experiment.name for option in experiment.run_options})
    run.set_defaults(option_owners=owners)

    answer = sub.add_parser("answer", help="give a waiting run (--oracle offline) its answers CSV and go on",
                            epilog=f"Without --oracle the run goes on offline (it stops at its next batch); "
                                   f"{ORACLE_FROM_COMMAND_LINE}. {_EXIT_CODES}")
    answer.add_argument("run_dir", type=Path, help="the run folder (--out of viscause run)")
    answer.add_argument("answers", type=Path, help="the batch's answers.csv with the 'answer' column filled in")
    _add_go_on_arguments(answer, "who answers the batches after this one: offline (the default) or a plugged "
                                 "oracle (python:..., torch:FILE, onnx:FILE)")

    resume = sub.add_parser("resume", help="go on with a data run that stopped (an oracle failed, Ctrl+C)",
                            epilog=f"A run that recorded a plugged oracle needs --oracle again; "
                                   f"{ORACLE_FROM_COMMAND_LINE}. A run that recorded --oracle offline goes on "
                                   f"offline without it. {_EXIT_CODES}")
    resume.add_argument("run_dir", type=Path, help="the run folder (--out of viscause run)")
    _add_go_on_arguments(resume, "who answers from here: the oracle the run recorded (named again) or another one")

    observe = sub.add_parser("observe", help="estimate P(T=1|I) and observational classes from samples of T")
    observe.add_argument("data", type=Path, help=".npz with 'images' and 't'")
    observe.add_argument("--out", type=Path, required=True)
    observe.add_argument("--seed", type=int, default=0)

    predict = sub.add_parser("predict", help="P(T=1|man(I)) and the causal class from a run's net")
    predict.add_argument("--run", type=Path, required=True)
    predict.add_argument("--images", type=Path, required=True)
    predict.add_argument("--out", type=Path)
    predict.add_argument("--manipulate", action="store_true",
                         help="also manipulate every image towards its most probable other causal class, with the "
                              "run's manipulator (the data manifold when the run used it); needs --out")
    predict.add_argument("--alpha", type=probability, default=0.5, help="--manipulate: 0 = reach the target at any "
                                                                        "distance, 1 = stay close")

    sweep_command.add_parser(sub)

    cct = sub.add_parser("cct", help="exact observational and causal partitions of a discrete model")
    cct.add_argument("model", type=Path)
    cct.add_argument("--tol", type=_tolerance, default=1e-3,
                     help="probabilities closer than this are equal (a finite number >= 0; default 1e-3)")
    return parser


_EXIT_CODES = (f"Exit codes: 0 done or waiting for an answers file, 2 bad input (nothing changed), "
               f"{EXIT_ORACLE_FAILED} the oracle failed (the run is saved: fix it, then resume), "
               f"{EXIT_NEEDS_ORACLE} the run waits for --oracle (saved), {EXIT_IN_USE} another viscause command "
               "is using the run folder (nothing changed), 130 interrupted (saved).")


def _add_go_on_arguments(parser: argparse.ArgumentParser, oracle_help: str) -> None:
    """`answer` and `resume`: the oracle to go on with, named on the command line."""
    parser.add_argument("--oracle", default=None, help=oracle_help)
    parser.add_argument("--positive-class", type=int_in(0, what="an integer >= 0"), default=None,
                        help="with --oracle torch:/onnx:: the model's class whose probability is P(T=1)")
    parser.add_argument("--oracle-timeout", type=_timeout, default=None,
                        help=f"seconds a plugged oracle may take to load and for one batch (default: the run's, "
                             f"{DEFAULT_TIMEOUT:g})")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="torch threads (default 1: the same result on every machine; more train large nets "
                             "faster)")


def _add_data_run_arguments(run: argparse.ArgumentParser) -> list[str]:
    """`viscause run DATA`'s own options; their dest names."""
    run.add_argument("--positive-class", type=int_in(0, what="an integer >= 0"), default=None,
                     help="DATA with --oracle torch:/onnx:: the model's class whose probability is P(T=1) "
                          "(default 1; a single-logit model: its sigmoid)")
    run.add_argument("--oracle-timeout", type=_timeout, default=None,
                     help=f"DATA: seconds a plugged oracle may take to load, and for each batch "
                          f"(default {DEFAULT_TIMEOUT:g})")
    run.add_argument("--t-label", type=int, default=None,
                     help="DATA with labels and no samples of T: T = 1 for the images with this label")
    run.add_argument("--t-from-labels", action="store_const", const=True, default=None,
                     help="DATA with labels and no samples of T: T is the label, one outcome per label (named after "
                          "the sub-folders or the labels)")
    run.add_argument("--grey", action="store_const", const=True, default=None,
                     help="DATA: turn colour images into grey ones (luma) as they are read")
    run.add_argument("--net", choices=NETS, default=None,
                     help="DATA: the causal net's family (default: chosen from the images, and printed: an MLP for "
                          "tiny images, a CNN for larger ones)")
    run.add_argument("--hidden", type=_hidden_units, default=None,
                     help="DATA: the causal net's hidden layers, e.g. 100 or 300,100 (default: the recipe's)")
    run.add_argument("--ensemble", type=positive_int, default=None,
                     help=f"DATA: causal nets trained with different seeds (default {ENSEMBLE})")
    run.add_argument("--invariant", choices=INVARIANCES, action="append", default=None,
                     help="DATA: a change of the image that you know leaves T as it is, trained as copies of each "
                          "answer (repeat for more): shifts (small, background filled in), cyclic-shifts (wrapped "
                          "round, as GRATING's), flips (left-right mirror) or none (the default)")
    run.add_argument("--observe", choices=PARTITIONS, default=None,
                     help="DATA with samples of T: how its observational classes are found: features (the default: "
                          "fine classes, clusters of the features of the nets that fit P(T|I); Algorithm 1's answers "
                          "merge them) or likelihood (as many as the held-out samples of T support, as `observe` does)")
    return ["positive_class", "oracle_timeout", "t_label", "grey", "net", "hidden", "ensemble", "invariant", "observe",
            "t_from_labels"]


def _hidden_units(text: str) -> list[int]:
    try:
        units = [int(part) for part in text.split(",")]
    except ValueError:
        units = []
    if not units or min(units) < 1:
        raise argparse.ArgumentTypeError(f"must be whole numbers >= 1 separated by commas, e.g. 300,100; got {text}")
    return units


def _timeout(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text}")
    return value


def _tolerance(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"run": cmd_run, "observe": cmd_observe, "predict": cmd_predict, "cct": cmd_cct,
                "answer": cmd_answer, "resume": cmd_resume, "sweep": cmd_sweep}[args.command](args)
    except (CliError, ValueError, ExperimentError) as exc:
        print(f"viscause {args.command}: error: {exc}", file=sys.stderr)
        return _exit_code(exc)
    except MemoryError:
        print(f"viscause {args.command}: error: not enough memory for this input", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"viscause {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the user gets one line; the details go to a log file
        log = _write_error_log(args)
        print(f"viscause {args.command}: unexpected error: {type(exc).__name__}: {exc} (details in {log})",
              file=sys.stderr)
        return EXIT_UNEXPECTED


def _exit_code(error: Exception) -> int:
    """A one-line error's exit code (docs/formats.md §6, Exit codes): 2 unless it says more."""
    for kind, code in ((FolderInUse, EXIT_IN_USE), (OracleNeeded, EXIT_NEEDS_ORACLE),
                       (OracleFailure, EXIT_ORACLE_FAILED)):
        if isinstance(error, kind):
            return code
    return EXIT_BAD_INPUT


def _write_error_log(args: argparse.Namespace) -> str:
    """The traceback of an unexpected error, in a file of its own; its path (or why there is none)."""
    try:
        fd, path = tempfile.mkstemp(prefix="viscause-error-", suffix=".log")
        with os.fdopen(fd, "w") as f:
            f.write(f"viscause {' '.join(sys.argv[1:])}\n{vars(args)}\n\n{traceback.format_exc()}")
        return path
    except OSError as exc:
        return f"no log: {exc}"


def _run_request(args: argparse.Namespace, experiment: BuiltinExperiment) -> RunRequest:
    """What the experiment is asked to run: an oracle it takes, its own options (declared defaults
    where not given), checked by the experiment, and no option of another experiment."""
    oracle = experiment.oracles[0] if args.oracle is None else args.oracle
    if oracle not in experiment.oracles:
        raise CliError(f"run {args.experiment} takes --oracle {' or --oracle '.join(experiment.oracles)}, "
                       f"not --oracle {oracle}")
    options = {}
    for option in experiment.run_options:
        value = getattr(args, option.key)
        options[option.key] = option.default if value is None else value
    request = RunRequest(oracle=oracle, iterations=args.iterations, queries=args.queries, seed=args.seed,
                         alpha=args.alpha, manipulator=args.manipulator, queries_by=args.queries_by,
                         options=MappingProxyType(options))
    experiment.check_run(request)
    _refuse_foreign_options(args, experiment.name)
    return request


def _refuse_foreign_options(args: argparse.Namespace, own: str) -> None:
    """No option of another experiment (or of data runs, owner DATA_OWNER)."""
    foreign = {}
    for dest, owner in args.option_owners.items():
        if owner != own and getattr(args, dest) is not None:
            foreign.setdefault(owner, []).append("--" + dest.replace("_", "-"))
    for owner, flags in foreign.items():
        raise CliError(f"{', '.join(flags)}: only for run {owner}, not run {args.experiment}")


def cmd_run(args: argparse.Namespace) -> int:
    if args.experiment not in {e.name for e in registry.runnable()}:
        return _run_data(args)
    experiment = registry.get(args.experiment)
    request = _run_request(args, experiment)
    configure_torch_threads(args.threads or 1)
    with locked_run_folder(args.out, create=True):
        out = prepare_run_folder(args.out)
        started = time.perf_counter()
        experiment.run(request, out, _progress)
    _progress(f"done in {time.perf_counter() - started:.1f} s; results in {out}")
    return 0


def _check_data_args(args: argparse.Namespace) -> Path:
    """`viscause run DATA`'s checks of its command line (before any file is read); the data's path."""
    path = Path(args.experiment)
    if not path.exists():
        names = ", ".join(e.name for e in registry.runnable())
        raise CliError(f"{path}: no experiment of that name ({names}) and no such file or folder")
    if args.oracle is None:
        raise CliError(f"run {path} needs --oracle: offline, python:MODULE:FUNCTION, python:FILE.py:FUNCTION, "
                       "torch:FILE or onnx:FILE")
    _refuse_foreign_options(args, DATA_OWNER)
    if args.t_from_labels and args.t_label is not None:
        raise CliError("--t-label D makes T binary (T = 1 for label D), --t-from-labels makes T the label: give one")
    return path


def _run_data(args: argparse.Namespace) -> int:
    """`viscause run DATA`: the data set's classes, then Algorithms 1 and 2 with a plugged or offline oracle."""
    path = _check_data_args(args)
    data = load_path(path, grey=bool(args.grey))
    if args.t_from_labels:
        data = labels_as_outcomes(data)
    recipe = choose_recipe(DataFacts.of(data.images, data.is_binary), args.invariant or (),
                           {"net": args.net, "hidden": args.hidden, "ensemble": args.ensemble,
                            "manipulator": args.manipulator, "observe": args.observe})
    config = recipe.experiment_config(iterations=args.iterations, queries=args.queries, alpha=args.alpha,
                                      seed=args.seed, queries_by=args.queries_by or DEFAULT_CHOICE)
    settings = DataRunSettings(str(path), args.oracle, 1 if args.positive_class is None else args.positive_class,
                               args.oracle_timeout or DEFAULT_TIMEOUT, args.t_label, recipe.to_json(),
                               bool(args.t_from_labels))
    oracle = settings.oracle_for(data.shape, data.n_outcomes)   # a bad oracle fails before the folder is touched
    try:
        with locked_run_folder(args.out, create=True):
            out = prepare_run_folder(args.out)
            started = time.perf_counter()
            outcome = start_data_run(data, config, settings, oracle, out, _progress, args.threads)
    finally:
        if oracle is not None:
            oracle.close()                            # start_data_run closes it too; this covers a refusal before
    return _report(outcome, out, started)


def _report(outcome: Outcome, out: Path, started: float) -> int:
    """Say where a data run stopped: its results, or what to do with the batch that waits."""
    if outcome.finished:
        _progress(f"done in {time.perf_counter() - started:.1f} s; results in {out}")
        return 0
    folder = outcome.waiting.parent
    _progress(f"waiting for the oracle: {outcome.batch_size} images in {folder} (0000.png ..., images.npz). "
              f"Fill in the 'answer' column of {outcome.waiting} ({how_to_answer(outcome.outcomes)}), then run: "
              f"viscause answer {out} {outcome.waiting}")
    return 0


class _RefusingParser(argparse.ArgumentParser):
    """`viscause run`'s parser for a sweep's cells: an error is a CliError (no exit, no usage text), and an
    option is named in full (no abbreviations)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**kwargs, "allow_abbrev": False})

    def error(self, message: str) -> Any:
        raise CliError(message)

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        raise CliError((message or "").strip() or "not a run option")


def check_run_args(run_args: list[str]) -> None:
    """A sweep cell's `viscause run` arguments go through `viscause run`'s own parser and checks (no
    file is read, no oracle loaded); a ValueError with one line."""
    try:
        args = build_parser(_RefusingParser).parse_args([*run_args, "--out=cell"])
        if args.experiment in {e.name for e in registry.runnable()}:
            _run_request(args, registry.get(args.experiment))
        else:
            _check_data_args(args)
    except (CliError, ExperimentError) as exc:
        raise ValueError(str(exc)) from None


def cmd_sweep(args: argparse.Namespace) -> int:
    return sweep_command.run_sweep(args, check_run_args, _progress)


def cmd_answer(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    with locked_run_folder(args.run_dir):
        outcome = answer_data_run(args.run_dir, args.answers, _progress, args.oracle, args.positive_class,
                                  args.oracle_timeout, args.threads)
    return _report(outcome, args.run_dir, started)


def cmd_resume(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    with locked_run_folder(args.run_dir):
        outcome = resume_data_run(args.run_dir, _progress, args.oracle, args.positive_class, args.oracle_timeout,
                                  args.threads)
    return _report(outcome, args.run_dir, started)


def _output_file(out: Path, *inputs: Path) -> Path:
    """The file an output goes to (numpy's `.npz` added); its folder is created. An output that
    would replace one of the inputs is refused."""
    out = out if out.suffix == ".npz" else out.with_name(out.name + ".npz")
    for source in inputs:
        if out.resolve() == source.resolve() or (out.exists() and source.exists() and out.samefile(source)):
            raise CliError(f"--out {out} is the input file {source}: choose another name (the input is kept)")
    if out.is_dir():
        raise CliError(f"--out {out} is a folder; give a file name")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"--out {out}: cannot create its folder ({exc.strerror or exc})") from None
    return out


def _save_npz(out: Path, **arrays: np.ndarray) -> None:
    """Write an .npz atomically (a reader never sees half a file; a failure leaves no file)."""
    try:
        atomic_write(out, lambda f: np.savez_compressed(f, **arrays))
    except OSError as exc:
        raise CliError(f"--out {out}: cannot write it ({exc.strerror or exc})") from None




def cmd_observe(args: argparse.Namespace) -> int:

    configure_torch_threads(1)
    out = _output_file(args.out, args.data)
    _check_observe_memory(args.data)
    data = load_npz(args.data)
    if data.t is None:
        raise CliError(f"{args.data}: no 't' array (observed samples of T, one per image)")
    t, k = np.asarray(data.t), data.n_outcomes
    if k == 2 and not np.all((t == 0) | (t == 1)):
        raise CliError(f"{args.data}: 't' must hold samples of a binary T (0 or 1)")
    started = time.perf_counter()
    _progress(f"fitting P(T=1|I) on {len(data)} images" if k == 2 else
              f"fitting P(T|I) over {k} outcomes ({', '.join(data.outcome_names)}) on {len(data)} images")
    fit = fit_observational_classes(data.images, t.astype(np.int64), seed=args.seed, outcomes=k)
    _save_npz(out, p_obs=fit.p_obs.astype(np.float64), obs_class=fit.obs_class.astype(np.int64))
    _progress(f"{fit.n_classes} observational classes ({fit.criterion}) in {time.perf_counter() - started:.1f} s")
    result = {"n_classes": int(fit.n_classes), "class_p": np.asarray(fit.class_p, np.float64).tolist(),
              "criterion": fit.criterion, "out": str(args.out)}
    if k > 2:
        result["outcomes"] = list(data.outcome_names)
    print(json.dumps(result))
    return 0


def _check_observe_memory(path: Path) -> None:
    """Refuse, before reading them, images whose fit would not fit in memory (with what it needs)."""
    shape = npz_array_shape(path)
    if shape is None or len(shape) != 3:
        return                       # load_npz says what is wrong with the file
    n, h, w = shape
    problem = memory_problem(fit_memory_bytes(n, (h, w)), f"observe on {n:,} images of {h}x{w}")
    if problem is not None:
        raise CliError(f"{path}: {problem}; refused before reading it (use fewer images)")


def cmd_predict(args: argparse.Namespace) -> int:

    out = None if args.out is None else _output_file(args.out, args.images)
    model = RunModel(args.run)
    data = load_npz(args.images)
    p_causal, causal_class = model.predict(data.images)
    if args.manipulate and out is None:
        raise CliError("--manipulate writes images: give --out FILE.npz")
    if out is not None:
        extra = {}
        if args.manipulate:
            manipulator = model.manipulator()
            targets = default_targets(manipulator.predict(data.images))
            result = manipulator.manipulate(data.images, targets, args.alpha)
            extra = {"manipulated": result.images, "target_class": targets.astype(np.int64),
                     "distance": result.distance.astype(np.float64)}
            _progress(f"manipulated with the {manipulator.default_search} search (alpha {args.alpha})")
        _save_npz(out, p_causal=p_causal, causal_class=causal_class.astype(np.int64), **extra)
        _progress(f"{len(data)} predictions written to {out}")
    else:
        print(json.dumps({"p_causal": np.round(p_causal, 6).tolist(), "causal_class": causal_class.tolist()}))
    return 0


def cmd_cct(args: argparse.Namespace) -> int:

    result = cct(read_cct_model(args.model), tol=args.tol)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
