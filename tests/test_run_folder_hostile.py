"""A run folder and a plugged oracle as a hostile or careless user leaves them (issue 21, findings 1-3),
each case run as a person runs it: the installed `viscause` in a process of its own, in a temp folder.

1. A run folder's oracle spec is data: `answer` / `resume` never import what run.vcsession names.
2. One command at a time on a run folder: a second `answer` is refused, no answer is lost.
3. A plugged oracle runs in a child process: a hang (in the call, in converting its answer, at
   import), an exit or a crash is one line naming the oracle, a non-zero exit and a run to resume.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.cli_runner import start_viscause, viscause, viscause_command
from tests.oracle_models import HBAR_PYTHON, hbar_answer
from viscause_gui.cli import EXIT_IN_USE, EXIT_NEEDS_ORACLE, EXIT_ORACLE_FAILED
from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.store.data_run import load_data_run
from viscause_gui.core.store.folder_lock import lock_holder

RUN = ("--iterations", 2, "--queries", 6, "--seed", 3)
MARKER = "ran.txt"
EVIL = f'''from pathlib import Path
Path(__file__).with_name("{MARKER}").write_text("imported")


def answer(images):
    Path(__file__).with_name("{MARKER}").write_text("called")
    return [0.5] * len(images)
'''


def person(*args, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """`viscause ARGS` as a person runs it: the installed command, a process of its own."""
    return subprocess.run([*viscause_command(), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


pytestmark = pytest.mark.slow      # each test runs the CLI in fresh processes, on a real run (the data fixture)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A data set with P(T=1|I), the h-bar oracle beside it, and a run waiting for offline answers."""
    folder = tmp_path_factory.mktemp("hostile")
    sample = GratingModel().sample(300, 2)
    np.savez_compressed(folder / "p.npz", images=sample.images, p_obs=sample.p_obs)
    (folder / "hbar.py").write_text(HBAR_PYTHON)
    viscause("run", folder / "p.npz", "--oracle", "offline", *RUN, "--out", folder / "waiting")
    return folder


@pytest.fixture
def waiting(data, tmp_path) -> Path:
    """A fresh copy of the run that waits for its Algorithm 1 answers."""
    return Path(shutil.copytree(data / "waiting", tmp_path / "r"))


def fill(run: Path, out: Path, answer=hbar_answer) -> Path:
    """The waiting batch's answers.csv filled in (by default as the h-bar oracle would)."""
    batch = sorted((run / "offline").iterdir())[-1]
    images = np.load(batch / "images.npz")["images"]
    with open(batch / "answers.csv", newline="") as f:
        rows = list(csv.reader(f))
    with open(out, "w", newline="") as f:
        csv.writer(f).writerows([rows[0], *([*r[:4], repr(float(v))] for r, v in zip(rows[1:], answer(images)))])
    return out


def set_recorded_oracle(run: Path, spec: str) -> None:
    """Edit run.vcsession's settings.data_run.oracle, as anyone who can write the folder can."""
    path = run / "run.vcsession"
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    doc = json.loads(members["session.json"])
    doc["settings"]["data_run"]["oracle"] = spec
    members["session.json"] = json.dumps(doc).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, raw in members.items():
            z.writestr(name, raw)


def recorded(run: Path) -> dict:
    with zipfile.ZipFile(run / "run.vcsession") as z:
        return json.loads(z.read("session.json"))


def one_line(result: subprocess.CompletedProcess) -> str:
    assert result.stderr.endswith("\n") and "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip().splitlines()[-1]


# ---------------------------------------------------------------- 1. the folder's oracle is data

def test_answer_never_imports_the_oracle_the_run_folder_names(waiting, tmp_path):
    (waiting / "evil.py").write_text(EVIL)
    spec = "python:evil:answer"
    set_recorded_oracle(waiting, spec)
    fill(waiting, waiting / "filled.csv")
    result = person("answer", ".", "filled.csv", cwd=waiting)          # cd there; viscause answer . filled.csv
    assert not (waiting / MARKER).exists(), "the run folder's code ran"
    assert result.returncode == EXIT_NEEDS_ORACLE, result.stderr
    line = one_line(result)
    assert f"the run recorded --oracle {spec}" in line and line.endswith(f"viscause resume . --oracle {spec}")
    state = recorded(waiting)                     # the answers were taken, the run waits for iteration 1's oracle
    assert [b["kind"] for b in state["experiment"]["batches"]] == ["algorithm1"]
    spec = f"python:{waiting / 'evil.py'}:answer"                      # a file named by its path: the same
    set_recorded_oracle(waiting, spec)
    before = (waiting / "run.vcsession").read_bytes()
    again = person("resume", ".", cwd=waiting)                         # resume without --oracle: refused, untouched
    assert again.returncode == EXIT_NEEDS_ORACLE and not (waiting / MARKER).exists()
    assert one_line(again).endswith(f"viscause resume . --oracle {spec}")
    assert (waiting / "run.vcsession").read_bytes() == before


