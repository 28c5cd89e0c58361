"""An advisory lock on a folder (a run folder, the folder of a session file), held for a whole command.

Two `viscause answer` on one run folder at once both read the same state and both write it: one
set of answers is lost (issue 21). Each command that changes a run folder (`run`, `answer`,
`resume`) holds this lock from start to end; the second one is refused in one line naming the
folder and the pid that holds it.

The lock is the operating system's, on a small file inside the folder (`LOCK_NAME`): `flock` on
Linux and macOS, `msvcrt.locking` on Windows. The OS drops it when the process ends, however it
ends (a kill, a crash, a power cut), so a lock file left behind never blocks: the file stays, the
lock does not. The file is never removed (removing it while another process waits on it would let
two hold "the" lock on two different files); it holds the pid of the last holder, for the message.

`flock` locks belong to an open file, not to a process: a second `hold_folder_lock` on the same
folder in the same process is refused too, which is what two windows of one app opening one
session need. Where the folder cannot be written (a read-only copy), no lock file can be made;
the lock is then skipped, as nothing can be written there by anyone this lock protects against.
"""
from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = ".viscause.lock"
_WINDOWS_LOCK_OFFSET = 1 << 20      # msvcrt locks bytes; lock one far from the pid text so it stays readable


class FolderInUse(ValueError):
    """Another process (or another holder in this one) holds the lock; str() is one line."""

    def __init__(self, message: str, pid: int | None = None):
        super().__init__(message)
        self.pid = pid


def _try_lock(fd: int) -> bool:
    """Take the lock without waiting; False when someone else holds it."""
    if sys.platform == "win32":
        import msvcrt
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        import fcntl
    except ImportError:         # neither fcntl nor msvcrt: no lock, but no crash either
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            return True         # a file system without locks (some network mounts): go on unlocked
        raise
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt
        with contextlib.suppress(OSError):
            os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    with contextlib.suppress(ImportError, OSError):
        import fcntl
        fcntl.flock(fd, fcntl.LOCK_UN)


def _holder_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 64).decode("ascii", "replace").split()
        return int(text[0]) if text else None
    except (OSError, ValueError):
        return None


def lock_holder(folder: Path, lock_name: str = LOCK_NAME) -> int | None:
    """The pid written by the last holder of the folder's lock (None if none), held or not."""
    try:
        fd = os.open(Path(folder) / lock_name, os.O_RDONLY)
    except OSError:
        return None
    try:
        return _holder_pid(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def hold_folder_lock(folder: Path, what: str, *, by: str = "another viscause command",
                     lock_name: str = LOCK_NAME) -> Iterator[Path | None]:
    """Hold the folder's lock for the `with` block; yield the lock file's path (None when the
    folder cannot be written and no lock was taken).

    `what` names the folder in the message ("run folder runs/a"); `by` says who else may hold it.
    Raises FolderInUse("<what> is in use by <by> (pid N)") at once, never waits. `folder` must
    exist. `lock_name` lets one folder hold several locks (one per session file, say)."""
    path = Path(folder) / lock_name
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            yield None          # a folder this process cannot write: nothing to protect
            return
        if exc.errno == errno.ELOOP:
            raise FolderInUse(f"{what}: {lock_name} is a symbolic link; remove it") from None
        raise
    try:
        if not _try_lock(fd):
            pid = _holder_pid(fd)
            raise FolderInUse(f"{what} is in use by {by} (pid {pid if pid is not None else 'unknown'})", pid)
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        except OSError:
            pass                # the pid is only for the message; the lock is what counts
        try:
            yield path
        finally:
            _unlock(fd)
    finally:
        os.close(fd)
