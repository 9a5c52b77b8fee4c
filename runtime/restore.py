"""`epctl restore`: copy a version back into develop (Losant's copy-to-develop).

A version file is data that anyone can write and re-digest, so `restore` trusts none of its paths:
- it writes only files a version can own (`version_file.can_own`), and refuses a version naming any
  other file before writing anything;
- every target resolves inside the project and is a regular file or nothing; none gets an executable
  bit;
- develop files that differ from the version, epctl.toml included, are replaced only with `force`,
  after a byte-for-byte copy of each into `.epctl/backups/<time>/`;
- develop's TOML table files the version does not have are removed (with `force`, backed up), since
  they would change the restored project; other develop files it does not have (a template added
  since) are kept and listed;
- epctl.toml comes back as written, with develop's `[environments]` and `[[trusted_key]]` kept;
- the files of static/ come back byte for byte (images and all), compared with develop's bytes.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from epctl.runtime.config_text import compose_config, merge_config
from epctl.runtime.project_writes import STATE_FOLDER, check_write_target, project_lock, write_replace
from epctl.schemas.loader import CONFIG_FILE, list_table_files
from epctl.schemas.models import TABLES_BY_FOLDER
from epctl.schemas.problems import EpctlError
from epctl.schemas.project_files import read_project_bytes, read_project_text
from epctl.schemas.static_files import STATIC_BINARY_KEY, STATIC_TEXT_KEY, decode_base64
from epctl.schemas.version_file import (
    HEADER_KEYS,
    OWNED_SUFFIXES,
    VersionError,
    can_own,
    check_version_name,
    read_trusted_document,
)

BACKUPS_FOLDER = f"{STATE_FOLDER}/backups"
LISTED = 20  # files named in one message; the rest are counted


class RestoreConflictError(EpctlError):
    """`restore` would replace or remove develop files that differ from the version."""


class ForgedVersionError(VersionError):
    """A version naming files no version can own: it was made or edited by hand."""


@dataclass(frozen=True, slots=True)
class RestorePlan:
    """What restoring a version does to develop; every path is project-relative."""

    name: str
    write: dict[str, str | bytes]  # every file the version owns -> the text (or bytes) it will hold
    changed: list[str]  # develop files whose text differs: replaced (with force, backed up first)
    created: list[str]  # files develop does not have yet
    remove: list[str]  # develop TOML table files the version does not have (with force, backed up)
    kept: list[str]  # other develop files the version does not have: left as they are


def plan_restore(root: Path, name: str) -> RestorePlan:
    """Return what restoring version `name` would write, replace, remove and keep; write nothing.

    Raises VersionError for a missing or tampered version (UntrustedVersionError for one no trusted
    key signed, where epctl.toml lists any), ForgedVersionError for one naming files a
    version cannot own, WriteRefusedError for a target outside the project or not a regular file,
    ConfigTextError when develop's epctl.toml is not TOML.
    """
    check_version_name(name)
    document = read_trusted_document(root, name)
    content = {key: value for key, value in document.items() if key not in HEADER_KEYS}
    sources: dict[str, str] = {**content["files"], **content["table_files"]}
    static_paths = [*content.get(STATIC_TEXT_KEY, {}), *content.get(STATIC_BINARY_KEY, {})]
    unowned = sorted(path for path in [*sources, *static_paths] if not can_own(path))
    if unowned:
        raise ForgedVersionError(
            f'version "{name}" holds files no version can own: {_listed(unowned)}. A version holds only '
            f"{CONFIG_FILE} and files under {', '.join(f'{f}/' for f in OWNED_SUFFIXES)} (by suffix), "
            "so this one was made or edited by hand; nothing was restored"
        )
    current = {path: _read_current(root, path) for path in sorted({*sources, CONFIG_FILE})}
    develop_config = current[CONFIG_FILE] or ""
    if CONFIG_FILE in sources:
        sources[CONFIG_FILE] = compose_config(sources[CONFIG_FILE], develop_config)
    else:  # a version frozen before epctl.toml's text was kept: its sections, merged by meaning
        sources[CONFIG_FILE] = merge_config(content, develop_config)
    # Static files compare and are written byte for byte (a CRLF or an image is part of the asset).
    assets = read_frozen_assets(name, content)
    current_assets = {path: _read_current_bytes(root, path) for path in assets}
    changed = sorted(
        [p for p, text in sources.items() if current[p] is not None and current[p] != text]
        + [p for p, data in assets.items() if current_assets[p] is not None and current_assets[p] != data]
    )
    created = sorted(
        [p for p in sources if current[p] is None] + [p for p in assets if current_assets[p] is None]
    )
    remove = sorted(
        relative
        for folder in TABLES_BY_FOLDER
        for path in list_table_files(root, folder)
        if (relative := path.relative_to(root).as_posix()) not in sources
    )
    kept = sorted(set(_owned_develop_files(root)) - set(sources) - set(assets) - set(remove))
    write: dict[str, str | bytes] = {**sources, **assets}
    return RestorePlan(name, dict(sorted(write.items())), changed, created, remove, kept)


def restore_version(root: Path, name: str, *, force: bool = False) -> tuple[RestorePlan, str | None]:
    """Copy version `name` back into develop; return the plan carried out and the backup folder.

    Without `force`, raises RestoreConflictError when develop files would be replaced or removed.
    With it, each of them is first copied into `.epctl/backups/<time>/`. Runs under the project lock;
    raises what `plan_restore` raises, before anything is written.
    """
    with project_lock(root):
        plan = plan_restore(root, name)
        replaced = [*plan.changed, *plan.remove]
        if replaced and not force:
            listed = _listed([*plan.changed, *(f"{path} (removed)" for path in plan.remove)])
            raise RestoreConflictError(
                f"restoring {name} would change develop files that differ from it: {listed}; rerun with "
                f"--force to copy them into {BACKUPS_FOLDER}/ first"
            )
        backup = back_up(root, replaced) if replaced else None
        for relative in [*plan.created, *plan.changed]:
            target = check_write_target(root, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            check_write_target(root, relative)  # the folders just made are inside the project
            # A version's files are data: never executable, whatever mode develop's file had.
            mode = target.stat().st_mode & 0o666 if target.exists() else None
            write_replace(target, plan.write[relative], mode=mode if mode is not None else _default_mode())
        for relative in plan.remove:
            (root / relative).unlink()
    return plan, backup


def back_up(root: Path, paths: list[str]) -> str:
    """Copy each project file in `paths` byte for byte into a new `.epctl/backups/<time>/`; return
    that folder, project-relative. Symlinks are copied as links, never followed."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    relative = f"{BACKUPS_FOLDER}/{stamp}"
    check_write_target(root, f"{relative}/{CONFIG_FILE}")
    folder = root / relative
    suffix = 1
    while True:
        try:
            folder.mkdir(parents=True)
            break
        except FileExistsError:  # two restores within one second
            suffix += 1
            folder = root / f"{relative}-{suffix}"
    for path in paths:
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / path, target, follow_symlinks=False)
    return folder.relative_to(root).as_posix()