def test_the_command_the_refusal_gives_goes_on_and_offline_needs_no_oracle(waiting, data, tmp_path):
    hbar = f"python:{data / 'hbar.py'}:answer"
    set_recorded_oracle(waiting, hbar)
    stopped = person("answer", waiting, fill(waiting, tmp_path / "a.csv"))
    command = one_line(stopped).split("name the oracle on the command line: ")[-1]
    assert command == f"viscause resume {waiting} --oracle {hbar}"
    finished = person(*command.split()[1:])                            # the line, typed as it is
    assert finished.returncode == 0 and "done in" in finished.stderr, finished.stderr
    z = np.load(waiting / "iteration_02.npz")
    np.testing.assert_allclose(z["answers"], hbar_answer(z["manipulated"]))


def test_a_recorded_spec_with_terminal_escapes_is_damaged_not_shown(waiting, tmp_path):
    set_recorded_oracle(waiting, "python:\x1b]0;owned\x07evil:answer")
    result = person("resume", waiting)
    assert result.returncode == 2 and "\x1b" not in result.stderr
    assert "its 'data_run' settings are missing or damaged" in one_line(result)


# ---------------------------------------------------------------- 2. one command at a time

def test_two_answers_at_once_one_wins_and_no_answer_is_lost(waiting, tmp_path):
    a = fill(waiting, tmp_path / "a.csv")
    b = fill(waiting, tmp_path / "b.csv", answer=lambda x: 1.0 - hbar_answer(x))
    first, second = start_viscause("answer", waiting, a), start_viscause("answer", waiting, b)
    results = [(p, *p.communicate(timeout=120)) for p in (first, second)]
    codes = sorted(p.returncode for p, _, _ in results)
    assert codes[0] == 0 and codes[1] != 0, [(p.returncode, err) for p, _, err in results]   # never both
    (winner, _, _), (_loser, _, refusal) = sorted(results, key=lambda r: r[0].returncode)
    assert refusal.count("\n") == 1
    assert (f"{waiting} is in use by another viscause command (pid {winner.pid})" in refusal
            or "were already given" in refusal)          # refused while the other held it, or after it
    kept = np.load(waiting / "offline" / "iteration_01" / "images.npz")      # the winner's answers went on
    assert kept["images"].shape[0] == 6
    winner_csv = a if winner is first else b
    with open(winner_csv, newline="") as f:
        expected = [float(r[4]) for r in list(csv.reader(f))[1:]]
    experiment, _ = load_data_run(waiting)
    assert experiment.batches[0].answers.tolist() == expected


SLOW_UNTIL_GO = '''import os
import time
from pathlib import Path
import numpy as np


def answer(images):
    Path(__file__).with_name("oracle.pid").write_text(str(os.getpid()))
    go = Path(__file__).with_name("go")
    for _ in range(4800):                      # up to 4 minutes (the command gives it --oracle-timeout 300)
        if go.exists():
            break
        time.sleep(0.05)
    return 0.25 + 0.6 * np.any(np.all(images >= 0.5, axis=-1), axis=-1)
'''


def test_a_second_command_while_one_runs_is_refused_naming_its_pid(data, waiting, tmp_path):
    (tmp_path / "slow.py").write_text(SLOW_UNTIL_GO)
    holder = start_viscause("answer", waiting, fill(waiting, tmp_path / "a.csv"), "--oracle",
                            f"python:{tmp_path / 'slow.py'}:answer", "--oracle-timeout", 300)
    deadline = time.monotonic() + 60
    while lock_holder(waiting) != holder.pid and time.monotonic() < deadline and holder.poll() is None:
        time.sleep(0.05)
    others = [start_viscause(*args) for args in (("answer", waiting, fill(waiting, tmp_path / "b.csv")),
                                                 ("resume", waiting, "--oracle", "offline"),
                                                 ("run", data / "p.npz", "--oracle", "offline", "--out", waiting))]
    for refused in others:
        _, err = refused.communicate(timeout=120)
        assert refused.returncode == EXIT_IN_USE, err
        assert err == f"viscause {refused.args[1]}: error: {waiting} is in use by another viscause command " \
                      f"(pid {holder.pid})\n"
    (tmp_path / "go").write_text("")
    _, err = holder.communicate(timeout=120)
    assert holder.returncode == 0 and "done in" in err, err
    assert json.loads((waiting / "history.json").read_text())["config"]["finished"] is True


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")       # a zombie has ended


