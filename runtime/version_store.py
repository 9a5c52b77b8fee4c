"""Freezing develop into versions, and what acts on them: list, verify, promote, restore.

Writes are atomic: a version is written to a temporary file beside its final name and then claimed
with `os.link`, which fails if the name exists, so concurrent snapshots of one name leave exactly one
complete file and never a half-written one; `epctl.toml` is rewritten through a rename.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli
import tomli_w
import tomlkit
from pydantic import BaseModel

from epctl.schemas.loader import CONFIG_FILE, VERSIONS_FOLDER, list_table_files, load_project
from epctl.schemas.models import TABLES_BY_FOLDER, ApiKey, Auth, Settings
from epctl.schemas.problems import EpctlError, ProjectError
from epctl.schemas.project import DEVELOP, Project
from epctl.schemas.version_file import (
    CONTENT_KEYS,
    FORMAT,
    HEADER_KEYS,
    VersionError,
    check_version_name,
    compute_digest,
    load_version,
    read_version_document,
    verify_document,
    version_path,
)


class VersionExistsError(VersionError):
    """A snapshot under a name that is taken: versions are never overwritten."""


class RestoreConflictError(EpctlError):
    """`restore` would overwrite or remove develop files that differ from the version."""


@dataclass(frozen=True, slots=True)
class VersionInfo:
    name: str
    created: str
    description: str
    digest: str
    endpoints: int
    verified: bool
    problem: str = ""


def dump_project(project: Project) -> dict[str, Any]:
    """Return the frozen content of a project: tables with project-relative paths, and sources."""

    def dump(table: BaseModel) -> dict[str, Any]:
        # Keys left at their defaults are left out, as people write them: a version of 10,000
        # endpoints stays half the size, and reads back to the very same models.
        return table.model_dump(mode="python", exclude_defaults=True)

    return {
        "project": {"name": project.name},
        # Settings and auth are written out in full: the version says exactly what it serves with.
        "settings": project.settings.model_dump(mode="python", exclude_none=True),
        "auth": project.auth.model_dump(mode="python", exclude_none=True),
        "api_key": [dump(k) for k in project.api_keys],
        "endpoint": [dump(e) for e in project.endpoints],
        "page": [dump(p) for p in project.pages.values()],
        "layout": [dump(p) for p in project.layouts.values()],
        "component": [dump(p) for p in project.components.values()],
        "workflow": [dump(w) for w in project.workflows.values()],
        "case": [dump(c) for c in project.cases.values()],
        "files": _normalize_newlines(project.files),
        "table_files": _normalize_newlines(project.table_files),
    }


def _normalize_newlines(files: Mapping[str, str]) -> dict[str, str]:
    """Return the files sorted by path with CRLF as LF: TOML reads CRLF inside a multi-line string
    back as LF, so this is what a version holds whatever the writer does, and what its digest covers."""
    return {path: text.replace("\r\n", "\n") for path, text in sorted(files.items())}


# What a TOML multi-line literal string can hold as is: no three single quotes inside, no trailing
# single quote (it would merge with the closing delimiter), no control characters but tab and newline.
_LITERAL_UNSAFE = re.compile(r"'''|'\Z|[\x00-\x08\x0b-\x1f\x7f]")
LITERAL_QUOTES = "'''"


def format_sources(table: str, files: dict[str, str]) -> str:
    """Return the TOML table `[table]` mapping each path to its source text.

    Sources go in multi-line literal strings whenever they can: a handler's backslashes and quotes
    read in the version file (and in its git diff) exactly as in the source, with no escapes. It is
    also faster than tomli-w's character-by-character escaping, which dominated snapshots of large
    projects. A text a literal string cannot hold falls back to tomli-w's escaped form; the caller
    reads the whole file back and checks its digest before anything is written.
    """
    parts = [f"\n[{table}]\n"]
    for path, text in files.items():
        if _LITERAL_UNSAFE.search(text):
            parts.append(tomli_w.dumps({path: text}, multiline_strings=True))
        else:
            key = tomli_w.dumps({path: ""}).partition(" = ")[0]
            # The newline after the opening quotes is not part of the string (TOML trims it).
            parts.append(f"{key} = {LITERAL_QUOTES}\n{text}{LITERAL_QUOTES}\n")
    return "".join(parts)


def render_version(project: Project, name: str, description: str, created: datetime) -> tuple[str, str]:
    """Return the text of version file `name` for `project` and its digest."""
    header = {
        "format": FORMAT,
        "name": name,
        "description": description,
        "created": created.isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    content = dump_project(project)
    digest = compute_digest({**header, **content})
    tables = {key: value for key, value in content.items() if key not in CONTENT_KEYS}
    text = tomli_w.dumps({**header, "digest": digest, **tables}, multiline_strings=True)
    text += "".join(format_sources(key, content[key]) for key in CONTENT_KEYS)
    # Read the text back before anything is written: a version that would not verify is never made.
    verify_document(f"{VERSIONS_FOLDER}/{name}.toml", tomli.loads(text))
    return text, digest


def freeze_version(root: Path, name: str, description: str = "") -> VersionInfo:
    """Validate develop and freeze it into `versions/NAME.toml`; return what was frozen.

    Raises VersionError for a bad or taken name, ProjectError when develop has errors. Nothing is
    written unless the whole version is.
    """
    path = version_path(root, name)
    if path.exists():
        raise VersionExistsError(
            f'version "{name}" already exists ({VERSIONS_FOLDER}/{name}.toml); versions '
            "are never overwritten: choose a new name"
        )
    project = load_project(root)
    created = datetime.now(UTC)
    text, digest = render_version(project, name, description, created)
    write_exclusive(
        path,
        text,
        taken=lambda: VersionExistsError(
            f'version "{name}" was just created by another snapshot; versions are never overwritten'
        ),
    )
    return VersionInfo(
        name,
        created.isoformat(timespec="seconds"),
        description,
        digest,
        len(project.endpoints),
        verified=True,
    )


def write_exclusive(path: Path, text: str, *, taken: Callable[[], Exception]) -> None:
    """Write `text` to `path` only if `path` does not exist, atomically; raise `taken()` if it does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_beside(path, text) as temporary:
        try:
            os.link(temporary, path)  # atomic, and fails if the name is taken: an exclusive claim
        except FileExistsError:
            raise taken() from None


