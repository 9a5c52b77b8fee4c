"""How epctl writes into a project: atomically, inside the project, one writer at a time.

- Every write goes to a temporary file beside its target and is then renamed over it (or claimed with
  `os.link`, which fails if the name exists), so a reader never sees half a file.
- A target must resolve inside the project (no `versions/ -> elsewhere`) and be a regular file or
  nothing (never a symlink, a folder or a device).
- Writers take the project lock (`fcntl.flock` on `.epctl/lock`): two epctl commands never interleave
  their read-modify-write of `epctl.toml`. An editor does not take it, so a rewrite also re-reads the
  file just before its rename and starts over when the file changed in between.
- A temporary left behind by a killed writer is removed by the next writer, under the lock, so it
  never belongs to a write still running.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from epctl.schemas.problems import EpctlError

STATE_FOLDER = ".epctl"  # local state, never in git: the lock, backups, the users database
LOCK_FILE = f"{STATE_FOLDER}/lock"
LOCK_TIMEOUT = 30.0  # seconds a writer waits for another epctl command to finish
# `.NAME.<random>.tmp`, as `_temporary_beside` names them (mkstemp's random part is [a-z0-9_]).
_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


class WriteRefusedError(EpctlError):
    """A write that would leave the project or replace something that is not a regular file."""


class ProjectBusyError(EpctlError):
    """Another epctl command held the project lock for longer than `LOCK_TIMEOUT`."""


class ConcurrentEditError(EpctlError):
    """A file kept changing while epctl was rewriting it."""


def check_write_target(root: Path, relative: str) -> Path:
    """Return the path epctl may write project file `relative` to.

    Raises WriteRefusedError when the path (its folders followed through any symlink) leaves the
    project, or when something other than a regular file is there now.
    """
    target = root / relative
    folder = target.parent.resolve()
    if not folder.is_relative_to(root.resolve()):
        raise WriteRefusedError(
            f"path-escape: {relative} would be written to {folder / target.name}, outside the project "
            f"({target.parent.relative_to(root).as_posix() or '.'} leads there); nothing was written"
        )
    try:
        mode = target.lstat().st_mode
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(mode):
        what = "a symlink" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode) else "not a file"
        raise WriteRefusedError(
            f"not-a-file: {relative} is {what}; epctl writes only regular files; nothing was written"
        )
    return target


@contextlib.contextmanager
def project_lock(root: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the project's write lock for the duration of the block.

    Raises ProjectBusyError when another epctl command holds it for more than `timeout` seconds,
    WriteRefusedError when `.epctl/` leads outside the project.
    """
    path = check_write_target(root, LOCK_FILE)
    path.parent.mkdir(exist_ok=True)
    check_write_target(root, LOCK_FILE)  # the folder just made, or found, is inside the project
    busy = ProjectBusyError(
        f"another epctl command is writing this project ({LOCK_FILE} is locked for more "
        f"than {timeout:.0f} s); wait for it to finish and try again"
    )
    with file_lock(path, timeout, busy):
        yield


@contextlib.contextmanager
def file_lock(path: Path, timeout: float, busy: Exception) -> Iterator[None]:
    """Hold an exclusive lock on `path` (made 0600 when missing, never through a symlink) for the block.

    Waits for another process or thread holding it, at most `timeout` seconds, then raises `busy`.
    """
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    raise busy from None
                time.sleep(0.01)
        yield
    finally:
        os.close(descriptor)  # closing the descriptor releases the lock


def remove_stale_temporaries(folder: Path) -> list[str]:
    """Remove the temporaries a killed writer left in `folder`; return their names.

    Call it holding the project lock: every epctl writer takes it, so no temporary found then belongs
    to a write still running.
    """
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(folder):
            if _TEMPORARY.match(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(entry.name)
    return sorted(removed)


def write_exclusive(path: Path, text: str, *, taken: Callable[[], Exception]) -> None:
    """Write `text` to `path` only if `path` does not exist, atomically; raise `taken()` if it does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_beside(path, text) as temporary:
        try:
            os.link(temporary, path)  # atomic, and fails if the name is taken: an exclusive claim
        except FileExistsError:
            raise taken() from None


def write_replace(path: Path, text: str | bytes, *, mode: int | None = None) -> None:
    """Replace `path` with `text` (UTF-8) or bytes atomically: readers see the old file or the new,
    never a mix.

    The new file keeps the old one's permission bits, or takes `mode` when given.
    """
    with _temporary_beside(path, text, mode) as temporary:
        os.replace(temporary, path)


def rewrite(path: Path, read: Callable[[], str], change: Callable[[str], str], *, attempts: int = 5) -> str:
    """Replace the text of `path` with `change(text)`; return the text it changed.

    Just before the rename, the file is read again: when it no longer holds the text the change was
    made from (an editor saved it meanwhile), the change is made again from the new text, so an edit
    is never lost to a rewrite. Raises ConcurrentEditError after `attempts` tries.
    """
    for _ in range(attempts):
        before = read()
        after = change(before)
        with _temporary_beside(path, after) as temporary:
            if read() == before:
                os.replace(temporary, path)
                return before
    raise ConcurrentEditError(
        f"{path.name} changed {attempts} times while epctl was rewriting it; nothing was written: "
        "save your edits and try again"
    )


@contextlib.contextmanager
def _temporary_beside(path: Path, text: str | bytes, mode: int | None = None) -> Iterator[Path]:
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        if mode is None:
            # mkstemp makes the file private (0600); give it the mode a plain write would have.
            mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_current_umask()
        os.chmod(descriptor, mode)
        data = text.encode("utf-8") if isinstance(text, str) else text
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        yield temporary
    finally:
        temporary.unlink(missing_ok=True)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
