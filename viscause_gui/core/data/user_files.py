"""Files a person names (a lesson, an answers CSV, a data file): read only when regular, never more
than a limit, and shown in messages without letting their bytes steer the terminal. Qt-free.

A path can name a FIFO (reading it blocks until a writer comes: forever, in a script), a device
(`/dev/zero` never ends: a reader that checked the size after reading held 2.35 GB before it
refused), or a file that grows while it is read. `open_user_file` opens without blocking
(O_NONBLOCK: opening a FIFO returns at once), checks on the open descriptor that it is a regular
file (so no rename between a check and the open can slip a FIFO in), and `read_user_file` reads at
most limit + 1 bytes: more than `limit` is refused having read no more than that.

`printable` escapes what a file could put into a one-line message: ANSI escapes and other control
characters, newlines, bidirectional overrides (`'\\x1b[2J'` is shown as the text ``\\x1b[2J``).

This module sits in the lowest layer (core.data), so that every reader can use it.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

PathLike = str | os.PathLike

_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_BINARY", 0))


class UserFileError(ValueError):
    """A file that cannot be read as asked. str(): '<path>: <problem>' (the path made printable);
    `problem` alone for a reader that names the file its own way."""

    def __init__(self, path: PathLike, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{printable(path)}: {problem}")


def printable(text: object, limit: int | None = None) -> str:
    """`text` (str() of it) safe for a one-line message on a terminal: each character Python would
    not print (control characters such as ESC, CR and newline, format characters such as U+202E)
    written as its escape (\\x1b, \\n, \\u202e); at most `limit` characters, then '…'."""
    text = os.fspath(text) if isinstance(text, os.PathLike) else str(text)
    out = text if text.isprintable() else "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    if limit is not None and len(out) > limit:
        out = out[:max(0, limit - 1)] + "…"
    return out


def file_kind(mode: int) -> str | None:
    """What a stat mode names when it is not a regular file ('a folder', 'a named pipe (FIFO)', ...);
    None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refuse_kind(path: Path, mode: int) -> None:
    kind = file_kind(mode)
    if kind is not None:
        raise UserFileError(path, f"is {kind}, not a file" if kind.startswith("a ") else f"is {kind}")


def regular_file(path: PathLike) -> Path:
    """`path` when it names a regular file (after symbolic links); UserFileError otherwise ('no such
    file', 'is a named pipe (FIFO), not a file', ...). For readers that hand the path to a library:
    open_user_file, which checks the descriptor it opened, leaves no gap between check and open."""
    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        raise UserFileError(p, "no such file") from None
    except OSError as exc:
        raise UserFileError(p, f"cannot be read ({exc.strerror or exc})") from None
    _refuse_kind(p, mode)
    return p


def open_user_file(path: PathLike) -> BinaryIO:
    """The regular file at `path`, open for reading in binary (a buffered reader: close it, or use it
    in `with`). Never blocks on a FIFO; refuses folders, FIFOs, devices and sockets with one
    UserFileError."""
    p = regular_file(path)                 # the clearer message for what plainly is not a file
    try:
        fd = os.open(p, _OPEN_FLAGS)
    except FileNotFoundError:
        raise UserFileError(p, "no such file") from None
    except IsADirectoryError:
        raise UserFileError(p, "is a folder, not a file") from None
    except OSError as exc:
        raise UserFileError(p, f"cannot be read ({exc.strerror or exc})") from None
    try:
        _refuse_kind(p, os.fstat(fd).st_mode)          # what was opened, whatever the path names now
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_user_file(path: PathLike, limit: int, what: str) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them: a larger file is refused
    (UserFileError '... larger than LIMIT bytes, the limit for WHAT') having read at most limit + 1
    bytes. `what` names the kind of file with its article: 'a lesson', 'an answers file'."""
    with open_user_file(path) as f:
        p = Path(path)
        if os.fstat(f.fileno()).st_size > limit:
            raise UserFileError(p, f"larger than {limit:,} bytes, the limit for {what}")
        try:
            data = f.read(limit + 1)
        except OSError as exc:
            raise UserFileError(p, f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > limit:                               # it grew while it was read
        raise UserFileError(p, f"larger than {limit:,} bytes, the limit for {what}")
    return data
