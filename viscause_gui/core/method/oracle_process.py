"""A child Python process spoken to in frames over its stdin and stdout, with a time limit on every reply.

Plugged oracles run in one (plugged_oracles.CheckedOracle), so that whatever the user's code
does, a hang, a crash, a segfault, ``os._exit``, cannot take the run with it: the parent waits
on a pipe with a timeout, kills the child when it is past it, and sees the child's end as the
end of its pipe. Images go down and answers come back as raw arrays after a small JSON header;
nothing is unpickled on either side, and the parent reads no more than the reply it asked for.

The child is started with ``python -I`` (no working folder, user site or PYTHON* variables on
its path: a ``numpy.py`` in the folder a person runs from is never imported) and given the
parent's ``sys.path`` explicitly. It reads requests from its stdin and answers on a private
copy of its stdout; its own fd 1 goes to stderr (a ``print`` in an oracle shows, and cannot
break the protocol) and fd 0 to the null device. It ignores Ctrl+C (the parent handles it and
ends the child) and ends by itself when the parent goes away (its stdin ends).

Frame: 4-byte big-endian header length, the header (UTF-8 JSON object, at most
MAX_HEADER bytes), then ``header["bytes"]`` bytes of payload (0 if absent).
"""
from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import IO, Any, BinaryIO

LENGTH = struct.Struct(">I")
MAX_HEADER = 64 * 1024
CLOSE_WAIT_S = 2.0          # a child whose stdin was closed and that has not ended by then is killed
PARENT_POLL_S = 0.5         # how often a child checks that its parent still runs

Handler = Callable[[dict, bytes], "tuple[dict, bytes]"]

BOOT = ("import sys, json, importlib; sys.path[:] = json.loads(sys.argv[1]); "
        "module, _, function = sys.argv[2].partition(':'); getattr(importlib.import_module(module), function)()")


class ChildGone(Exception):
    """The child ended (or its pipe broke) before it replied; str() says how it ended."""


class ChildTimeout(Exception):
    """No reply within the limit; the child has been killed."""


class ProtocolError(Exception):
    """A frame that breaks the protocol (too large, not JSON, cut short)."""


# ---------------------------------------------------------------- frames

def write_frame(stream: IO[bytes], header: dict, payload: bytes | memoryview = b"") -> None:
    head = json.dumps({**header, "bytes": len(payload)}).encode("utf-8")
    stream.write(LENGTH.pack(len(head)) + head)
    if len(payload):
        stream.write(payload)
    stream.flush()


