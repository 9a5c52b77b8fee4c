"""Freezing develop into versions, and what acts on them: list, verify, promote, restore.

Writes are atomic: a version is written to a temporary file beside its final name and then claimed
with `os.link`, which fails if the name exists, so concurrent snapshots of one name leave exactly one
complete file and never a half-written one; `epctl.toml` is rewritten through a rename.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli
import tomli_w
import tomlkit
from pydantic import BaseModel

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from epctl.runtime.config_text import ConfigTextError, parse_config, strip_local_sections
from epctl.runtime.project_writes import (
    check_write_target,
    project_lock,
    remove_stale_temporaries,
    rewrite,
    write_exclusive,
)
from epctl.schemas.loader import (
    CONFIG_FILE,
    ENVIRONMENT_NAME,
    VERSIONS_FOLDER,
    load_project,
    load_trusted_keys,
)
from epctl.schemas.models import NAME_RULE
from epctl.schemas.problems import EpctlError, UsageError
from epctl.schemas.project import DEVELOP, Project
from epctl.schemas.project_files import VERSION_LIMIT, read_project_text
from epctl.schemas.signing import SIGNATURE_KEY, check_signature, load_private_key, sign_digest
from epctl.schemas.static_files import STATIC_BINARY_KEY, STATIC_TEXT_KEY, freeze_assets
from epctl.schemas.version_file import (
    CONTENT_KEYS,
    FORMAT,
    HEADER_KEYS,
    VersionError,
    check_trusted,
    check_version_name,
    compute_digest,
    read_trusted_document,
    read_version_document,
    read_version_text,
    verify_document,
    version_path,
)


class VersionExistsError(VersionError):
    """A snapshot under a name that is taken: versions are never overwritten."""


class VersionTooLargeError(VersionError):
    """A snapshot whose file would be larger than any project file epctl reads back."""


class UnknownEnvironmentError(UsageError):
    """`promote --env NAME` naming an environment epctl.toml does not declare."""


class InvalidEnvironmentNameError(UsageError):
    """An environment name outside the name rule."""


@dataclass(frozen=True, slots=True)
class VersionInfo:
    name: str
    created: str
    description: str
    digest: str
    endpoints: int
    verified: bool  # the digest matches, and the signature is one this checkout accepts
    problem: str = ""
    signature: str = ""  # "unsigned", "signed by release", "bad signature: ...", ...


def dump_project(project: Project) -> dict[str, Any]:
    """Return the frozen content of a project: tables with project-relative paths, and sources."""

    def dump(table: BaseModel) -> dict[str, Any]:
        # Keys left at their defaults are left out, as people write them: a version of 10,000
        # endpoints stays half the size, and reads back to the very same models.
        return table.model_dump(mode="python", exclude_defaults=True)

    content: dict[str, Any] = {
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
        "table_files": _normalize_newlines({**project.table_files, **_config_text(project)}),
    }
    if project.static:
        # Byte for byte: never newline-normalised, since a changed byte changes the asset's hash.
        content[STATIC_TEXT_KEY], content[STATIC_BINARY_KEY] = freeze_assets(project.static)
    return content


def _config_text(project: Project) -> dict[str, str]:
    """Return {"epctl.toml": its text without local sections} for develop, so that `restore` gives
    the file back as written; nothing for a frozen version (its table files already hold it)."""
    config = project.declarations.texts.get(CONFIG_FILE)
    if project.version != DEVELOP or config is None:
        return {}
    return {CONFIG_FILE: strip_local_sections(config.text)}


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


def render_version(
    project: Project, name: str, description: str, created: datetime, key: Ed25519PrivateKey | None = None
) -> tuple[str, str]:
    """Return the text of version file `name` for `project` and its digest, signed with `key` if given."""
    header = {
        "format": FORMAT,
        "name": name,
        "description": description,
        "created": created.isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    content = dump_project(project)
    digest = compute_digest({**header, **content})
    tables = {key: value for key, value in content.items() if key not in CONTENT_KEYS}
    signature = {SIGNATURE_KEY: sign_digest(key, digest)} if key is not None else {}
    text = tomli_w.dumps({**header, "digest": digest, **signature, **tables}, multiline_strings=True)
    text += "".join(format_sources(key, content[key]) for key in CONTENT_KEYS if key in content)
    size = len(text.encode("utf-8"))
    if size > VERSION_LIMIT.bytes:
        raise VersionTooLargeError(
            f"version {name} would be {size:,} bytes, and a version file may hold at most "
            f"{VERSION_LIMIT.text}; move large files out of static/ (a CDN serves them better)"
        )
    # Read the text back before anything is written: a version that would not verify is never made.
    verify_document(f"{VERSIONS_FOLDER}/{name}.toml", tomli.loads(text))
    return text, digest


def freeze_version(root: Path, name: str, description: str = "", *, sign: Path | None = None) -> VersionInfo:
    """Validate develop and freeze it into `versions/NAME.toml`; return what was frozen.

    With `sign`, the digest is signed with the Ed25519 private key in that PEM file. Raises
    VersionError for a bad or taken name, ProjectError when develop has errors, SigningKeyError for a
    key that cannot sign. Nothing is written unless the whole version is.
    """
    relative = version_path(root, name).relative_to(root).as_posix()
    path = check_write_target(root, relative)
    if path.exists():
        raise VersionExistsError(
            f'version "{name}" already exists ({relative}); versions are never overwritten: choose a new name'
        )
    key = load_private_key(sign, root) if sign is not None else None
    project = load_project(root)
    created = datetime.now(UTC)
    text, digest = render_version(project, name, description, created, key)
    with project_lock(root):
        path = check_write_target(root, relative)  # versions/ may have been made just now
        path.parent.mkdir(exist_ok=True)
        remove_stale_temporaries(path.parent)
        write_exclusive(
            path,
            text,
            taken=lambda: VersionExistsError(
                f'version "{name}" was just created by another snapshot; versions are never overwritten'
            ),
        )
    signature = "unsigned"
    if key is not None:
        signature = check_signature(tomli.loads(text), load_trusted_keys(root)).detail
    return VersionInfo(
        name,
        created.isoformat(timespec="seconds"),
        description,
        digest,
        len(project.endpoints),
        verified=True,
        signature=signature,
    )


def list_version_names(root: Path) -> list[str]:
    folder = root / VERSIONS_FOLDER
    return sorted(p.stem for p in folder.glob("*.toml") if not p.name.startswith("."))


def describe_versions(root: Path) -> list[VersionInfo]:
    """Return every version with its header and whether it verifies, oldest first: its digest, and
    its signature (where epctl.toml lists trusted keys, an unsigned version does not verify).

    Raises ProjectError when epctl.toml cannot say which keys it trusts.
    """
    trusted = load_trusted_keys(root)
    infos = []
    for name in list_version_names(root):
        try:
            document = tomli.loads(read_version_text(root, name)[1])
        except (tomli.TOMLDecodeError, EpctlError, RecursionError) as err:
            reason = "nested too deeply" if isinstance(err, RecursionError) else str(err)
            infos.append(VersionInfo(name, "", "", "", 0, False, f"not readable TOML: {reason}"))
            continue
        problem = ""
        signature = ""
        try:
            verify_document(f"{VERSIONS_FOLDER}/{name}.toml", document)  # parsed once, checked here
            signature = check_trusted(name, document, trusted).detail
        except VersionError as err:
            problem = str(err)
        endpoints = document.get("endpoint")
        infos.append(
            VersionInfo(
                name=name,
                created=str(document.get("created", "")),
                description=str(document.get("description", "")),
                digest=str(document.get("digest", "")),
                endpoints=len(endpoints) if isinstance(endpoints, list) else 0,
                verified=not problem,
                problem=problem,
                signature=signature,
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


def check_environment_name(name: str) -> None:
    """Raise InvalidEnvironmentNameError unless `name` can name an environment."""
    if not ENVIRONMENT_NAME.fullmatch(name):
        raise InvalidEnvironmentNameError(f"{name!r} is not a valid environment name: use {NAME_RULE}")


def promote_version(
    root: Path, version: str, env: str, *, create: bool = False, test: bool = True
) -> str | None:
    """Point environment `env` at `version` in epctl.toml, keeping its comments and layout.

    Returns the version it pointed at before (None for a new environment). Raises VersionError when
    the version does not exist, does not verify, or is not signed by a key epctl.toml trusts;
    UnknownEnvironmentError for an environment epctl.toml does not declare unless `create`; and the
    errors of `rewrite` and `project_lock`. With `test`, first runs the version's request cases and
    raises CasesFailedError when one fails (ProjectError when the version cannot be built).
    The file is rewritten under the project lock and re-read just before its rename, so an edit
    saved meanwhile is kept.
    """
    check_version_name(version)
    check_environment_name(env)
    read_trusted_document(root, version)  # refuses unknown, tampered and (under trust) unsigned ones
    if test:
        # Imported here: running cases builds the version's app (werkzeug, Jinja, its handlers).
        from epctl.runtime.app import load_served_version
        from epctl.runtime.cases import check_cases

        check_cases(load_served_version(root, version))  # as it will be served: with [users]
    path = check_write_target(root, CONFIG_FILE)
    previous: list[str | None] = []

    def point(text: str) -> str:
        document = parse_config(text)
        environments = document.setdefault("environments", tomlkit.table(is_super_table=True))
        if not isinstance(environments, dict) or not isinstance(environments.get(env, {}), dict):
            raise ConfigTextError(
                f"{CONFIG_FILE}: [environments.{env}] is not a table; `epctl validate` shows what to fix"
            )
        previous.clear()
        if env in environments:
            pointer = environments[env].get("version")
            previous.append(None if pointer is None else str(pointer))
            environments[env]["version"] = version
        elif not create:
            known = ", ".join(sorted(environments)) or "none yet"
            raise UnknownEnvironmentError(
                f'no environment "{env}" in {CONFIG_FILE} (known: {known}); check the name, or pass '
                "--create to add it"
            )
        else:
            previous.append(None)
            table = tomlkit.table()
            table["version"] = version
            environments[env] = table
        return tomlkit.dumps(document)

    with project_lock(root):
        rewrite(path, lambda: read_project_text(root, path), point)
    return previous[0]
