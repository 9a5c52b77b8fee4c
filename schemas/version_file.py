"""The frozen version file: its format, its digest, and reading it back into a `Project`.

A version is one self-contained TOML file, `versions/NAME.toml`. It holds the tables of develop as
they were (paths made project-relative), the text of every template and handler they use under
`[files]`, the text of develop's TOML table files and of epctl.toml (without its local sections)
under `[table_files]` (so `restore` gives back the files as written), the files of `static/` under
`[static]` (text) and `[static_base64]` (anything else), a sha256 digest of its
canonical content and, when frozen with `--sign`, an Ed25519 signature of that digest. Everything a
server needs is in the file: editing or deleting develop changes nothing, and a hand edit breaks
the digest (and, where epctl.toml trusts signers, the signature, which only a key holder can remake).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from epctl.schemas.handler_files import is_module_file
from epctl.schemas.loader import (
    CONFIG_FILE,
    CONFIG_SECTIONS,
    LOCAL_SECTIONS,
    VERSIONS_FOLDER,
    Document,
    ProjectReader,
    describe,
    load_project,
    load_trusted_keys,
    read_source,
)
from epctl.schemas.models import (
    MAX_NAME_LENGTH,
    TABLES_BY_FOLDER,
    VERSION_NAME_PATTERN,
    VERSION_NAME_RULE,
    TrustedKey,
)
from epctl.schemas.problems import Code, EpctlError, Problem, ProjectError, UsageError, raise_on_errors
from epctl.schemas.project import DEVELOP, Project
from epctl.schemas.project_files import VERSION_LIMIT, read_project_text
from epctl.schemas.signing import SIGNATURE_KEY, SignatureStatus, check_signature
from epctl.schemas.static_files import (
    ASSET_SUFFIXES,
    STATIC_BINARY_KEY,
    STATIC_FOLDER,
    STATIC_TEXT_KEY,
    Asset,
    decode_base64,
    make_asset,
)

FORMAT = 1
NAME_PATTERN = re.compile(VERSION_NAME_PATTERN)
# The keys of a version file, in the order they are written. The header describes the version; the
# config and tables are develop's, frozen; the contents are the sources they use.
HEADER_KEYS = ("format", "name", "description", "created", "digest", SIGNATURE_KEY)
# Keys the digest does not cover: itself, and the signature made over it.
UNDIGESTED_KEYS = ("digest", SIGNATURE_KEY)
CONFIG_KEYS = tuple(key for key in CONFIG_SECTIONS if key not in LOCAL_SECTIONS)
VERSION_TABLES = {kind: model for tables in TABLES_BY_FOLDER.values() for kind, model in tables.items()}
# `[static]` and `[static_base64]` are written only when develop has static files, so a version
# without any holds exactly what it held before static files existed.
CONTENT_KEYS = ("files", "table_files", STATIC_TEXT_KEY, STATIC_BINARY_KEY)
VERSION_KEYS = (*HEADER_KEYS, *CONFIG_KEYS, *VERSION_TABLES, *CONTENT_KEYS)


# The files a version can own, by folder and suffix: `restore` writes nothing else, so a version file
# made by hand cannot plant `conftest.py`, `.github/workflows/...`, `.git/hooks/...` or `.ci/run`.
# Each folder takes only what epctl reads from it; Python only where handlers live.
TEMPLATE_SUFFIXES = frozenset(
    {".html", ".htm", ".xml", ".svg", ".json", ".txt", ".md", ".css", ".js", ".csv"}
)
OWNED_SUFFIXES: dict[str, frozenset[str]] = {
    # JSON Schemas of request_schema / response_schema live beside the endpoints that name them.
    "endpoints": frozenset({".toml", ".json"}),
    "pages": frozenset({".toml"}) | TEMPLATE_SUFFIXES,
    "workflows": frozenset({".toml", ".py"}),
    STATIC_FOLDER: ASSET_SUFFIXES,
    "tests": frozenset({".toml", ".json", ".txt", ".xml", ".html"}),
}


def can_own(path: str) -> bool:
    """Return whether a version may hold, and `restore` write, the project file `path`.

    `epctl.toml`, or a file under one of OWNED_SUFFIXES' folders with a suffix listed for it, by a
    plain relative path: no `..`, no empty or hidden parts, no backslashes.
    """
    if path == CONFIG_FILE:
        return True
    parts = path.split("/")
    if (
        len(parts) < 2
        or "\\" in path
        or any(part in ("", ".", "..") or part.startswith(".") for part in parts)
    ):
        return False
    suffixes = OWNED_SUFFIXES.get(parts[0])
    return suffixes is not None and PurePosixPath(parts[-1]).suffix.lower() in suffixes


class VersionError(EpctlError):
    """A version that cannot be found, named, or trusted."""


class VersionNotFoundError(VersionError, UsageError):
    """No version of that name in versions/."""


class VersionNameError(VersionError, UsageError):
    """A name no version can have (develop, a leading dot, too long, other characters)."""


class UntrustedVersionError(VersionError):
    """A version that is not signed by a key epctl.toml trusts, where it lists any."""


class VersionIntegrityError(VersionError):
    """A version file whose digest does not match its content: edited by hand or damaged."""


def check_version_name(name: str) -> None:
    """Raise VersionError unless `name` can name a frozen version."""
    if name == DEVELOP:
        raise VersionNameError('"develop" is the live, editable version; choose another name (e.g. v1.0.0)')
    if len(name) > MAX_NAME_LENGTH:
        raise VersionNameError(
            f'"{name[:24]}…" is not a valid version name: it has {len(name)} characters, and a version '
            f"name has at most {MAX_NAME_LENGTH}"
        )
    if not NAME_PATTERN.fullmatch(name):
        raise VersionNameError(f'"{name}" is not a valid version name: use {VERSION_NAME_RULE}')


def version_path(root: Path, name: str) -> Path:
    check_version_name(name)
    return root / VERSIONS_FOLDER / f"{name}.toml"


def compute_digest(document: dict[str, Any]) -> str:
    """Return `sha256:<hex>` of the canonical JSON of everything in `document` but the digest itself
    and the signature over it.

    JSON with sorted keys is canonical for what TOML can hold (strings, numbers, booleans, arrays,
    tables), so the same content always hashes the same however the file was formatted.
    """
    content = {key: value for key, value in document.items() if key not in UNDIGESTED_KEYS}
    # default=str: TOML dates and times (allowed in `globals`) hash as their ISO text.
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def read_version_text(root: Path, name: str) -> tuple[Path, str]:
    """Return the path and text of version `name`; raise VersionNotFoundError when there is none."""
    path = version_path(root, name)
    try:
        return path, read_project_text(root, path, VERSION_LIMIT)
    except FileNotFoundError:
        raise VersionNotFoundError(
            f'no version "{name}" (looked for {VERSIONS_FOLDER}/{name}.toml); `epctl versions` lists them'
        ) from None
    except UnicodeDecodeError as err:
        raise VersionError(
            f"{VERSIONS_FOLDER}/{name}.toml is not UTF-8 text ({err.reason} at byte {err.start}): it was "
            "damaged after `epctl snapshot`; restore it from git"
        ) from None
    except OSError as err:
        raise VersionError(f"cannot read {VERSIONS_FOLDER}/{name}.toml: {err.strerror}") from None


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


def check_trusted(name: str, document: dict[str, Any], trusted: Sequence[TrustedKey]) -> SignatureStatus:
    """Return the signature status of a verified version document when one of `trusted` signed it,
    or when `trusted` is empty and the document has no bad signature.

    Raises UntrustedVersionError for a bad signature, and when `trusted` lists keys and none of them
    signed the version.
    """
    status = check_signature(document, trusted)
    if status.ok or (not trusted and status.state != "bad"):
        return status  # a bad signature is a sign of tampering, trusted keys listed or not
    if status.state == "unsigned":
        reason = (
            f"it is unsigned, and {CONFIG_FILE} lists trusted keys ([[trusted_key]]), so only versions "
            "signed by one of them are served, promoted or restored; freeze one with "
            "`epctl snapshot NAME --sign KEY`"
        )
    elif status.state == "bad":
        reason = f"{status.detail}: it was changed after it was signed; restore it from git"
    else:
        reason = f"it is {status.detail} of {CONFIG_FILE}; add that signer's public key if you trust it"
    raise UntrustedVersionError(f'version "{name}" is refused: {reason}')


def read_trusted_document(root: Path, name: str) -> dict[str, Any]:
    """Return the verified document of version `name`, refused unless a trusted key signed it where
    epctl.toml lists any: what promote and restore act on. Raises UntrustedVersionError, and what
    `read_version_document` and `load_trusted_keys` raise."""
    document = read_version_document(root, name)
    check_trusted(name, document, load_trusted_keys(root))
    return document


class VersionSource:
    """A frozen version: one document holding the config, every table and every source it uses."""

    def __init__(self, name: str, path: Path, text: str, trusted: Sequence[TrustedKey] | None = None) -> None:
        self.name = name
        self.path = path
        self.text = text
        # None: signatures are not checked (validate); keys or none: as `check_trusted` says
        self.trusted = trusted

    def documents(self, reader: ProjectReader) -> Iterator[Document]:
        """Yield the version's one document, or nothing when it is not TOML (the reader has the
        problem). Raises VersionIntegrityError on a digest mismatch, VersionError for a format this
        epctl cannot read or a file holding another version than its name says."""
        file = self.path.relative_to(reader.root).as_posix()
        document = reader.parse_text(file, self.text)
        if document is None:
            return
        verify_document(file, document)
        if self.trusted is not None and (self.trusted or SIGNATURE_KEY in document):
            check_trusted(self.name, document, self.trusted)
        if document.get("format") != FORMAT:
            raise VersionError(
                f"{file} has format {document.get('format')!r}; this epctl reads format {FORMAT}"
            )
        if document.get("name") != self.name:
            raise VersionError(
                f"{file} holds version {document.get('name')!r}, not {self.name!r}: a version file keeps "
                "the name it was frozen under; restore it from git"
            )
        files = read_sources(reader, file, document, "files")
        draft = reader.draft
        draft.version = self.name
        draft.version_file = self.path
        draft.table_files.update(read_sources(reader, file, document, "table_files"))
        # Every Python file of the workflows folder, handler or not: handlers import each other.
        draft.files.update((path, text) for path, text in files.items() if is_module_file(path))
        draft.static.update(read_assets(reader, file, document))

        def resolve(relative: str, where: str, key: str, id: str) -> str | None:
            if relative in files:
                draft.files[relative] = files[relative]
                return relative
            reader.add(Code.MISSING_FILE, f'"{relative}" is not in the version\'s [files]', where, key, id)
            return None

        yield Document(file, document, VERSION_KEYS, VERSION_TABLES, resolve, config=True)


def read_sources(reader: ProjectReader, file: str, document: dict[str, Any], key: str) -> dict[str, str]:
    """Return the `[files]` or `[table_files]` table of a version document: path -> text.

    A table of another shape (a hand-made version) is reported to `reader`, never a traceback.
    """
    table = document.get(key, {})
    if not isinstance(table, dict):
        reader.add(
            Code.INVALID_TYPE,
            f'"{key}" must be a table of "path" = """text""", not {describe(table)}',
            file,
            key,
        )
        return {}
    sources = {}
    for path, text in table.items():
        if isinstance(text, str):
            sources[path] = text
        else:
            reader.add(
                Code.INVALID_TYPE,
                f'{key} "{path}" must be a string (the file\'s text), not {describe(text)}',
                file,
                f"{key}.{path}",
            )
    return sources


def read_assets(reader: ProjectReader, file: str, document: dict[str, Any]) -> dict[str, Asset]:
    """Return the static files of a version document, by project path, dated by its creation time.

    A path outside static/ or a `[static_base64]` value that is not base64 (a hand-made version) is
    reported to `reader` and left out.
    """
    modified = created_time(document)
    contents: dict[str, bytes] = {
        path: text.encode("utf-8")
        for path, text in read_sources(reader, file, document, STATIC_TEXT_KEY).items()
    }
    for path, text in read_sources(reader, file, document, STATIC_BINARY_KEY).items():
        try:
            contents[path] = decode_base64(text)
        except ValueError as err:
            reader.add(
                Code.INVALID_VALUE,
                f'{STATIC_BINARY_KEY} "{path}" is {err}',
                file,
                f"{STATIC_BINARY_KEY}.{path}",
            )
    assets = {}
    for path, data in contents.items():
        if path.startswith(STATIC_FOLDER + "/") and can_own(path):
            assets[path] = make_asset(data, modified)
        else:
            reader.add(
                Code.INVALID_VALUE,
                f'"{path}" is not a file of {STATIC_FOLDER}/ that a version can hold; the version was made '
                "by hand",
                file,
            )
    return assets


def created_time(document: dict[str, Any]) -> float | None:
    """Return the `created` time of a version document in seconds since the epoch, None when unreadable."""
    created = document.get("created")
    try:
        return datetime.fromisoformat(str(created)).timestamp()
    except ValueError:
        return None


def read_version(root: Path, name: str) -> tuple[Project, list[Problem]]:
    """Return the project frozen as version `name` and the problems its content has (normally none).

    Raises the errors of `read_version_document`.
    """
    path, text = read_version_text(root, name)
    project, problems = read_source(ProjectReader(root), VersionSource(name, path, text))
    return project, problems


def load_version(root: Path, name: str) -> Project:
    """Return version `name` of the project in `root` ("develop" loads the project folder).

    Raises VersionError subclasses (UntrustedVersionError for a version no trusted key signed, where
    epctl.toml lists any), or ProjectError when its content or epctl.toml's [[trusted_key]] has errors.
    """
    if name == DEVELOP:
        return load_project(root)
    path, text = read_version_text(root, name)
    trusted = load_trusted_keys(root)
    project, problems = read_source(ProjectReader(root), VersionSource(name, path, text, trusted))
    raise_on_errors(problems)
    return project
