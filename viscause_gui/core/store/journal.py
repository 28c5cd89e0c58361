"""The append-only answer journal: no confirmed answer is ever lost.

Every answer a person gives (and every undo) is appended to the journal as one JSON line
and flushed to disk (``os.fsync``) before `Journal.answer` / `Journal.undo` return, so the
labelling panel may advance as soon as the call returns. If the app is killed, the next
start reads the journal, compares it with the last saved session (`recover`) and offers
to replay the answers the session does not hold yet.

File format (JSON Lines, UTF-8, one object per line, each line ends with ``\\n``)::

    {"type": "header", "format": "viscause-journal", "version": 1,
     "session_id": "<hex>", "created": "<ISO 8601 UTC>"}
    (a session whose T has K > 2 outcomes: "version": 2 and "outcomes": ["<name>", ...], K names)
    {"type": "answer", "id": "<hex>", "seq": 1, "batch": "algorithm2:3", "index": 7,
     "value": 1.0, "label": null, "annotator": "alice", "time": "<ISO 8601 UTC>",
     "image_sha256": "<hex>", "session": "<hex>"}
    {"type": "undo", "id": "<hex>", "seq": 2, "target": "<id of an answer>",
     "annotator": "alice", "time": "<ISO 8601 UTC>", "session": "<hex>"}

- ``batch``: which queue the image came from: ``"<kind>:<iteration>"`` of a QueryBatch
  (``"algorithm1:0"``, ``"algorithm2:3"``; see `batch_key`) or ``"data"`` (``index`` is then
  an index into the data set); ``index``: the image's position in that batch.
- ``value``: the answer as P(T=1): 1.0 "yes", 0.0 "no", anything in [0, 1]; ``null`` for "?"
  (no recognisable answer; NaN in Python). Over K > 2 outcomes the index of the outcome observed,
  an integer 0..K-1 (for a binary T, 1 and 0 are also the outcomes' indices). ``label``: optional
  raw key or class the person gave (e.g. the digit), for the record.
- ``image_sha256``: `image_hash` of the image that was on screen, so a recovery can check
  that a replayed answer belongs to the same image.
- ``session``: the id of the session that wrote the line (the header's ``session_id``), so
  that a line can be told apart from another session's even where the header is damaged.
  Optional (journals written before it have none). Lines of another session are never taken
  as this session's answers (`foreign`): a journal is a session's own, and reusing another
  session's answers to the same images is something the person chooses (the app offers it,
  and a reused answer then says where it came from in ``reused_from``:
  ``"<session id>:<record id>"``).
- A record is committed when its line, newline included, is on disk. A last line without
  its newline is a write torn by a kill: readers skip it (``torn``) and the next writer
  cuts it off before appending.

Answers resolve in file order (`resolve`): per image and annotator the latest answer that
was not undone counts, so undoing a change brings the earlier answer back. Several
annotators per image are supported; `aggregate` / `batch_votes` give the oracle's answer
(the fraction of "yes") and a disagreement measure.

Qt-free and torch-free: the journal may be written from a tiny process.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import math
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from viscause_gui.core.data.outcomes import OutcomeError, check_names, default_names
from viscause_gui.core.data.user_files import UserFileError, printable, read_user_file
from viscause_gui.core.store.atomic import fsync_dir, write_all

try:  # advisory lock: one writer per journal (POSIX only)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

JOURNAL_FORMAT = "viscause-journal"
JOURNAL_VERSION = 2                 # the newest version read; a journal of K > 2 outcomes is written as it
BINARY_JOURNAL_VERSION = 1          # a binary T's journal is written as version 1 (earlier apps read it)
JOURNAL_SUFFIX = ".journal.jsonl"
MAX_JOURNAL_BYTES = 256 * 1024**2  # refused when larger: about a million answers, more than people give
MAX_LINE_BYTES = 1024**2          # a longer line is corrupt
RECORD_TYPES = ("answer", "undo")


class JournalError(ValueError):
    """A journal cannot be read or written; the message names the file and the problem."""


def now_iso() -> str:
    """The current time as ISO 8601 UTC with microseconds."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds")