@pytest.mark.kill
@pytest.mark.skipif(os.name != "posix", reason="SIGKILL, /proc")
def test_a_killed_command_leaves_no_lock_and_no_oracle_behind(waiting, tmp_path):
    (tmp_path / "slow.py").write_text(SLOW_UNTIL_GO)
    holder = start_viscause("answer", waiting, fill(waiting, tmp_path / "a.csv"), "--oracle",
                            f"python:{tmp_path / 'slow.py'}:answer", "--oracle-timeout", 300)
    deadline = time.monotonic() + 60
    while not (tmp_path / "oracle.pid").exists() and time.monotonic() < deadline:       # the oracle is answering
        time.sleep(0.05)
    assert lock_holder(waiting) == holder.pid
    holder.kill()                                                      # SIGKILL: no cleanup at all
    holder.communicate()
    oracle = int((tmp_path / "oracle.pid").read_text())
    deadline = time.monotonic() + 10
    while alive(oracle) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(oracle), "the oracle's process outlived its viscause"
    result = person("answer", waiting, tmp_path / "a.csv")            # not blocked by the dead one's lock file
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- 3. the oracle in a child process

BAD_ORACLES = '''import os
import time
import numpy as np


class Hangs:
    def __array__(self, *args, **kwargs):
        time.sleep(600)


def hangs_converting(images):
    return Hangs()


def exits(images):
    os._exit(0)


def crashes(images):
    import ctypes
    ctypes.string_at(0)


def complex_answers(images):
    return np.full(len(images), 0.5 + 0.5j)


def all_nan(images):
    return np.full(len(images), np.nan)


def constant_text(images):
    return np.full(len(images), "0.5")


def constant(images):
    return np.full(len(images), 0.5)
'''

FAILURES = {
    "hangs_converting": "gave no answer within 3 s for 20 images (--oracle-timeout sets the limit); it was stopped",
    "exits": "ended its process (exit code 0) while answering 20 images",
    "crashes": "ended its process (signal SIGSEGV) while answering 20 images",
    "complex_answers": "returned complex numbers",
    "all_nan": "answered NaN ('cannot say') for all 20 images",
    "constant_text": "returned ndarray of text, not numbers",
    "constant": "answers to Algorithm 1 cannot be used: all observational classes got the same causal answer",
}


def test_every_oracle_failure_is_one_line_a_saved_run_and_a_resume(data, tmp_path):
    """All at once (each in its own process): hangs, exits, crashes and unusable answers."""
    (tmp_path / "bad.py").write_text(BAD_ORACLES)
    runs = {name: start_viscause("run", data / "p.npz", "--oracle", f"python:{tmp_path / 'bad.py'}:{name}", *RUN,
                                 "--oracle-timeout", 3, "--out", tmp_path / name) for name in FAILURES}
    for name, proc in runs.items():
        _, err = proc.communicate(timeout=180)
        spec = f"python:{tmp_path / 'bad.py'}:{name}"
        assert proc.returncode == EXIT_ORACLE_FAILED, (name, err)
        line = err.strip().splitlines()[-1]
        assert "Traceback" not in err and line.startswith(f"viscause run: error: oracle {spec}"), (name, err)
        assert FAILURES[name] in line, (name, line)
        assert line.endswith(f"fix the oracle, then viscause resume {tmp_path / name} --oracle {spec} "
                             "--oracle-timeout 3"), (name, line)
        assert (tmp_path / name / "run.vcsession").is_file(), name
    fixed = person("resume", tmp_path / "exits", "--oracle", f"python:{data / 'hbar.py'}:answer")
    assert fixed.returncode == 0 and "done in" in fixed.stderr, fixed.stderr


HANGS_AT_IMPORT = '''import time
time.sleep(600)


def answer(images):
    return [0.5] * len(images)
'''

RAISES_AT_IMPORT = '''raise SystemExit("not today")
'''


@pytest.mark.parametrize("body, words", [
    (HANGS_AT_IMPORT, "loading it took longer than 2 s (--oracle-timeout sets the limit); it was stopped"),
    (RAISES_AT_IMPORT, "loading it raised SystemExit: not today"),
], ids=["hangs", "raises"])
def test_an_oracle_that_hangs_or_fails_at_import_is_refused_before_anything_changes(data, waiting, tmp_path, body,
                                                                                   words):
    (tmp_path / "slow_import.py").write_text(body)
    spec = f"python:{tmp_path / 'slow_import.py'}:answer"
    before = (waiting / "run.vcsession").read_bytes()
    started = time.monotonic()
    run = start_viscause("run", data / "p.npz", "--oracle", spec, "--oracle-timeout", 2, "--out", tmp_path / "run")
    answer = start_viscause("answer", waiting, fill(waiting, tmp_path / "a.csv"), "--oracle", spec,
                            "--oracle-timeout", 2)
    for proc, command in ((run, "run"), (answer, "answer")):
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 2 and err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith(f"viscause {command}: error: oracle {spec}: ") and words in err, err
    assert time.monotonic() - started < 60
    assert not (tmp_path / "run").exists() and (waiting / "run.vcsession").read_bytes() == before
