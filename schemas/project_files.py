"""Reading a file of a project safely: inside the project, a regular file, of bounded size.

A project folder comes from a stranger's pull request as often as from its owner, so no file it holds
may make epctl read outside it (`endpoints/x.toml -> /etc/passwd` would be frozen into a version),
block (a FIFO), or read without end (`-> /dev/zero`). Every file epctl reads goes through
`read_project_text`, which refuses each of those with a problem code.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import NamedTuple

from epctl.schemas.problems import Code, EpctlError


class SizeLimit(NamedTuple):
    """How many bytes a kind of file may hold, as a message names it."""

    bytes: int
    text: str  # '16 MiB'
    holder: str  # 'a project file'


# Any file a project holds: TOML tables, templates, workflows, static files.
FILE_LIMIT = SizeLimit(16 * 1024 * 1024, "16 MiB", "a project file")
# A version file holds every other file of the version, and 100,000 endpoints come to about 23 MB.
VERSION_LIMIT = SizeLimit(64 * 1024 * 1024, "64 MiB", "a version file")


class ProjectFileError(EpctlError):
    """A project file epctl refuses to read; `code` is the problem to report."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code


def read_project_text(root: Path, path: Path, limit: SizeLimit = FILE_LIMIT) -> str:
    """Return the text of `path` (UTF-8, newlines read as `\\n`, as `Path.read_text` reads them).

    Raises what `read_project_bytes` raises, and UnicodeDecodeError.
    """
    data = read_project_bytes(root, path, limit)
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def read_project_bytes(root: Path, path: Path, limit: SizeLimit = FILE_LIMIT) -> bytes:
    """Return the bytes of `path` as they are (static files are served and frozen byte for byte).

    Raises ProjectFileError (`path-escape`, `not-a-file`, `file-too-large`) when the path, symlinks
    followed, leaves `root`, is not a regular file, or holds more than `limit` allows;
    FileNotFoundError when there is nothing there; OSError as a read would.
    """
    relative = _relative(root, path)
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise ProjectFileError(
            Code.PATH_ESCAPE,
            f"{relative} leads outside the project (to {resolved}); epctl reads only files inside the "
            "project folder: replace the symlink with the file itself",
        )
    # O_NONBLOCK: opening a FIFO must not wait for a writer; a regular file ignores the flag.
    descriptor = os.open(resolved, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            what = "a folder" if stat.S_ISDIR(info.st_mode) else "a device, FIFO or socket"
            raise ProjectFileError(
                Code.NOT_A_FILE, f"{relative} is {what}, not a regular file; epctl reads only regular files"
            )
        data = b""
        if info.st_size <= limit.bytes:
            # Read one byte past the limit: a file that grew after fstat is caught too.
            with os.fdopen(os.dup(descriptor), "rb") as handle:
                data = handle.read(limit.bytes + 1)
        if info.st_size > limit.bytes or len(data) > limit.bytes:
            raise ProjectFileError(
                Code.FILE_TOO_LARGE,
                f"{relative} is {max(info.st_size, len(data)):,} bytes; {limit.holder} may hold at most "
                f"{limit.text} ({limit.bytes:,} bytes)",
            )
    finally:
        os.close(descriptor)
    return data


def _relative(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
