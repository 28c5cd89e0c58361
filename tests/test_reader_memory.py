"""Every reader of a file a person may hand us keeps its memory bounded on a hostile input:
each case runs the reader in a fresh process on a small crafted file and checks the process's
peak resident memory against the bound stated here and in the README. The peak is VmHWM of
/proc/self/status: Linux keeps ru_maxrss across exec, so a child of a large pytest process
would report the parent's size (a child here read 37 MiB of its own and ru_maxrss said 254).

(The readers' own tests hold their fuzz cases: tests/core/data/test_readers.py,
tests/core/store/test_session.py, test_journal.py, test_rundir.py, tests/test_cli.py for CCT.)
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

MiB = 1024**2
BOMB = 256 * MiB                      # what a bomb member unpacks to (its file holds about 250 KB)

_READ = """
import sys
kind, path = sys.argv[1], sys.argv[2]
try:
    if kind == "npz":
        from viscause_gui.core.data.readers import load_npz as read
    elif kind == "session":
        from viscause_gui.core.store.session_reader import load_session as read
    elif kind == "run folder":
        from viscause_gui.core.store.rundir import RunModel as read
    elif kind == "cct":
        from viscause_gui.core.method.cct import read_cct_model as read
    elif kind == "lesson":
        from viscause_gui.core.lessons import load_lesson as read
    elif kind == "data":
        from viscause_gui.core.data.readers import load_path as read
    elif kind == "idx":
        from viscause_gui.core.data.readers import load_mnist_idx as read
    elif kind == "answers":
        import numpy as np
        from viscause_gui.core.method.experiment import QueryBatch
        from viscause_gui.core.store.offline import read_answers
        read = lambda path: read_answers(path, QueryBatch("algorithm1", 0, np.zeros((4, 3, 3), "f4"), np.arange(4)), [])
    else:
        from viscause_gui.core.store.journal import read_journal as read
    read(path)
    print("read")
