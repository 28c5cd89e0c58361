"""Running the `viscause` CLI in tests: in a fresh process (what a script does) or in this one.

A fresh process imports torch and the app again (2-4 s per call on 2 cores), so the tests that
check the script contract (exit codes, streams, files written, a second process reading them)
use `process=True` and the many tests that check one refusal or one line call `cli.main` here,
with its streams captured and the working folder and torch's thread count restored afterwards.
"""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import torch

from viscause_gui.cli import main


def viscause(*args, cwd: Path | None = None, check: bool = True, process: bool = False
             ) -> subprocess.CompletedProcess:
    """`viscause ARGS`; its exit code, stdout and stderr. check: fail unless it exits 0."""
    argv = [str(a) for a in args]
    result = _in_a_process(argv, cwd) if process else _in_this_process(argv, cwd)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def viscause_command() -> list[str]:
    """The installed `viscause` script beside this Python (what a person types), or `python -m` without one."""
    script = Path(sys.executable).with_name("viscause.exe" if os.name == "nt" else "viscause")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "viscause_gui.cli"]


def start_viscause(*args, cwd: Path | None = None) -> subprocess.Popen:
    """`viscause ARGS` started in the background (stdout and stderr piped, as text)."""
    return subprocess.Popen([*viscause_command(), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd)


def _in_a_process(argv: list[str], cwd: Path | None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "viscause_gui.cli", *argv], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def _in_this_process(argv: list[str], cwd: Path | None) -> subprocess.CompletedProcess:
    out, err = io.StringIO(), io.StringIO()
    threads, here = torch.get_num_threads(), os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:                 # argparse refuses an argument this way
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(here)
        torch.set_num_threads(threads)
    return subprocess.CompletedProcess(["viscause", *argv], code, out.getvalue(), err.getvalue())
