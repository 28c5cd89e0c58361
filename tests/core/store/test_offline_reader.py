"""The offline oracle's answers CSV as a hostile or careless person writes it (issue 21, finding 6):
columns in any order with a short row, control characters in a cell, a FIFO, /dev/zero, a huge file.
Each is one AnswerFileError line naming the file, with nothing raw from the file in it; and through
`viscause answer` a refusal (exit 2), with the run still waiting for its answers."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.cli_runner import viscause
from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.method.experiment import QueryBatch
from viscause_gui.core.store import offline
from viscause_gui.core.store.offline import AnswerFileError, read_answers, write_offline_batch

IMAGES = GratingModel().sample(4, 1).images
HEADER = "batch,index,image,target_class,answer"


@pytest.fixture
def batch(tmp_path):
    batch = QueryBatch("algorithm2", 3, IMAGES, np.arange(4), originals=IMAGES, targets=np.array([1, 0, 1, 0]),
                       distances=np.zeros(4), p_target=np.ones(4))
    write_offline_batch(tmp_path, batch)
    return batch


def csv_file(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def refused(path: Path, batch: QueryBatch, *words: str) -> str:
    with pytest.raises(AnswerFileError) as info:
        read_answers(path, batch, [])
    text = str(info.value)
    assert text.startswith(f"{path}: ") and text.isprintable(), text
    for word in words:
        assert word in text, text
    return text


def test_columns_in_any_order_and_short_rows_are_read_by_their_header(tmp_path, batch):
    reordered = csv_file(tmp_path / "r.csv", "answer,image,index,batch",
                         *(f"{a},{i:04d}.png,{i},iteration_03" for i, a in enumerate(["yes", "0", "?", "0.25"])))
    assert np.array_equal(read_answers(reordered, batch, []), [1.0, 0.0, np.nan, 0.25], equal_nan=True)
    # a short row once gave AttributeError ('NoneType' object has no attribute 'strip') and exit 1
    short = csv_file(tmp_path / "s.csv", "answer,index,batch", "1,0,iteration_03", "0,1")
    refused(short, batch, "line 3: the rows are for batch (empty), but the run waits for the answers to iteration_03")
    no_answer = csv_file(tmp_path / "n.csv", "index,batch,answer", "0,iteration_03")
    refused(no_answer, batch, "line 2: image 0 has no answer")
    no_index = csv_file(tmp_path / "i.csv", "batch,answer,index", "iteration_03,1")
    refused(no_index, batch, "line 2: index '' is not an image number")


@pytest.mark.parametrize("row, words", [
    ("\x1b[2J\x1b]0;owned\x07,0,0000.png,1,1", r"batch \x1b[2J\x1b]0;owned\x07, but the run waits"),
    ("iteration_03,0,\x1b[31mred.png,1,1", r"image \x1b[31mred.png is not image 0"),
    ("iteration_03,0,0000.png,1,\x1b[5myes", r"'\x1b[5myes' is not an answer"),
    ("iteration_03,\x1b[1m0,0000.png,1,1", r"index '\x1b[1m0' is not an image number"),
    ("iteration_03," + "9" * 5000 + ",0000.png,1,1", "line 2: image 99999999999"),
    ("iteration_03,0,0000.png,1,\u202eon", r"'\u202eon' is not an answer"),
], ids=["batch", "image", "answer", "index", "huge_index", "bidi"])
def test_control_characters_in_a_cell_are_shown_escaped_never_raw(tmp_path, batch, row, words):
    text = refused(csv_file(tmp_path / "esc.csv", HEADER, row), batch, words)
    assert "\x1b" not in text and len(text) < 400 + len(str(tmp_path))


def test_a_header_with_control_characters_is_shown_escaped(tmp_path, batch):
    refused(csv_file(tmp_path / "h.csv", "\x1b[2Jbatch,index"), batch,
            r"no 'batch', 'answer' column (header: \x1b[2Jbatch, index)")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.timeout(20)
def test_a_fifo_is_refused_at_once_even_with_a_writer_waiting(tmp_path, batch):
    fifo = tmp_path / "answers.csv"
    os.mkfifo(fifo)
    refused(fifo, batch, "is a named pipe (FIFO), not a file")      # no writer: reading it would block forever


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
@pytest.mark.timeout(20)
def test_a_device_is_refused_without_reading_it(tmp_path, batch):
    link = tmp_path / "zero.csv"
    link.symlink_to("/dev/zero")                # once read to 2.35 GB before the size check refused it
    refused(link, batch, "is a character device, not a file")
    refused(Path("/dev/zero"), batch, "is a character device, not a file")


def test_a_file_larger_than_the_limit_is_refused(tmp_path, batch, monkeypatch):
    monkeypatch.setattr(offline, "MAX_CSV_BYTES", 1000)
    big = csv_file(tmp_path / "big.csv", HEADER, *(f"iteration_03,{i % 4},,,1" for i in range(200)))
    refused(big, batch, "larger than 1,000 bytes, the limit for an answers file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.timeout(20)
def test_a_file_that_grows_while_read_is_bounded(tmp_path):
    """A regular file that grows while it is read is read no further than limit + 1 bytes."""
    from viscause_gui.core.data.user_files import UserFileError, read_user_file

    path = tmp_path / "grows.csv"
    path.write_bytes(b"x" * 10)
    stop = threading.Event()

    def grow():
        with open(path, "ab") as f:
            while not stop.is_set():
                f.write(b"y" * 4096)
                f.flush()
    writer = threading.Thread(target=grow)
    writer.start()
    try:
        for _ in range(20):
            try:
                data = read_user_file(path, 100_000, "an answers file")
            except UserFileError as exc:
                assert "larger than 100,000 bytes" in str(exc)
            else:
                assert len(data) <= 100_000
    finally:
        stop.set()
        writer.join()


# ---------------------------------------------------------------- through `viscause answer`

@pytest.fixture(scope="module")
def waiting_run(tmp_path_factory):
    """An offline run waiting for the answers to Algorithm 1."""
    folder = tmp_path_factory.mktemp("offline_run")
    data = GratingModel().sample(300, 2)
    np.savez_compressed(folder / "p.npz", images=data.images, p_obs=data.p_obs)
    viscause("run", folder / "p.npz", "--oracle", "offline", "--iterations", 1, "--queries", 4, "--seed", 3,
             "--out", folder / "run")
    return folder / "run"


def test_viscause_answer_refuses_each_hostile_file_in_one_printable_line(waiting_run, tmp_path):
    lines = (waiting_run / "offline" / "algorithm1" / "answers.csv").read_text().splitlines()
    n = len(lines) - 1
    short = csv_file(tmp_path / "short.csv", "answer,index,batch", *(f"1,{i},algorithm1" for i in range(n - 1)),
                     f"1,{n - 1}")
    ansi = csv_file(tmp_path / "ansi.csv", HEADER, "\x1b[2J\x1b[31mPWNED,0,0000.png,,1")
    cases = [(short, "the rows are for batch (empty)"), (ansi, r"batch \x1b[2J\x1b[31mPWNED")]
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.csv")
        cases.append((tmp_path / "fifo.csv", "is a named pipe (FIFO), not a file"))
    if Path("/dev/zero").exists():
        cases.append((Path("/dev/zero"), "is a character device, not a file"))
    for path, words in cases:
        result = viscause("answer", waiting_run, path, check=False)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and words in result.stderr and "\x1b" not in result.stderr
        assert str(path) in result.stderr and "Traceback" not in result.stderr
    assert not (waiting_run / "iteration_01.npz").exists()      # nothing taken: the run still waits
