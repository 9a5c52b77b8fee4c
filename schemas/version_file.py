"""The frozen version file: its format, its digest, and reading it back into a `Project`.

A version is one self-contained TOML file, `versions/NAME.toml`. It holds the tables of develop as
they were (paths made project-relative), the text of every template and handler they use under
`[files]`, the text of develop's TOML table files under `[table_files]` (so `restore` gives back the
files as written), and a sha256 digest of its canonical content. Everything a server needs is in the
file: editing or deleting develop changes nothing, and a hand edit breaks the digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from epctl.schemas.handler_files import is_module_file
from epctl.schemas.loader import (
    CONFIG_SECTIONS,
    VERSIONS_FOLDER,
    Document,
    ProjectReader,
    load_project,
    read_source,
)
from epctl.schemas.models import (
    MAX_NAME_LENGTH,
    TABLES_BY_FOLDER,
    VERSION_NAME_PATTERN,
    VERSION_NAME_RULE,
)
from epctl.schemas.problems import Code, EpctlError, Problem, ProjectError, raise_on_errors
from epctl.schemas.project import DEVELOP, Project

FORMAT = 1
NAME_PATTERN = re.compile(VERSION_NAME_PATTERN)
# The keys of a version file, in the order they are written. The header describes the version; the
# config and tables are develop's, frozen; the contents are the sources they use.
HEADER_KEYS = ("format", "name", "description", "created", "digest")
# Environments and users belong to the project folder, never to a version.
CONFIG_KEYS = tuple(key for key in CONFIG_SECTIONS if key not in ("environments", "users"))
VERSION_TABLES = {kind: model for tables in TABLES_BY_FOLDER.values() for kind, model in tables.items()}
CONTENT_KEYS = ("files", "table_files")
VERSION_KEYS = (*HEADER_KEYS, *CONFIG_KEYS, *VERSION_TABLES, *CONTENT_KEYS)


class VersionError(EpctlError):
    """A version that cannot be found, named, or trusted."""


class VersionNotFoundError(VersionError):
    pass


class VersionIntegrityError(VersionError):
    """A version file whose digest does not match its content: edited by hand or damaged."""


def check_version_name(name: str) -> None:
    """Raise VersionError unless `name` can name a frozen version."""
    if name == DEVELOP:
        raise VersionError('"develop" is the live, editable version; choose another name (e.g. v1.0.0)')
    if len(name) > MAX_NAME_LENGTH:
        raise VersionError(
            f'"{name[:24]}…" is not a valid version name: it has {len(name)} characters, and a version '
            f"name has at most {MAX_NAME_LENGTH}"
        )
    if not NAME_PATTERN.fullmatch(name):
        raise VersionError(f'"{name}" is not a valid version name: use {VERSION_NAME_RULE}')


def version_path(root: Path, name: str) -> Path:
    check_version_name(name)
    return root / VERSIONS_FOLDER / f"{name}.toml"


def compute_digest(document: dict[str, Any]) -> str:
    """Return `sha256:<hex>` of the canonical JSON of everything in `document` but the digest itself.

    JSON with sorted keys is canonical for what TOML can hold (strings, numbers, booleans, arrays,
    tables), so the same content always hashes the same however the file was formatted.
    """
    content = {key: value for key, value in document.items() if key != "digest"}
    # default=str: TOML dates and times (allowed in `globals`) hash as their ISO text.
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def read_version_text(root: Path, name: str) -> tuple[Path, str]:
    """Return the path and text of version `name`; raise VersionNotFoundError when there is none."""
    path = version_path(root, name)
    try:
        return path, path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VersionNotFoundError(
            f'no version "{name}" (looked for {VERSIONS_FOLDER}/{name}.toml); `epctl versions` lists them'
        ) from None


def parse_version(reader: ProjectReader, file: str, text: str) -> dict[str, Any]:
    """Return the verified document of a version file's text.

    Raises ProjectError for text that is not TOML, VersionIntegrityError for a digest mismatch.
    """
    document = reader.parse_text(file, text)
    if document is None:
        raise ProjectError(reader.problems)
    verify_document(file, document)
    return document


def read_version_document(root: Path, name: str) -> dict[str, Any]:
    """Return the verified document of version `name` (see `parse_version` for what it raises)."""
    path, text = read_version_text(root, name)
    return parse_version(ProjectReader(root), path.relative_to(root).as_posix(), text)


def verify_document(file: str, document: dict[str, Any]) -> None:
    """Raise VersionIntegrityError unless the document's digest matches its content."""
    recorded = document.get("digest")
    actual = compute_digest(document)
    if recorded != actual:
        raise VersionIntegrityError(
            f"{file} does not match its digest (recorded {recorded}, content hashes to {actual}): it was "
            "edited or damaged after `epctl snapshot`. Restore it from git, or snapshot develop under a "
            "new name"
        )


class VersionSource:
    """A frozen version: one document holding the config, every table and every source it uses."""

    def __init__(self, name: str, path: Path, text: str) -> None:
        self.name = name
        self.path = path
        self.text = text

    def documents(self, reader: ProjectReader) -> Iterator[Document]:
        """Yield the version's one document; raise ProjectError when it is not TOML,
        VersionIntegrityError on a digest mismatch, VersionError for a format this epctl cannot read."""
        file = self.path.relative_to(reader.root).as_posix()
        document = parse_version(reader, file, self.text)
        if document.get("format") != FORMAT:
            raise VersionError(
                f"{file} has format {document.get('format')!r}; this epctl reads format {FORMAT}"
            )
        files = document.get("files", {})
        draft = reader.draft
        draft.version = self.name
        draft.version_file = self.path
        draft.table_files.update(document.get("table_files", {}))
        # Every Python file of the workflows folder, handler or not: handlers import each other.
        draft.files.update(
            (path, text) for path, text in files.items() if is_module_file(path) and isinstance(text, str)
        )

        def resolve(relative: str, where: str, key: str, id: str) -> str | None:
            if relative in files:
                draft.files[relative] = files[relative]
                return relative
            reader.add(Code.MISSING_FILE, f'"{relative}" is not in the version\'s [files]', where, key, id)
            return None

        yield Document(file, document, VERSION_KEYS, VERSION_TABLES, resolve, config=True)


def read_version(root: Path, name: str) -> tuple[Project, list[Problem]]:
    """Return the project frozen as version `name` and the problems its content has (normally none).

    Raises the errors of `read_version_document`.
    """
    path, text = read_version_text(root, name)
    project, problems = read_source(ProjectReader(root), VersionSource(name, path, text))
    return project, problems


def load_version(root: Path, name: str) -> Project:
    """Return version `name` of the project in `root` ("develop" loads the project folder).

    Raises VersionError subclasses, or ProjectError when its content has errors.
    """
    if name == DEVELOP:
        return load_project(root)
    project, problems = read_version(root, name)
    raise_on_errors(problems)
    return project