except ValueError as exc:             # every reader's refusal is a ValueError (DatasetError, SessionError, ...)
    print("refused", " ".join(str(exc).split())[:200])
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))   # KiB
"""


def _zero_member(zf: zipfile.ZipFile, name: str, n_int64: int) -> None:
    """A .npy member of n_int64 zeros, compressed (a small file that unpacks to a lot)."""
    with zf.open(name, "w", force_zip64=True) as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<i8", "fortran_order": False, "shape": (n_int64,)})
        chunk = bytes(16 * MiB)
        for _ in range(n_int64 * 8 // len(chunk)):
            f.write(chunk)


def _npz_bomb(folder: Path) -> Path:
    """Four images and a 't' that unpacks to 256 MiB (one per image would be 4 values)."""
    path = folder / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        buf = io.BytesIO()
        np.save(buf, np.zeros((4, 5, 5), np.float32))
        zf.writestr("images.npy", buf.getvalue())
        _zero_member(zf, "t.npy", BOMB // 8)
    return path


def _session_bomb(folder: Path) -> Path:
    """A real session whose data/t.npy is replaced by 256 MiB of zeros (200 images)."""
    from viscause_gui.core.experiments.grating import GratingModel
    from viscause_gui.core.store.session_writer import save_session

    good = save_session(folder / "good.vcsession", GratingModel().sample(200, 0))
    path = folder / "bomb.vcsession"
    with zipfile.ZipFile(good) as zi, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zo:
        for info in zi.infolist():
            if info.filename == "data/t.npy":
                _zero_member(zo, info.filename, BOMB // 8)
            else:
                zo.writestr(info, zi.read(info.filename))
    return path


def _run_folder_of_a_huge_net(folder: Path) -> Path:
    """model.json asking for a 30,000 x 30,000 hidden layer (900 million parameters)."""
    run = folder / "run"
    run.mkdir()
    (run / "model.json").write_text(json.dumps({
        "spec": {"arch": "mlp", "in_shape": [10, 10], "hidden": [30_000, 30_000], "n_classes": 2},
        "causal_levels": [0.2, 0.8], "image_shape": [10, 10], "members": 1}))
    return run


def _cct_at_the_size_limit(folder: Path) -> Path:
    """A CCT model file just under its 64 MiB limit: 16 million numbers in p_h."""
    from viscause_gui.core.method.cct import MAX_MODEL_FILE_BYTES

    path = folder / "model.json"
    count = (MAX_MODEL_FILE_BYTES - 200) // 4
    with open(path, "w") as f:
        f.write('{"p_h": [0.5')
        f.write(",0.5" * (count - 1))
        f.write('], "p_i_given_h": [[1]], "p_t1_given_h_i": [[1]]}')
    return path


def _journal_of_empty_lines(folder: Path) -> Path:
    """A journal header and five million empty lines (each one a problem the reader reports)."""
    path = folder / "j.journal.jsonl"
    header = {"type": "header", "format": "viscause-journal", "version": 1, "session_id": "ab" * 16,
              "created": "2026-01-01T00:00:00Z"}
    path.write_bytes(json.dumps(header).encode() + b"\n" + b"\n" * 5_000_000)
    return path


# reader, hostile input, bound on peak RSS (MiB), and the peak measured before and after (2 cores, Linux)
CASES: list[tuple[str, Callable[[Path], Path], int, str]] = [
    ("npz", _npz_bomb, 150, "287 -> 30 MiB: the one-per-image arrays are checked in the headers, unread"),
    ("session", _session_bomb, 400, "735 -> 223 MiB (torch): each array's header is checked before it is read"),
    ("run folder", _run_folder_of_a_huge_net, 400, "3.6 GB -> 222 MiB (torch): the spec is sized unbuilt"),
    ("cct", _cct_at_the_size_limit, 1024, "733 MiB: 64 MiB of JSON numbers, parsed, then refused"),
    ("journal", _journal_of_empty_lines, 150, "533 -> 35 MiB: lines walked one at a time, 100 problems kept"),
]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak resident size from /proc")
@pytest.mark.parametrize("kind, hostile, bound_mib, before", CASES, ids=[c[0] for c in CASES])
def test_a_hostile_file_is_read_or_refused_with_bounded_memory(tmp_path, kind, hostile, bound_mib, before):
    path = hostile(tmp_path)
    result = subprocess.run([sys.executable, "-c", _READ, kind, str(path)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(("read", "refused")) and "Traceback" not in result.stderr, result.stdout
    peak_mib = int(lines[-1]) / 1024
    assert peak_mib < bound_mib, f"{kind}: peak {peak_mib:.0f} MiB, bound {bound_mib} MiB ({lines[0]})"


# readers of a file a person names, and what each is named in the case below
NAMED_READERS = [("lesson", "lesson.json"), ("lesson", "lesson.toml"), ("answers", "answers.csv"), ("data", "data.bin"),
                 ("data", "data.npz"), ("npz", "data.npz"), ("idx", "x-images-idx3-ubyte"), ("cct", "model.json"),
                 ("journal", "s.vcsession.journal")]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/zero").exists() or not hasattr(os, "mkfifo"), reason="POSIX FIFOs and devices")
@pytest.mark.parametrize("kind, name", NAMED_READERS, ids=[f"{k}-{n}" for k, n in NAMED_READERS])
def test_a_fifo_or_a_device_is_refused_at_once_without_reading_it(tmp_path, kind, name):
    """A FIFO once made the answers reader block forever, /dev/zero made it read 2.35 GB before refusing
    (issue 21, finding 6): each reader now refuses both in one line, at once, in a small process."""
    fifo = tmp_path / "fifo" / name
    zero = tmp_path / "zero" / name
    fifo.parent.mkdir()
    zero.parent.mkdir()
    os.mkfifo(fifo)
    zero.symlink_to("/dev/zero")
    for path, words in ((fifo, "is a named pipe (FIFO), not a file"), (zero, "is a character device, not a file")):
        result = subprocess.run([sys.executable, "-c", _READ, kind, str(path)], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        lines = result.stdout.strip().splitlines()
        assert lines[0].startswith("refused") and words in lines[0] and name in lines[0], lines[0]
        assert int(lines[-1]) / 1024 < 400, lines              # torch imported by some readers: ~220 MiB


@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/zero").exists() or not hasattr(os, "mkfifo"), reason="POSIX FIFOs and devices")
def test_a_run_folder_whose_model_json_is_a_fifo_or_a_device_is_refused_at_once(tmp_path):
    """`viscause predict --run DIR` once blocked forever on a FIFO named model.json."""
    for kind in ("fifo", "zero"):
        run = tmp_path / kind
        run.mkdir()
        (run / "model.pt").write_bytes(b"")
        if kind == "fifo":
            os.mkfifo(run / "model.json")
        else:
            (run / "model.json").symlink_to("/dev/zero")
        result = subprocess.run([sys.executable, "-c", _READ, "run folder", str(run)], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        line = result.stdout.strip().splitlines()[0]
        assert line.startswith("refused") and "model.json" in line and "not a file" in line, line