def new_id() -> str:
    return uuid.uuid4().hex


def image_hash(image: np.ndarray) -> str:
    """SHA-256 (hex) of an image: ``"<H>x<W>:"`` in ASCII, then its pixels as little-endian float32."""
    arr = np.ascontiguousarray(np.asarray(image, dtype="<f4"))
    h = hashlib.sha256(("x".join(str(s) for s in arr.shape) + ":").encode("ascii"))
    h.update(arr.tobytes())
    return h.hexdigest()


def batch_key(batch: Any) -> str:
    """``"<kind>:<iteration>"`` of a QueryBatch (``"algorithm1:0"``, ``"algorithm2:3"``)."""
    return f"{batch.kind}:{int(batch.iteration)}"


# ---------------------------------------------------------------- records

@dataclass(frozen=True)
class AnswerRecord:
    """One journal line: an answer (``type="answer"``) or the undo of one (``type="undo"``)."""

    type: str
    id: str
    seq: int
    annotator: str
    time: str
    batch: str = ""
    index: int = -1
    value: float = math.nan            # P(T=1) (K > 2 outcomes: the outcome's index); NaN for '?' (null in JSON)
                                       # and for undo records
    label: int | str | None = None
    image_sha256: str | None = None
    target: str | None = None          # undo: the id of the undone answer
    session: str | None = None         # the session that wrote it (None: written before the field)
    reused_from: str | None = None     # "<session id>:<record id>" of an earlier session's answer

    @property
    def is_answer(self) -> bool:
        return self.type == "answer"

    @property
    def key(self) -> tuple[str, int]:
        """(batch, index): the image this answer is about."""
        return self.batch, self.index

    def to_json(self) -> dict[str, Any]:
        if self.type == "undo":
            out = {"type": "undo", "id": self.id, "seq": self.seq, "target": self.target,
                   "annotator": self.annotator, "time": self.time}
        else:
            out = {"type": "answer", "id": self.id, "seq": self.seq, "batch": self.batch, "index": self.index,
                   "value": None if math.isnan(self.value) else float(self.value), "label": self.label,
                   "annotator": self.annotator, "time": self.time, "image_sha256": self.image_sha256}
        if self.session is not None:
            out["session"] = self.session
        if self.reused_from is not None:
            out["reused_from"] = self.reused_from
        return out

    @classmethod
    def from_json(cls, obj: Any, outcomes: int = 2) -> AnswerRecord:
        """Validate one decoded line; ValueError says what is wrong. outcomes: K, T's outcomes (a binary T's
        value is P(T=1) in [0, 1]; over K > 2 outcomes it is an outcome index 0..K-1)."""
        if not isinstance(obj, dict):
            raise ValueError(f"a record must be a JSON object, got {type(obj).__name__}")
        kind = obj.get("type")
        if kind not in RECORD_TYPES:
            raise ValueError(f"unknown record type {kind!r}")
        common = dict(type=kind, id=_str(obj, "id", 200), seq=_int(obj, "seq", 0),
                      annotator=_str(obj, "annotator", 1000), time=_str(obj, "time", 100),
                      session=_str(obj, "session", 200) if obj.get("session") is not None else None,
                      reused_from=(_str(obj, "reused_from", 401) if obj.get("reused_from") is not None
                                   else None))
        if kind == "undo":
            return cls(**common, target=_str(obj, "target", 200))
        value = obj.get("value")
        if value is None:
            value = math.nan
        elif outcomes > 2:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= outcomes - 1 \
                    or value != int(value):
                raise ValueError(f"'value' must be an outcome index 0 to {outcomes - 1} or null, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"'value' must be a number in [0, 1] or null, got {value!r}")
        label = obj.get("label")
        if label is not None and (isinstance(label, bool) or not isinstance(label, (int, str))
                                  or (isinstance(label, str) and len(label) > 1000)):
            raise ValueError(f"'label' must be an integer, a short string or null, got {label!r}")
        digest = obj.get("image_sha256")
        if digest is not None and not (isinstance(digest, str) and len(digest) == 64
                                       and all(c in "0123456789abcdef" for c in digest)):
            raise ValueError("'image_sha256' must be 64 lower-case hex digits or null")
        return cls(**common, batch=_str(obj, "batch", 200), index=_int(obj, "index", 0),
                   value=float(value), label=label, image_sha256=digest)


def own_records(records: list[AnswerRecord], session_id: str | None) -> list[AnswerRecord]:
    """The records of session `session_id`: every line but those another session wrote (a line
    without ``session``, from before the field, counts as the journal's own)."""
    return [r for r in records if r.session is None or session_id is None or r.session == session_id]


def _str(obj: dict, key: str, max_len: int) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise ValueError(f"'{key}' must be a non-empty string (at most {max_len} characters), got {value!r}")
    return value


def _int(obj: dict, key: str, minimum: int) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or value >= 2**63:
        raise ValueError(f"'{key}' must be an integer >= {minimum}, got {value!r}")
    return value


def _check_header(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict) or obj.get("type") != "header" or obj.get("format") != JOURNAL_FORMAT:
        raise JournalError(f"{where}: not a viscause answer journal (the first line is no "
                           f"'{JOURNAL_FORMAT}' header)")
    version = obj.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise JournalError(f"{where}: bad journal version {version!r}")
    if version > JOURNAL_VERSION:
        raise JournalError(f"{where}: journal format version {version} was written by a newer viscause "
                           f"(this one reads up to {JOURNAL_VERSION}); update the app")
    sid = obj.get("session_id")
    if not isinstance(sid, str) or not sid or len(sid) > 200:
        raise JournalError(f"{where}: the journal header has no valid session_id")
    if obj.get("outcomes") is not None:
        try:
            names = check_names(obj["outcomes"], f"{where}: the header's outcomes")
        except OutcomeError as exc:
            raise JournalError(str(exc)) from None
        if len(names) > 2 and version < 2:
            raise JournalError(f"{where}: a version-{version} journal has a binary T, but its header names "
                               f"{len(names)} outcomes")
    return obj


def header_outcomes(header: dict[str, Any] | None) -> tuple[str, ...]:
    """The outcomes a (checked) header names; a binary T's "0" and "1" when it names none."""
    names = None if header is None else header.get("outcomes")
    return tuple(names) if names is not None else default_names(2)


def new_header(session_id: str, outcomes: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A journal's first line: version 1 for a binary T, version 2 naming the outcomes of K > 2."""
    header: dict[str, Any] = {"type": "header", "format": JOURNAL_FORMAT, "version": BINARY_JOURNAL_VERSION,
                              "session_id": session_id, "created": now_iso()}
    if outcomes is not None and len(outcomes) > 2:
        header.update(version=JOURNAL_VERSION, outcomes=list(outcomes))
    return header


# ---------------------------------------------------------------- reading

@dataclass
class JournalContents:
    """What `read_journal` found. ``torn``: the last line was cut by a kill and skipped;
    ``skipped``/``problems``: other lines that could not be used (with line numbers)."""

    path: Path
    header: dict[str, Any] | None
    records: list[AnswerRecord] = field(default_factory=list)
    torn: bool = False
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    committed_bytes: int = 0          # length of the file up to its last newline

    @property
    def session_id(self) -> str | None:
        return None if self.header is None else self.header["session_id"]


def parse_journal(raw: bytes, where: str = "journal", *, strict: bool = False) -> JournalContents:
    """Parse journal bytes (see `read_journal`). Memory: the records, not a copy per line; only
    the first MAX_PROBLEMS problems are described (`skipped` counts them all)."""
    end = raw.rfind(b"\n") + 1            # everything after the last newline is a torn write
    contents = JournalContents(Path(where), None, torn=end < len(raw))
    contents.committed_bytes = end
    lines = _lines(raw, end)
    first = next(lines, None)
    if first is None:
        return contents                   # empty, or the header itself was torn: nothing committed
    header, damage = _parse_header_line(first)
    if header is not None:
        contents.header = _check_header(header, where)
    seen: set[str] = set()
    outcomes = len(header_outcomes(contents.header))
    for number, line in enumerate(lines, start=2):
        problem = _add_record(contents, seen, number, line, outcomes)
        if problem is not None:
            if strict:
                raise JournalError(f"{where}: corrupt journal, {problem}")
            _note_problem(contents, problem)
    if header is None:
        # the first line is damaged: answers below it are kept if there are any, else it is no journal
        if not contents.records or strict:
            raise JournalError(f"{where}: not a viscause answer journal (first line: {damage})")
        contents.skipped += 1
        contents.problems.insert(0, f"line 1: the header is damaged ({damage}); the answers below it are kept")
    return contents


MAX_PROBLEMS = 100                # problems described in JournalContents.problems; the rest are counted


def _lines(raw: bytes, end: int) -> Iterator[bytes]:
    """The complete lines of raw[:end], one at a time (a list of millions of lines would not fit)."""
    start = 0
    while start < end:
        stop = raw.index(b"\n", start)
        yield raw[start:stop]
        start = stop + 1


def _add_record(contents: JournalContents, seen: set[str], number: int, line: bytes, outcomes: int = 2) -> str | None:
    """Add the record of one line; what is wrong with the line, or None."""
    if len(line) > MAX_LINE_BYTES:
        return f"line {number}: longer than {MAX_LINE_BYTES:,} bytes"
    if not line.strip():
        return f"line {number}: empty"
    try:
        record = AnswerRecord.from_json(json.loads(line.decode("utf-8"), parse_constant=_no_constant), outcomes)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return f"line {number}: {exc}"
    if record.id in seen:
        return f"line {number}: duplicate record id {record.id}"
    seen.add(record.id)
    contents.records.append(record)
    return None


def _note_problem(contents: JournalContents, problem: str) -> None:
    contents.skipped += 1
    if len(contents.problems) < MAX_PROBLEMS:
        contents.problems.append(problem)


def _parse_header_line(line: bytes) -> tuple[dict[str, Any] | None, str]:
    """(the header object, "") when the first line looks like a journal header, else (None, why not).

    A header-like object with a bad version or session id is returned (the check refuses it);
    anything else is damage."""
    try:
        obj = json.loads(line.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return None, str(exc)
    if isinstance(obj, dict) and obj.get("type") == "header" and obj.get("format") == JOURNAL_FORMAT:
        return obj, ""
    return None, f"no '{JOURNAL_FORMAT}' header"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a journal")


def read_journal(path: str | os.PathLike, *, strict: bool = False,
                 max_bytes: int = MAX_JOURNAL_BYTES) -> JournalContents:
    """Read a journal. A torn last line is skipped (``torn=True``); another bad line is
    skipped and counted (``skipped``, ``problems``), or raises JournalError when `strict`.
    A file that is no journal, or from a newer version, raises JournalError."""
    p = Path(path)
    try:
        raw = read_user_file(p, max_bytes, "a journal")
    except UserFileError as exc:
        if exc.problem == "no such file":
            raise JournalError(f"{p}: no such journal") from None
        raise JournalError(f"{printable(p)}: {exc.problem}") from None
    contents = parse_journal(raw, str(p), strict=strict)
    contents.path = p
    return contents


def journal_in_use(path: str | os.PathLike) -> bool:
    """Whether an open `Journal` holds `path` now (another window or process is writing its
    session: nothing there is left to recover)."""
    if fcntl is None:  # pragma: no cover - Windows
        return False
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))   # a FIFO must not block the probe
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)                      # closing releases the probe's lock
    return False


