"""The offline oracle's files: a query batch out as PNG files, a CSV and an npz; its answers back in.

`viscause run DATA --oracle offline` writes each batch into ``<run>/offline/<batch>/`` (``<batch>`` is
``algorithm1`` or ``iteration_NN``): ``0000.png``, ``0001.png``, ... (grey images as dark ink on white, colour
as RGB, two channels as red and green), ``images.npz`` (the float32 images as the oracle is to judge them,
``source_index``, ``targets``) and ``answers.csv`` with the columns ``batch, index, image, target_class,
answer``, the answer cells empty. Someone fills them in (P(T=1) in [0, 1], 1/0, yes/no, or ? for "cannot say";
over K > 2 outcomes the outcome observed, by its name or its number 0..K-1, or ?) and `viscause answer RUN
answers.csv` reads them back (docs/formats.md). The CSV is a file a person (or their spreadsheet) wrote: it is
read only when it is a regular file, never more than MAX_CSV_BYTES of it (core.data.user_files), its columns in
any order, a short row as empty cells; what a cell holds is shown in messages with its control characters
escaped (an ANSI escape in the `batch` column is text, not a command to the terminal).
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

from viscause_gui.core.data.outcomes import default_names
from viscause_gui.core.data.user_files import UserFileError, printable, read_user_file
from viscause_gui.core.method.experiment import QueryBatch
from viscause_gui.core.store.atomic import atomic_write

OFFLINE_FOLDER = "offline"
ANSWERS_FILE = "answers.csv"
IMAGES_FILE = "images.npz"
COLUMNS = ("batch", "index", "image", "target_class", "answer")
REQUIRED = ("batch", "index", "answer")
WORDS = {"yes": 1.0, "y": 1.0, "no": 0.0, "n": 0.0, "?": math.nan}
HOW_TO_ANSWER = "write P(T=1) in [0, 1], 1 or 0, yes or no, or ? for 'cannot say'"


def how_to_answer(outcomes: tuple[str, ...] | None = None) -> str:
    """What an answer cell may hold, in words (a binary T's HOW_TO_ANSWER, or the K > 2 outcomes' names)."""
    if outcomes is None or len(outcomes) == 2:
        return HOW_TO_ANSWER
    shown = ", ".join(outcomes[:20])
    return f"write the outcome observed: one of {shown} (or its number, 0 to {len(outcomes) - 1}), or ? for " \
           "'cannot say'"
MAX_CSV_BYTES = 64 * 1024**2


class AnswerFileError(ValueError):
    """An answers CSV cannot be used; the message names the file and the problem."""


def batch_label(batch: QueryBatch) -> str:
    """The batch's name in file names and the CSV: 'algorithm1' or 'iteration_NN'."""
    return "algorithm1" if batch.kind == "algorithm1" else f"iteration_{batch.iteration:02d}"


def batch_folder(run_dir: Path, batch: QueryBatch) -> Path:
    return Path(run_dir) / OFFLINE_FOLDER / batch_label(batch)


def image_name(index: int) -> str:
    return f"{index:04d}.png"


def png_pixels(image: np.ndarray) -> np.ndarray:
    """uint8 pixels of one image: grey (H, W) with 1.0 = ink as dark ink on white; colour (H, W, C)
    as RGB (C = 2: red and green, blue 0; more than 3 channels: the first three)."""
    image = np.clip(np.asarray(image, np.float32), 0.0, 1.0)
    if image.ndim == 2:
        return np.round(255.0 * (1.0 - image)).astype(np.uint8)
    rgb = np.zeros((*image.shape[:2], 3), np.float32)
    rgb[..., :min(3, image.shape[2])] = image[..., :3]
    return np.round(255.0 * rgb).astype(np.uint8)


def write_png(path: Path, image: np.ndarray) -> None:
    def write(f: BinaryIO) -> None:
        Image.fromarray(png_pixels(image)).save(f, format="PNG")
    atomic_write(path, write)


def write_offline_batch(run_dir: Path, batch: QueryBatch, outcomes: tuple[str, ...] | None = None) -> Path:
    """Write the batch for an offline oracle; the path of its answers CSV. outcomes: T's K > 2 outcome names,
    kept in images.npz as `outcomes` (None: a binary T)."""
    folder = batch_folder(run_dir, batch)
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(batch.images):
        write_png(folder / image_name(i), image)
    targets = np.full(len(batch), -1, np.int64) if batch.targets is None else batch.targets.astype(np.int64)
    arrays: dict[str, Any] = {"images": batch.images.astype(np.float32),
                              "source_index": batch.source_index.astype(np.int64), "targets": targets}
    if outcomes is not None and len(outcomes) > 2:
        arrays["outcomes"] = np.array(list(outcomes))
    atomic_write(folder / IMAGES_FILE, lambda f: np.savez_compressed(f, **arrays))
    label = batch_label(batch)
    rows = [[label, i, image_name(i), "" if t < 0 else int(t), ""] for i, t in enumerate(targets)]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerows([COLUMNS, *rows])
    path = folder / ANSWERS_FILE
    atomic_write(path, lambda f: f.write(text.getvalue().encode("utf-8")))
    return path


