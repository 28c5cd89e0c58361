"""core/store/folder_lock.py: one holder at a time, a lock that dies with its process, one-line refusals."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from viscause_gui.core.store.folder_lock import LOCK_NAME, FolderInUse, hold_folder_lock, lock_holder

HOLD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from viscause_gui.core.store.folder_lock import hold_folder_lock
    with hold_folder_lock(Path(sys.argv[1]), "run folder x"):
        print("held", flush=True)
        time.sleep(60)
""")


def _holder(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_holder_is_refused_in_one_line_naming_the_pid(tmp_path):
    proc = _holder(tmp_path)
    try:
        with pytest.raises(FolderInUse) as info, hold_folder_lock(tmp_path, "run folder x"):
            pass
        assert str(info.value) == f"run folder x is in use by another viscause command (pid {proc.pid})"
        assert info.value.pid == proc.pid and isinstance(info.value, ValueError)
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.kill
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_holder_leaves_no_lock(tmp_path):
    proc = _holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (tmp_path / LOCK_NAME).exists() and lock_holder(tmp_path) == proc.pid   # the file stays...
    with hold_folder_lock(tmp_path, "run folder x") as path:                        # ...the lock does not
        assert path == tmp_path / LOCK_NAME and lock_holder(tmp_path) == os.getpid()


def test_released_at_the_end_of_the_block_and_on_an_exception(tmp_path):
    with hold_folder_lock(tmp_path, "f"):
        pass
    with pytest.raises(RuntimeError), hold_folder_lock(tmp_path, "f"):
        raise RuntimeError
    with hold_folder_lock(tmp_path, "f"):
        pass


def test_two_holders_in_one_process_conflict_and_lock_names_are_separate(tmp_path):
    with hold_folder_lock(tmp_path, "session a.vcsession", by="another window", lock_name=".a.lock"):
        with (pytest.raises(FolderInUse, match=r"^session a.vcsession is in use by another window \(pid \d+\)$"),
              hold_folder_lock(tmp_path, "session a.vcsession", by="another window", lock_name=".a.lock")):
            pass
        with hold_folder_lock(tmp_path, "session b.vcsession", lock_name=".b.lock"):
            pass


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder_is_not_locked_and_not_refused(tmp_path):
    tmp_path.chmod(0o555)
    try:
        with hold_folder_lock(tmp_path, "f") as path:
            assert path is None
    finally:
        tmp_path.chmod(0o755)


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_a_lock_file_that_is_a_symlink_is_refused(tmp_path):
    (tmp_path / "elsewhere").write_text("x")
    (tmp_path / LOCK_NAME).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(FolderInUse, match="symbolic link"), hold_folder_lock(tmp_path, "f"):
        pass
    assert (tmp_path / "elsewhere").read_text() == "x"