def _read_exactly(stream: BinaryIO, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(stream: BinaryIO, max_payload: int | Callable[[], int]) -> tuple[dict, bytes]:
    """One frame; EOFError at the end of the stream, ProtocolError for a frame past the limits.
    max_payload: a number, or a function asked once the header is in (the reply to the request
    just sent)."""
    (size,) = LENGTH.unpack(_read_exactly(stream, LENGTH.size))
    if size > MAX_HEADER:
        raise ProtocolError(f"a header of {size:,} bytes (the limit is {MAX_HEADER:,})")
    try:
        header = json.loads(_read_exactly(stream, size).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("a header that is not JSON") from None
    if not isinstance(header, dict):
        raise ProtocolError("a header that is not a JSON object")
    n = header.get("bytes", 0)
    if callable(max_payload):
        max_payload = max_payload()
    if not isinstance(n, int) or n < 0 or n > max_payload:
        raise ProtocolError(f"a payload of {n!r} bytes (at most {max_payload:,} expected)")
    return header, _read_exactly(stream, n)


# ---------------------------------------------------------------- the parent's side

def _child_path() -> list[str]:
    """The parent's import path without the working folder ('' or '.'): the child imports what the
    parent would, and nothing that merely lies where the person runs the command."""
    return [p for p in sys.path if p not in ("", ".")]


def _close_stdin(proc: subprocess.Popen) -> None:
    """Close the child's stdin pipe: it ends by itself at the end of its requests."""
    with contextlib.suppress(OSError):
        if proc.stdin is not None:
            proc.stdin.close()


def _stop(proc: subprocess.Popen, kill: bool = False) -> None:
    """End the child: close its stdin, wait a little, kill it if it still runs; kill at once with kill=True."""
    _close_stdin(proc)
    try:
        if kill:
            raise subprocess.TimeoutExpired(proc.args, 0)
        proc.wait(timeout=CLOSE_WAIT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def _stop_soon(proc: subprocess.Popen) -> None:
    """_stop without waiting here: what an oracle dropped without close() gets (e.g. on a GUI
    thread, which must not wait for a child to end)."""
    _close_stdin(proc)
    if proc.poll() is None:
        threading.Thread(target=_stop, args=(proc,), name="oracle child stop", daemon=True).start()


class _Replies:
    """What the reader thread shares with the requests: the replies, and how large one may be.
    The thread holds this, not the ChildProcess, so an unused ChildProcess is collected (and its
    child ended) as soon as it is dropped."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.max_payload = 0

    def read_all(self, stream: BinaryIO) -> None:
        while True:
            try:
                self.queue.put(read_frame(stream, lambda: self.max_payload))
            except (EOFError, OSError, ValueError):
                self.queue.put(None)
                return
            except ProtocolError as exc:
                self.queue.put(exc)
                return


class ChildProcess:
    """A child running ``entry`` ('package.module:function', which calls `serve`); one request at a time."""

    def __init__(self, entry: str, env: dict[str, str] | None = None):
        self.proc = subprocess.Popen([sys.executable, "-I", "-c", BOOT, json.dumps(_child_path()), entry],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=os.getcwd(), env=env)
        assert self.proc.stdin is not None, "a pipe, as asked"
        self._to_child: IO[bytes] = self.proc.stdin
        self._replies = _Replies()
        self._busy = False
        threading.Thread(target=self._replies.read_all, args=(self.proc.stdout,), name="oracle child reader",
                         daemon=True).start()
        self._finalizer = weakref.finalize(self, _stop_soon, self.proc)  # a child never outlives its object

    @property
    def alive(self) -> bool:
        return self._finalizer.alive and self.proc.poll() is None

    def request(self, header: dict, payload: bytes | memoryview = b"", limit_s: float | None = None,
                max_payload: int = 0) -> tuple[dict, bytes]:
        """Send one request and wait up to limit_s (None: no limit) for its reply, of at most
        max_payload bytes. ChildTimeout (the child is killed), ChildGone, ProtocolError (killed)."""
        self._replies.max_payload = max_payload
        self._busy = True
        with contextlib.suppress(OSError, ValueError):      # a broken pipe: the child is gone; its reader says so
            write_frame(self._to_child, header, payload)
        try:
            reply = self._replies.queue.get(timeout=limit_s)
        except queue.Empty:
            self.kill()
            raise ChildTimeout from None
        self._busy = False                     # not reached on Ctrl+C: close() then kills the busy child
        if reply is None:
            raise ChildGone(self.ending())
        if isinstance(reply, ProtocolError):
            self.kill()
            raise reply
        return reply

    def ending(self) -> str:
        """How the child ended: 'exit code N' or 'signal SIGSEGV' (killed if it still runs)."""
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            return "closed its pipe"
        if code < 0:
            try:
                return f"signal {signal.Signals(-code).name}"
            except ValueError:
                return f"signal {-code}"
        return f"exit code {code}"

    def kill(self) -> None:
        if self._finalizer.detach() is not None:
            _stop(self.proc, kill=True)

    def close(self) -> None:
        """End the child cleanly (the end of its requests), killing it if it does not end soon, or
        at once when it is in the middle of a request (Ctrl+C while the oracle answers)."""
        if self._finalizer.detach() is not None:
            _stop(self.proc, kill=self._busy)


# ---------------------------------------------------------------- the child's side

def _private_streams() -> tuple[BinaryIO, BinaryIO]:
    """The protocol's own copies of fds 0 and 1; fd 0 becomes the null device and fd 1 stderr,
    so neither `input()` nor `print` in the user's code touches the protocol."""
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return requests, replies


def _end_with_parent() -> None:
    """End this child when its parent is gone, even in the middle of the user's code (a parent
    killed with SIGKILL cannot end it; its closed pipe is only read between requests). POSIX:
    an orphan's parent pid changes; elsewhere the closed pipe has to do."""
    if os.name != "posix":
        return
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent watch", daemon=True).start()


def serve(handle: Handler) -> None:
    """The child's loop: each request frame is answered by handle(header, payload) -> (header,
    payload); the end of stdin ends it. An exception in `handle` is reported as
    {"error": ...}; only the handler's own code decides what the parent is told."""
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_parent()
    requests, replies = _private_streams()
    while True:
        try:
            header, payload = read_frame(requests, 1 << 40)
        except (EOFError, ProtocolError, OSError):
            return
        try:
            reply, data = handle(header, payload)
        except Exception as exc:  # reported to the parent, which decides
            reply, data = {"error": "internal", "message": f"{type(exc).__name__}: {exc}"}, b""
        write_frame(replies, reply, data)


def one_line(text: Any, limit: int = 300) -> str:
    """A message from the user's code as one printable line of at most `limit` characters."""
    flat = " ".join(str(text).split())
    flat = "".join(c if c.isprintable() else "?" for c in flat)
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"