def read_answers(path: Path, batch: QueryBatch, answered: list[QueryBatch],
                 outcomes: tuple[str, ...] | None = None) -> np.ndarray:
    """The answers in a filled-in CSV for the waiting `batch` (float64, NaN = '?'); `answered`:
    the batches answered before (a file for one of those is refused as a second answer file).
    outcomes: the names of T's outcomes (None: a binary T, "0" and "1"). A binary T's answers are P(T=1);
    over K > 2 outcomes each answer is the index of the outcome observed (its name or its number)."""
    names = tuple(outcomes) if outcomes is not None else default_names(2)
    name = printable(path)          # the path as messages show it
    rows = _read_rows(Path(path), name)
    label, n = batch_label(batch), len(batch)
    values = np.full(n, np.nan)
    seen: set[int] = set()
    for line, row in rows:
        _check_batch(name, line, _cell(row, "batch"), label, answered)
        index = _index(name, line, _cell(row, "index"), n)
        if index in seen:
            raise AnswerFileError(f"{name}: line {line}: image {index} is answered twice")
        image = _cell(row, "image")
        if image and image != image_name(index):
            raise AnswerFileError(f"{name}: line {line}: image {printable(image, SHOWN_CHARS)} is not image {index} of "
                                  f"{label} ({image_name(index)}); keep the rows as written")
        values[index] = _value(name, line, index, _cell(row, "answer"), names)
        seen.add(index)
    missing = sorted(set(range(n)) - seen)
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise AnswerFileError(f"{name}: no row for image(s) {shown} of {label}; every image of the batch "
                              f"needs an answer ({n} rows)")
    return values


SHOWN_CHARS = 40      # of a cell's text in a message


def _cell(row: dict[str | None, str | list[str] | None], key: str) -> str:
    """A cell's text, stripped; '' for a cell the row lacks (a short row: csv gives None)."""
    value = row.get(key)
    return value.strip() if isinstance(value, str) else ""


def _read_rows(path: Path, name: str) -> list[tuple[int, dict[str | None, str | list[str] | None]]]:
    try:
        text = read_user_file(path, MAX_CSV_BYTES, "an answers file").decode("utf-8-sig")
    except UserFileError as exc:
        raise AnswerFileError(f"{name}: {exc.problem}") from None
    except UnicodeDecodeError:
        raise AnswerFileError(f"{name}: not a UTF-8 text file; save the answers as CSV (UTF-8)") from None
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        lacking = [c for c in REQUIRED if c not in header]
        if lacking:
            shown = printable(", ".join(header), 200) or "none"
            raise AnswerFileError(f"{name}: no {', '.join(repr(c) for c in lacking)} column (header: {shown}); "
                                  "fill in the answers.csv the run wrote")
        return [(reader.line_num, row) for row in reader if any((v or "").strip() for v in row.values()
                                                                 if isinstance(v, str))]
    except csv.Error as exc:
        raise AnswerFileError(f"{name}: not a readable CSV file ({printable(exc, 200)})") from None


def _check_batch(name: str, line: int, given: str, label: str, answered: list[QueryBatch]) -> None:
    if given == label:
        return
    if given in {batch_label(b) for b in answered}:
        raise AnswerFileError(f"{name}: the answers for {given} were already given; the run waits for the "
                              f"answers to {label}")
    raise AnswerFileError(f"{name}: line {line}: the rows are for batch {printable(given, SHOWN_CHARS) or '(empty)'}, "
                          f"but the run waits for the answers to {label}")


def _index(name: str, line: int, text: str, n: int) -> int:
    try:
        index = int(text) if len(text) <= 12 else None      # int() of a 5,000-digit cell would raise
    except ValueError:
        raise AnswerFileError(f"{name}: line {line}: index {printable(repr(text), SHOWN_CHARS)} is not an image "
                              "number") from None
    if index is None or not 0 <= index < n:
        shown = index if index is not None else printable(text, SHOWN_CHARS)
        raise AnswerFileError(f"{name}: line {line}: image {shown} was not asked (the batch has {n} images, "
                              f"0 to {n - 1})")
    return index


def _value(name: str, line: int, index: int, text: str, outcomes: tuple[str, ...] = ("0", "1")) -> float:
    cell = text.lower()
    how = how_to_answer(outcomes)
    if not cell:
        raise AnswerFileError(f"{name}: line {line}: image {index} has no answer; {how}")
    named = _named_outcome(text, outcomes)
    if len(outcomes) > 2:
        if cell == "?":
            return math.nan
        if named is None and cell.isdigit() and int(cell) < len(outcomes):
            named = int(cell)
        if named is None:
            raise AnswerFileError(f"{name}: line {line}: image {index}: {printable(repr(text), SHOWN_CHARS)} is not "
                                  f"an answer; {how}")
        return float(named)
    if cell in WORDS:
        return WORDS[cell]
    if named is not None and outcomes != default_names(2):
        return float(named)
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise AnswerFileError(f"{name}: line {line}: image {index}: {printable(repr(text), SHOWN_CHARS)} is not an "
                              f"answer; {how}")
    return value


def _named_outcome(text: str, outcomes: tuple[str, ...]) -> int | None:
    """The index of the outcome whose name the cell holds (exactly, else ignoring case), or None."""
    if text in outcomes:
        return outcomes.index(text)
    lowered = [o.lower() for o in outcomes]
    return lowered.index(text.lower()) if lowered.count(text.lower()) == 1 else None