def write_replace(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically: readers see the old file or the new, never a mix."""
    with _temporary_beside(path, text) as temporary:
        os.replace(temporary, path)


@contextlib.contextmanager
def _temporary_beside(path: Path, text: str) -> Iterator[Path]:
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain write would have.
        os.chmod(descriptor, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_current_umask())
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        yield temporary
    finally:
        temporary.unlink(missing_ok=True)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def list_version_names(root: Path) -> list[str]:
    folder = root / VERSIONS_FOLDER
    return sorted(p.stem for p in folder.glob("*.toml") if not p.name.startswith("."))


def describe_versions(root: Path) -> list[VersionInfo]:
    """Return every version with its header and whether its digest verifies, oldest first."""
    infos = []
    for name in list_version_names(root):
        path = version_path(root, name)
        try:
            document = tomli.loads(path.read_text(encoding="utf-8"))
        except (tomli.TOMLDecodeError, UnicodeDecodeError) as err:
            infos.append(VersionInfo(name, "", "", "", 0, False, f"not readable TOML: {err}"))
            continue
        problem = ""
        try:
            verify_document(f"{VERSIONS_FOLDER}/{name}.toml", document)  # parsed once, checked here
        except VersionError as err:
            problem = str(err)
        infos.append(
            VersionInfo(
                name=name,
                created=str(document.get("created", "")),
                description=str(document.get("description", "")),
                digest=str(document.get("digest", "")),
                endpoints=len(document.get("endpoint", [])),
                verified=not problem,
                problem=problem,
            )
        )
    return sorted(infos, key=lambda info: (info.created, info.name))


def read_content(root: Path, name: str) -> dict[str, Any]:
    """Return the frozen content of version `name`, or develop's content as a snapshot would freeze it.

    Raises VersionError, or ProjectError when develop has errors.
    """
    if name == DEVELOP:
        return dump_project(load_project(root))
    document = read_version_document(root, name)
    return {key: value for key, value in document.items() if key not in HEADER_KEYS}


def promote_version(root: Path, version: str, env: str, *, test: bool = True) -> str | None:
    """Point environment `env` at `version` in epctl.toml, keeping its comments and layout.

    Returns the version it pointed at before (None for a new environment). Raises VersionError when
    the version does not exist or does not verify; with `test`, first runs the version's request
    cases and raises CasesFailedError when one fails (ProjectError when the version cannot be built).
    """
    check_version_name(version)
    read_version_document(root, version)  # refuses unknown and tampered versions
    if test:
        # Imported here: running cases builds the version's app (werkzeug, Jinja, its handlers).
        from epctl.runtime.cases import check_cases

        check_cases(load_version(root, version))
    path = root / CONFIG_FILE
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    environments = document.setdefault("environments", tomlkit.table(is_super_table=True))
    previous = None
    if env in environments:
        previous = environments[env].get("version")
        environments[env]["version"] = version
    else:
        table = tomlkit.table()
        table["version"] = version
        environments[env] = table
    write_replace(path, tomlkit.dumps(document))
    return None if previous is None else str(previous)


@dataclass(frozen=True, slots=True)
class RestorePlan:
    content: dict[str, Any]  # the version's frozen content
    write: dict[str, str]  # project path -> text the version holds
    differing: list[str]  # develop files that exist with other content
    remove: list[str]  # develop TOML table files the version does not have


def plan_restore(root: Path, name: str) -> RestorePlan:
    """Return what restoring version `name` into develop would write, overwrite and remove."""
    content = read_content(root, name)
    write = {**content["files"], **content["table_files"]}
    differing = []
    for relative, text in sorted(write.items()):
        target = root / relative
        # A version file is data: even one whose digest checks out must not write outside the project.
        if not target.resolve().is_relative_to(root.resolve()):
            raise VersionError(
                f'version "{name}" holds a file outside the project ("{relative}"); nothing was restored'
            )
        if target.exists() and target.read_text(encoding="utf-8") != text:
            differing.append(relative)
    remove = []
    for folder in TABLES_BY_FOLDER:
        for path in list_table_files(root, folder):
            relative = path.relative_to(root).as_posix()
            if relative not in content["table_files"]:
                remove.append(relative)
    return RestorePlan(content, write, differing, remove)


def restore_version(root: Path, name: str, *, force: bool = False) -> tuple[RestorePlan, str | None]:
    """Copy version `name` back into develop (Losant's copy-to-develop).

    Without `force`, raises RestoreConflictError when develop files would be overwritten or removed.
    With it, develop is first saved as version `develop-backup-<time>` (or, when develop does not
    validate, its files are copied to `.epctl/backups/<time>/`). Returns the plan and the backup name.
    """
    check_version_name(name)
    plan = plan_restore(root, name)
    backup = None
    if plan.differing or plan.remove:
        if not force:
            listed = ", ".join([*plan.differing, *(f"{p} (removed)" for p in plan.remove)][:8])
            raise RestoreConflictError(
                f"restoring {name} would change develop files that differ from it: {listed}; "
                "rerun with --force to save develop as a backup version first"
            )
        backup = back_up_develop(root, [*plan.differing, *plan.remove])
    for relative, text in plan.write.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        write_replace(target, text)
    for relative in plan.remove:
        (root / relative).unlink()
    restore_config(root, plan.content)
    return plan, backup


def back_up_develop(root: Path, changed: list[str]) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"develop-backup-{stamp}"
    try:
        freeze_version(root, name, description="develop before `epctl restore --force`")
        return name
    except ProjectError:
        folder = root / ".epctl" / "backups" / stamp
        for relative in [*changed, CONFIG_FILE]:
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / relative, target)
        return folder.relative_to(root).as_posix()


def restore_config(root: Path, content: dict[str, Any]) -> None:
    """Write a version's settings, auth and API keys into epctl.toml; environments stay as they are."""
    path = root / CONFIG_FILE
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    current = document.unwrap()
    # Compare meanings, not text: a section that already says the same (defaults left out, comments
    # in) is left exactly as the user wrote it.
    for key, model in (("settings", Settings), ("auth", Auth)):
        if model.model_validate(current.get(key, {})) != model.model_validate(content[key]):
            document[key] = content[key]
    keys_now = [ApiKey.model_validate(k) for k in current.get("api_key", [])]
    if keys_now != [ApiKey.model_validate(k) for k in content["api_key"]]:
        if content["api_key"]:
            array = tomlkit.aot()
            for api_key in content["api_key"]:
                array.append(tomlkit.item(api_key))
            document["api_key"] = array
        elif "api_key" in document:
            del document["api_key"]
    write_replace(path, tomlkit.dumps(document))