def read_frozen_assets(name: str, content: dict[str, Any]) -> dict[str, bytes]:
    """Return the static files of a version's content by project path, as the bytes to write.

    Raises ForgedVersionError for a `[static_base64]` value that is not base64.
    """
    assets = {path: text.encode("utf-8") for path, text in content.get(STATIC_TEXT_KEY, {}).items()}
    for path, text in content.get(STATIC_BINARY_KEY, {}).items():
        try:
            assets[path] = decode_base64(text)
        except ValueError as err:
            raise ForgedVersionError(
                f'version "{name}" holds {path} as {err}: it was made or edited by hand; nothing was restored'
            ) from None
    return assets


def _read_current_bytes(root: Path, relative: str) -> bytes | None:
    """Return the bytes develop holds at `relative`, None when there is nothing there."""
    target = check_write_target(root, relative)
    try:
        return read_project_bytes(root, target)
    except FileNotFoundError:
        return None


def _read_current(root: Path, relative: str) -> str | None:
    """Return the text develop holds at `relative`, None when there is nothing there (or not text)."""
    target = check_write_target(root, relative)
    try:
        return read_project_text(root, target)
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return "\0"  # binary: differs from any text a version holds, so it is backed up first


def _owned_develop_files(root: Path) -> list[str]:
    """Return develop's files a version could own (the walk never follows a symlinked folder)."""
    found = []
    for folder in OWNED_SUFFIXES:
        for directory, folders, files in os.walk(root / folder):
            folders[:] = [f for f in folders if not f.startswith(".")]
            for file in files:
                relative = (Path(directory) / file).relative_to(root).as_posix()
                if can_own(relative):
                    found.append(relative)
    return found


def _listed(paths: list[str]) -> str:
    shown = ", ".join(paths[:LISTED])
    return shown if len(paths) <= LISTED else f"{shown} (and {len(paths) - LISTED} more)"


def _default_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