# ---------------------------------------------------------------- writing

class Journal:
    """An open journal for one session; appends are durable when they return.

    Opening an existing journal checks its header (it must belong to `session_id`, when
    given), cuts off a torn last line and goes on with the next sequence number. Another
    Journal on the same file in another process is refused (advisory lock, POSIX).
    Thread-safe: the GUI thread and a worker may both append.
    """

    def __init__(self, path: str | os.PathLike, session_id: str | None = None, *, annotator: str = "user",
                 outcomes: tuple[str, ...] | None = None):
        """outcomes: the names of T's outcomes (None: a binary T, or whatever an existing journal's header says);
        an existing journal naming others is refused."""
        self.path = Path(path)
        self.annotator = annotator
        self._lock = threading.Lock()
        self._fd: int | None = None
        self.records: list[AnswerRecord] = []
        self.skipped = 0
        self.repaired_bytes = 0           # torn tail cut off when opening
        fd = self._open_fd()
        try:
            self._lock_fd(fd)
            raw = self._read_all(fd)
            contents = parse_journal(raw, str(self.path))
            if contents.torn:
                self.repaired_bytes = len(raw) - contents.committed_bytes
                os.ftruncate(fd, contents.committed_bytes)
                os.fsync(fd)
            if contents.header is None and contents.records:
                # a damaged header: keep every answer below it and go on appending after them,
                # unless the lines say they are another session's (never taken as this one's)
                writers = {r.session for r in contents.records if r.session is not None}
                if session_id is not None and writers - {session_id}:
                    raise JournalError(f"{self.path}: this journal belongs to session "
                                       f"{sorted(writers - {session_id})[0]} (its header is damaged), "
                                       f"not {session_id}")
                self.session_id = session_id or (sorted(writers)[0] if len(writers) == 1 else new_id())
                self.header = new_header(self.session_id, outcomes)
                self.records = own_records(contents.records, self.session_id)
                self.skipped = contents.skipped + len(contents.records) - len(self.records)
            elif contents.header is None:
                self.session_id = session_id or new_id()
                self.header = new_header(self.session_id, outcomes)
                self._write_line(fd, self.header)
            else:
                if session_id is not None and contents.session_id != session_id:
                    raise JournalError(f"{self.path}: this journal belongs to session {contents.session_id}, "
                                       f"not {session_id}")
                if outcomes is not None and header_outcomes(contents.header) != tuple(outcomes):
                    raise JournalError(f"{self.path}: this journal's T has the outcomes "
                                       f"{', '.join(header_outcomes(contents.header))}, not {', '.join(outcomes)}")
                self.header = contents.header
                self.session_id = contents.session_id  # type: ignore[assignment]
                self.records = own_records(contents.records, self.session_id)
                self.skipped = contents.skipped + len(contents.records) - len(self.records)
        except BaseException:
            os.close(fd)
            raise
        self.outcomes = header_outcomes(self.header)
        self._fd = fd
        self._broken = False
        self._seq = max((r.seq for r in self.records), default=0)
        self._ids = {r.id for r in self.records}

    def _open_fd(self) -> int:
        new = not self.path.exists()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0), 0o644)
        except OSError as exc:
            raise JournalError(f"{self.path}: cannot open the journal ({exc.strerror or exc})") from None
        if new:
            fsync_dir(self.path.parent)
        return fd

    def _lock_fd(self, fd: int) -> None:
        if fcntl is None:  # pragma: no cover
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise JournalError(f"{self.path}: the journal is open in another process") from None

    def _read_all(self, fd: int) -> bytes:
        size = os.fstat(fd).st_size
        if size > MAX_JOURNAL_BYTES:
            raise JournalError(f"{self.path}: the journal is {size:,} bytes, more than the limit "
                               f"of {MAX_JOURNAL_BYTES:,}")
        chunks, left = [], size
        os.lseek(fd, 0, os.SEEK_SET)
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    @staticmethod
    def _write_line(fd: int, obj: dict[str, Any]) -> None:
        data = (json.dumps(obj, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")
        write_all(fd, data)
        os.fsync(fd)

    def _append(self, record: AnswerRecord) -> AnswerRecord:
        if self._fd is None:
            raise JournalError(f"{self.path}: the journal is closed")
        if self._broken:
            raise JournalError(f"{self.path}: an earlier write failed and could not be undone; the answer was "
                               f"NOT saved (every answer confirmed before is safe: open the session again)")
        end = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            self._write_line(self._fd, record.to_json())
        except OSError as exc:
            self._cut_back(self._fd, end)
            raise JournalError(f"{self.path}: cannot write the answer ({exc.strerror or exc}); "
                               f"it was NOT saved") from None
        self.records.append(record)
        self._ids.add(record.id)
        return record

    def _cut_back(self, fd: int, end: int) -> None:
        """After a failed write, remove what of it reached the file, so the next answer starts on a
        line of its own; if even that fails, refuse further answers (never glue one onto a fragment)."""
        try:
            os.ftruncate(fd, end)
            os.fsync(fd)
        except OSError:
            self._broken = True

    def answer(self, batch: str | Any, index: int, value: float | None, *, annotator: str | None = None,
               image: np.ndarray | None = None, image_sha256: str | None = None,
               label: int | str | None = None, reused_from: str | None = None) -> AnswerRecord:
        """Append one answer and return once it is on disk. `batch`: a key or a QueryBatch;
        `value`: P(T=1) in [0, 1] (over K > 2 outcomes: the outcome's index), or None / NaN for '?';
        `image` (or its `image_hash`);
        `reused_from`: ``"<session id>:<record id>"`` of an earlier session's answer the person
        chose to reuse."""
        key = batch if isinstance(batch, str) else batch_key(batch)
        v = math.nan if value is None else float(value)
        k = len(self.outcomes)
        if k > 2 and not (math.isnan(v) or (0 <= v <= k - 1 and v == int(v))):
            raise ValueError(f"an answer is an outcome 0 to {k - 1} or NaN for '?', got {value!r}")
        if k == 2 and not (math.isnan(v) or 0.0 <= v <= 1.0):
            raise ValueError(f"an answer is P(T=1) in [0, 1] or NaN for '?', got {value!r}")
        if isinstance(index, bool) or int(index) != index or index < 0:
            raise ValueError(f"index must be a non-negative integer, got {index!r}")
        if image is not None:
            image_sha256 = image_hash(image)
        if isinstance(label, np.generic):
            label = label.item()
        with self._lock:
            self._seq += 1
            record = AnswerRecord("answer", new_id(), self._seq, annotator or self.annotator, now_iso(),
                                  batch=key, index=int(index), value=v, label=label, image_sha256=image_sha256,
                                  session=self.session_id, reused_from=reused_from)
            AnswerRecord.from_json(record.to_json(), k)   # refuse what a reader would refuse
            return self._append(record)

    def undo(self, target: AnswerRecord | str, *, annotator: str | None = None) -> AnswerRecord:
        """Append the undo of an earlier answer (its record or id); durable when it returns."""
        target_id = target if isinstance(target, str) else target.id
        with self._lock:
            if target_id not in self._ids:
                raise ValueError(f"no answer {target_id} in this journal")
            self._seq += 1
            record = AnswerRecord("undo", new_id(), self._seq, annotator or self.annotator, now_iso(),
                                  target=target_id, session=self.session_id)
            return self._append(record)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)        # closing releases the lock
                self._fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        with contextlib.suppress(Exception):
            self.close()


# ---------------------------------------------------------------- atomic writes


# ---------------------------------------------------------------- resolving and voting


# ---------------------------------------------------------------- recovery


# ---------------------------------------------------------------- export

