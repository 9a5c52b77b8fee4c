"""Read a project folder into a `Project`, collecting every problem in every file.

Nothing stops at the first error: each file is parsed, each table validated on its own, and every
reference checked, so one `epctl validate` run lists everything a user has to fix.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, get_args

import tomli
from pydantic import BaseModel, ValidationError

from epctl.schemas.checks import ANY_NAME, build_router, check_project
from epctl.schemas.handler_files import WORKFLOWS_FOLDER
from epctl.schemas.json_schemas import resolve_schema_files
from epctl.schemas.models import (
    NAME_PATTERN,
    NAME_RULE,
    TABLES_BY_FOLDER,
    VERSION_NAME_RULE,
    ApiKey,
    Auth,
    Case,
    Component,
    Endpoint,
    Environment,
    Layout,
    Lint,
    Page,
    ProjectInfo,
    Settings,
    Table,
    Templated,
    TrustedKey,
    Workflow,
)
from epctl.schemas.positions import KeyLines, find_failing_line
from epctl.schemas.problems import (
    Code,
    EpctlError,
    Place,
    Problem,
    ProjectError,
    Severity,
    WorkBudget,
    did_you_mean,
    raise_on_errors,
)
from epctl.schemas.project import Project, ProjectDraft
from epctl.schemas.project_files import VERSION_LIMIT, ProjectFileError, read_project_bytes, read_project_text
from epctl.schemas.static_files import ASSET_SUFFIXES, STATIC_FOLDER, asset_name, frozen_size, make_asset
from epctl.schemas.users_config import UsersConfig

CONFIG_FILE = "epctl.toml"
VERSIONS_FOLDER = "versions"
# Sections of epctl.toml that belong to this checkout, not to a version: where versions are served
# and which signers are trusted. Never frozen, never rolled back by a restore.
LOCAL_SECTIONS = ("environments", "trusted_key", "users")
CONFIG_SECTIONS: dict[str, type[Table]] = {
    "project": ProjectInfo,
    "settings": Settings,
    "auth": Auth,
    "api_key": ApiKey,
    "environments": Environment,
    "trusted_key": TrustedKey,
    "lint": Lint,
    "users": UsersConfig,
}
# pydantic's names for expected types, in the words of TOML.
TOML_TYPE_NAMES = {
    "a valid list": "an array",
    "a valid dictionary": "a table",
    "a valid string": "a string",
    "a valid boolean": "true or false",
    "a valid integer": "an integer",
    "a valid number": "a number",
}
# Keys people reach for that must never hold a secret; the hint says where the secret goes instead.
SECRET_HINTS = {
    "secret": "put the secret in an environment variable and name it with `secret_env`",
    "key": 'store only the key\'s sha256 (`sha256 = "..."`); `epctl` never reads keys from files',
}


# (path as written, file, key, id) -> project-relative path whose text is now in project.files
Resolve = Callable[[str, str, str, str], str | None]


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed TOML document of a source, and what the reader should take from it."""

    file: str  # project-relative, for problems
    data: dict[str, Any]
    sections: Collection[str]  # the top-level names this document may hold
    tables: Mapping[str, type[Table]]  # the arrays of tables to read from it
    resolve: Resolve | None = None  # turns template and handler paths into project files
    config: bool = False  # holds project, settings, auth and api keys
    environments: bool = False  # holds [environments] (develop's epctl.toml only)


class Source(Protocol):
    """Where a project's documents come from: the project folder, or one frozen version file."""

    def documents(self, reader: ProjectReader) -> Iterator[Document]:
        """Yield the documents to read; parse problems go to `reader`, which also owns the draft."""
        ...


ENVIRONMENT_NAME = re.compile(NAME_PATTERN)
# `id = "x"` or `name = "x"` at the start of a line: what a broken file probably declares.
_DECLARED_NAME = re.compile(r"""^[ \t]*(?:id|name)[ \t]*=[ \t]*["']([^"'\n]+)["']""", re.MULTILINE)


class ProjectNotFoundError(EpctlError):
    """No `epctl.toml` where a project was expected."""


def find_project_dir(start: Path) -> Path:
    """Return the nearest folder from `start` upward holding `epctl.toml`; raise ProjectNotFoundError."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise ProjectNotFoundError(
        f"no {CONFIG_FILE} in {start} or any folder above it; run `epctl init` or pass --project DIR"
    )


def project_root(project_dir: str | Path) -> Path:
    """Return the resolved project folder; raise ProjectNotFoundError when it has no `epctl.toml`."""
    root = Path(project_dir).resolve()
    if not (root / CONFIG_FILE).is_file():
        raise ProjectNotFoundError(f"{root} is not an epctl project: it has no {CONFIG_FILE}")
    return root


def list_table_files(root: Path, folder: str) -> list[Path]:
    """Return the TOML files develop reads from one of its folders, in the order they are read."""
    return sorted((root / folder).glob("**/*.toml"))


def load_project(project_dir: str | Path) -> Project:
    """Return develop of the project in `project_dir`.

    Raises ProjectError carrying every problem found when any of them is an error, and
    ProjectNotFoundError when the folder holds no `epctl.toml`.
    """
    project, problems = read_project(project_dir)
    raise_on_errors(problems)
    return project


def read_project(project_dir: str | Path) -> tuple[Project, list[Problem]]:
    """Return develop of the project and every problem found (errors and warnings), never raising
    for what is inside the files; raises ProjectNotFoundError when there is no `epctl.toml`."""
    root = project_root(project_dir)
    return read_source(ProjectReader(root), FolderSource(root))


def read_source(reader: ProjectReader, source: Source) -> tuple[Project, list[Problem]]:
    """Return the project `reader` reads from `source` with every problem found: each table on its
    own, then the router (invalid routes were refused with their table), then the checks across
    tables."""
    draft = reader.read(source)
    router, route_problems = build_router(draft.endpoints, draft.declarations, cors=draft.settings.cors)
    project = draft.freeze(router)
    return project, reader.problems + route_problems + check_project(project, reader.invalid_ids)


def read_environments(project_dir: str | Path) -> tuple[dict[str, Environment], list[Problem]]:
    """Return the environments of `epctl.toml` and that file's problems, reading nothing else.

    Serving an environment needs only its pointer: a broken develop must never stop production.
    """
    root = project_root(project_dir)
    reader = ProjectReader(root)
    config = reader.parse(root / CONFIG_FILE)
    if config is not None:
        reader.read_environments(config, CONFIG_FILE)
    return reader.draft.environments, reader.problems


def load_users_section(project_dir: str | Path) -> UsersConfig | None:
    """Return the `[users]` table of `epctl.toml` (None when users are off), reading nothing else:
    what a frozen version or an environment is served with. A folder holding only versions (no
    epctl.toml) has no users. Raises ProjectError for that file's errors.
    """
    root = Path(project_dir).resolve()
    if not (root / CONFIG_FILE).is_file():
        return None
    reader = ProjectReader(root)
    config = reader.parse(root / CONFIG_FILE)
    if config is not None:
        reader.read_users(config, CONFIG_FILE)
    raise_on_errors(reader.problems)
    return reader.draft.users


def load_environments(project_dir: str | Path) -> dict[str, Environment]:
    """Return the environments of `epctl.toml`; raise ProjectError with that file's errors."""
    environments, problems = read_environments(project_dir)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        raise ProjectError(errors)
    return environments


def read_trusted_keys(project_dir: str | Path) -> tuple[list[TrustedKey], list[Problem]]:
    """Return the [[trusted_key]] tables of `epctl.toml` and the problems of reading them (a file that
    is not TOML, an invalid key), reading nothing else."""
    root = project_root(project_dir)
    reader = ProjectReader(root)
    config = reader.parse(root / CONFIG_FILE)
    if config is not None:
        reader.read_trusted_keys(config, CONFIG_FILE)
    return reader.trusted_keys, reader.problems


def load_trusted_keys(project_dir: str | Path) -> tuple[TrustedKey, ...]:
    """Return the keys whose signatures this checkout trusts; raise ProjectError when epctl.toml
    cannot say (not TOML, an invalid [[trusted_key]]): an unknown trust list never means "none"."""
    keys, problems = read_trusted_keys(project_dir)
    raise_on_errors(problems)
    return tuple(keys)


class FolderSource:
    """Develop: `epctl.toml`, then every TOML file of the table folders, sources read from disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def documents(self, reader: ProjectReader) -> Iterator[Document]:
        config = reader.parse(self.root / CONFIG_FILE)
        if config is not None:
            yield Document(CONFIG_FILE, config, CONFIG_SECTIONS, {}, config=True, environments=True)
        for folder, tables in TABLES_BY_FOLDER.items():
            for path in list_table_files(self.root, folder):
                document = reader.parse(path)
                if document is None:
                    reader.excuse_names(path, tables)
                    continue
                file = path.relative_to(self.root).as_posix()
                reader.draft.table_files[file] = reader.draft.declarations.texts[file].text
                yield Document(
                    file, document, tables, tables, functools.partial(reader.read_linked_file, path)
                )
        # Handler files import the other Python files of the workflows folder: read (and freeze) them all.
        for path in sorted((self.root / WORKFLOWS_FOLDER).glob("**/*.py")):
            reader.read_code_file(path)
        reader.read_static_folder()


def format_key(prefix: str, loc: tuple[int | str, ...]) -> str:
    """Return the key path of a pydantic error location: ("reply", "page") -> `endpoint[2].reply.page`."""
    key = prefix
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key = f"{key}.{part}" if key else str(part)
    return key


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """Return the model class found by walking `loc` through field annotations, for key suggestions."""
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if current else None
        if field is None:
            return None
        current = _unwrap(field.annotation)
    return current


def _unwrap(annotation: Any) -> type[BaseModel] | None:
    """Return the model inside `X | None`, `list[X]` or `dict[str, X]`, else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _unwrap(arg)
        if found is not None:
            return found
    return None


def describe(value: Any) -> str:
    """Return how TOML names the type of `value`: `a string`, `an array`, `a table`, ..."""
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)


class ProjectReader:
    """Reads the files of one project folder; keeps problems and where every table was declared."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        # Ids and names of tables that were declared but invalid: references to them are not
        # reported again as unknown, so one typo gives one problem, not a cascade.
        self.invalid_ids: set[tuple[str, str]] = set()
        self.draft = ProjectDraft(root=root)
        self.trusted_keys: list[TrustedKey] = []  # local to this checkout: kept beside the draft
        self.refused: set[str] = set()  # files read_project_text refused, by project path
        self.budget = WorkBudget()  # the "did you mean" work of one read

    # -- problems -----------------------------------------------------------------------------
    def add(
        self,
        code: Code,
        message: str,
        file: str,
        key: str = "",
        id: str | None = None,
        line: int | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        if line is not None:
            place = Place(file=file, line=line, key=key or None, id=id)
        else:
            place = self.draft.declarations.locate(file, key, id)
        self.problems.append(Problem(severity, code, message, place))

    def add_validation(
        self, err: ValidationError, model: type[BaseModel], file: str, prefix: str, id: str | None
    ) -> None:
        for error in err.errors(include_url=False):
            loc = tuple(error["loc"])
            key = format_key(prefix, loc)
            kind = error["type"]
            name = str(loc[-1]) if loc else prefix
            value = error.get("input")
            if kind == "extra_forbidden":
                owner = _model_at(model, loc[:-1])
                # The keys users write: a field's alias where it has one (`json` for `json_body`).
                choices = [f.alias or n for n, f in owner.model_fields.items()] if owner else []
                hint = SECRET_HINTS.get(name)
                message = f'unknown key "{name}"' + (
                    f"; {hint}" if hint else did_you_mean(name, choices, list_all=True, budget=self.budget)
                )
                self.add(Code.UNKNOWN_KEY, message, file, key, id)
            elif kind == "missing":
                self.add(Code.MISSING_KEY, f'missing required key "{name}"', file, key, id)
            elif kind == "literal_error":
                expected = error["ctx"]["expected"]
                self.add(Code.INVALID_VALUE, f'"{name}" must be {expected}, not {value!r}', file, key, id)
            elif kind == "string_pattern_mismatch":
                self.add(Code.INVALID_VALUE, _pattern_message(name, value), file, key, id)
            elif "-" in kind:
                # Our own PydanticCustomError types are already stable kebab-case problem codes.
                self.add(Code(kind), error["msg"], file, key, id)
            elif kind in ("value_error", "assertion_error"):
                message = str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
                self.add(Code.INVALID_VALUE, message, file, key, id)
            elif kind.endswith("_type") or kind.endswith("_parsing"):
                expected = error["msg"].removeprefix("Input should be ").rstrip(".")
                expected = TOML_TYPE_NAMES.get(expected, expected)
                self.add(
                    Code.INVALID_TYPE, f'"{name}" must be {expected}, not {describe(value)}', file, key, id
                )
            else:
                self.add(Code.INVALID_VALUE, f'"{name}": {error["msg"]}', file, key, id)

    # -- files --------------------------------------------------------------------------------
    def parse(self, path: Path) -> dict[str, Any] | None:
        """Return the TOML document at `path`, or None after recording why it cannot be read."""
        file = path.relative_to(self.root).as_posix()
        try:
            text = read_project_text(self.root, path)
        except ProjectFileError as err:
            self.add(err.code, str(err), file)
            return None
        except UnicodeDecodeError as err:
            self.add(
                Code.ENCODING, f"not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8", file
            )
            return None
        except OSError as err:
            self.add(Code.UNREADABLE_FILE, f"cannot read the file: {err.strerror}", file)
            return None
        return self.parse_text(file, text)

    def parse_text(self, file: str, text: str) -> dict[str, Any] | None:
        """Return the TOML document in `text`, or None after recording the syntax error."""
        self.draft.declarations.texts[file] = KeyLines(text)
        try:
            return tomli.loads(text)
        except tomli.TOMLDecodeError as err:
            message = getattr(err, "msg", str(err))
            line = getattr(err, "lineno", None)
            self.add(Code.TOML_SYNTAX, f"TOML syntax error: {message}", file, line=line)
            return None
        except RecursionError:
            # tomli refuses arrays and inline tables nested over 400 levels, without a line.
            line = find_failing_line(text, _nests_too_deeply)
            self.add(
                Code.TOML_SYNTAX,
                f"TOML syntax error: arrays or inline tables nested more than {MAX_TOML_DEPTH} levels deep",
                file,
                line=line,
            )
            return None

    def read(self, source: Source) -> ProjectDraft:
        """Return the draft of every document `source` yields, each table validated on its own."""
        for document in source.documents(self):
            self.check_sections(document.data, document.sections, document.file)
            if document.config:
                self.read_config(document.data, document.file)
            if document.environments:
                self.read_environments(document.data, document.file)
                self.read_trusted_keys(document.data, document.file)
                self.read_users(document.data, document.file)
            if document.resolve is not None:
                self.read_tables(document.file, document.data, document.tables, document.resolve)
        return self.draft

    def excuse_names(self, path: Path, tables: Mapping[str, type[Table]]) -> None:
        """Record the names a file that did not parse seems to declare, so references to them are not
        reported as unknown: one syntax error gives one problem, not a cascade."""
        lines = self.draft.declarations.texts.get(path.relative_to(self.root).as_posix())
        if lines is None:  # not even readable: any name of its folder may be in it
            self.invalid_ids.update((kind, ANY_NAME) for kind in tables)
            return
        names = _DECLARED_NAME.findall(lines.text)
        self.invalid_ids.update((kind, name) for kind in tables for name in names)

    def check_sections(self, document: dict[str, Any], known: Collection[str], file: str) -> None:
        for name in document:
            if name not in known:
                where = CONFIG_FILE if file == CONFIG_FILE else f"{file.split('/')[0]}/ files"
                message = f'unknown table "{name}" in {where}' + did_you_mean(
                    name, known, list_all=True, budget=self.budget
                )
                # An array of tables (`[[endpont]]`) is written as `name[0]`, `name[1]`: its first header.
                header = f"{name}[0]" if isinstance(document[name], list) else name
                line = self.draft.declarations.locate(file, header).line
                self.add(Code.UNKNOWN_KEY, message, file, name, line=line)

    def read_config(self, config: dict[str, Any], file: str) -> None:
        """Read the sections a version freezes: project, settings, auth and API keys."""
        project_info = self.validate(ProjectInfo, config.get("project"), file, "project", None)
        if isinstance(project_info, ProjectInfo):
            self.draft.name = project_info.name
        if "settings" in config:
            settings = self.validate(Settings, config["settings"], file, "settings", None)
            if isinstance(settings, Settings):
                self.draft.settings = settings
        if "auth" in config:
            auth = self.validate(Auth, config["auth"], file, "auth", None)
            if isinstance(auth, Auth):
                self.draft.auth = auth
        if "lint" in config:
            lint = self.validate(Lint, config["lint"], file, "lint", None)
            if isinstance(lint, Lint):
                self.draft.lint = lint
        hashes: dict[str, tuple[str, str]] = {}  # sha256 -> (name, key path) of the first key with it
        for key, table in self.each_table(config, "api_key", file):
            api_key = self.validate(ApiKey, table, file, key, table.get("name"))
            if isinstance(api_key, ApiKey):
                if any(k.name == api_key.name for k in self.draft.api_keys):
                    self.add(
                        Code.DUPLICATE_NAME,
                        f'API key name "{api_key.name}" is used twice',
                        file,
                        f"{key}.name",
                        api_key.name,
                    )
                first = hashes.setdefault(api_key.sha256, (api_key.name, key))
                if first[1] != key:
                    self.add_duplicate_hash(file, key, api_key.name, *first)
                self.draft.api_keys.append(api_key)

    def add_duplicate_hash(self, file: str, key: str, name: str, first_name: str, first_key: str) -> None:
        """Report an API key whose sha256 an earlier key has: the one key would get both scopes."""
        first = self.draft.declarations.locate(file, f"{first_key}.sha256", first_name)
        self.problems.append(
            Problem.error(
                Code.DUPLICATE_API_KEY,
                f'API key "{name}" has the same sha256 as API key "{first_name}" ({file}:{first.line}): '
                "one key would be allowed the endpoints of both; give each caller its own key",
                self.draft.declarations.locate(file, f"{key}.sha256", name),
                (first,),
            )
        )

    def read_environments(self, config: dict[str, Any], file: str) -> None:
        """Read [environments.NAME]: develop's pointers at versions (never frozen into a version)."""
        environments = config.get("environments", {})
        if not isinstance(environments, dict):
            self.add(
                Code.INVALID_TYPE,
                '"environments" must be a table of [environments.NAME] tables',
                file,
                "environments",
            )
            environments = {}
        for name, table in environments.items():
            key = f"environments.{name}"
            if not ENVIRONMENT_NAME.fullmatch(name):
                # json.dumps shows a newline or an empty name as the user would have to write it.
                self.add(
                    Code.INVALID_VALUE,
                    f"environment name {json.dumps(name)} is not valid: use {NAME_RULE}",
                    file,
                    key,
                    name,
                )
                continue
            environment = self.validate(Environment, table, file, key, name)
            if isinstance(environment, Environment):
                self.draft.environments[name] = environment
                self.check_environment_version(name, environment, file, key)

    def read_trusted_keys(self, config: dict[str, Any], file: str) -> None:
        """Read [[trusted_key]]: the signers whose versions this checkout serves (never frozen)."""
        for key, table in self.each_table(config, "trusted_key", file):
            trusted = self.validate(TrustedKey, table, file, key, table.get("name"))
            if not isinstance(trusted, TrustedKey):
                continue
            if any(k.name == trusted.name for k in self.trusted_keys):
                message = f'trusted key name "{trusted.name}" is used twice'
                self.add(Code.DUPLICATE_NAME, message, file, f"{key}.name", trusted.name)
            self.trusted_keys.append(trusted)

    def read_users(self, config: dict[str, Any], file: str) -> None:
        """Read [users] (develop's epctl.toml only: users are not part of a version)."""
        if "users" in config:
            users = self.validate(UsersConfig, config["users"], file, "users", None)
            if isinstance(users, UsersConfig):
                self.draft.users = users

    def check_environment_version(self, name: str, environment: Environment, file: str, key: str) -> None:
        if not (self.root / VERSIONS_FOLDER / f"{environment.version}.toml").is_file():
            self.add(
                Code.UNKNOWN_VERSION,
                f'environment "{name}" points at version "{environment.version}", which is not '
                f"frozen yet; run `epctl snapshot {environment.version}` (the environment is not "
                "served until then)",
                file,
                f"{key}.version",
                name,
                severity=Severity.WARNING,
            )

    def each_table(
        self, document: dict[str, Any], name: str, file: str
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield (key path, table) for each entry of the array of tables `name` in a document."""
        tables = document.get(name, [])
        if isinstance(tables, dict):
            self.add(
                Code.NOT_AN_ARRAY,
                f'"{name}" must be an array of tables: write [[{name}]], not [{name}]',
                file,
                name,
            )
            return
        if not isinstance(tables, list):
            self.add(Code.INVALID_TYPE, f'"{name}" must be an array of tables ([[{name}]])', file, name)
            return
        for index, table in enumerate(tables):
            key = f"{name}[{index}]"
            if isinstance(table, dict):
                yield key, table
            else:
                self.add(
                    Code.INVALID_TYPE, f'each "{name}" must be a table, not {describe(table)}', file, key
                )

    def validate(self, model: type[Table], table: Any, file: str, key: str, id: str | None) -> Table | None:
        if table is None:
            self.add(Code.MISSING_KEY, f"missing required table [{key}]", file, key, id)
            return None
        if not isinstance(table, dict):
            self.add(Code.INVALID_TYPE, f'"{key}" must be a table, not {describe(table)}', file, key, id)
            return None
        try:
            return model.model_validate(table)
        except ValidationError as err:
            self.add_validation(err, model, file, key, id if isinstance(id, str) else None)
            return None

    def read_tables(
        self, file: str, document: dict[str, Any], tables: Mapping[str, type[Table]], resolve: Resolve
    ) -> None:
        """Read the arrays of tables in `document`; `resolve` turns a template or handler path into a
        project path with its source in `project.files`, or returns None after reporting why not."""
        for kind, model in tables.items():
            id_key = "id" if kind == "endpoint" else "name"
            for key, table in self.each_table(document, kind, file):
                given_id = table.get(id_key)
                given_id = given_id if isinstance(given_id, str) else None
                parsed = self.validate(model, table, file, key, given_id)
                if parsed is None:
                    if given_id:
                        self.invalid_ids.add((kind, given_id))
                    continue
                self.add_table(kind, parsed, file, key, resolve)

    def add_table(self, kind: str, table: Table, file: str, key: str, resolve: Resolve) -> None:
        project = self.draft
        name = table_name(table)
        existing = project.declarations.keys.get((kind, name))
        if existing is not None:
            what = "endpoint id" if kind == "endpoint" else f"{kind} name"
            id_key = "id" if kind == "endpoint" else "name"
            first = project.declarations.locate(existing[0], f"{existing[1]}.{id_key}", name)
            self.problems.append(
                Problem.error(
                    Code.DUPLICATE_ID if kind == "endpoint" else Code.DUPLICATE_NAME,
                    f'{what} "{name}" is already used at {first.file}:{first.line}; {kind} '
                    f"{'ids' if kind == 'endpoint' else 'names'} must be unique in the project",
                    project.declarations.locate(file, f"{key}.{id_key}", name),
                    (first,),
                )
            )
            return
        project.declarations.add(kind, name, file, key)
        if isinstance(table, Templated) and table.template is not None:
            resolved = resolve(table.template, file, f"{key}.template", name)
            if resolved is None:
                self.invalid_ids.add((kind, name))
                return
            table = table.model_copy(update={"template": resolved})
        if isinstance(table, Workflow):
            resolved = resolve(table.handler_file, file, f"{key}.handler", name)
            if resolved is None:
                self.invalid_ids.add((kind, name))
                return
            table = table.model_copy(update={"handler": f"{resolved}:{table.handler_function}"})
        if isinstance(table, Endpoint):
            # JSON Schema files are linked files like templates: project-relative, their text frozen.
            table = resolve_schema_files(
                table, lambda path, subkey: resolve(path, file, f"{key}.{subkey}", name)
            )
            project.endpoints.append(table)
        elif isinstance(table, Page):
            project.pages[name] = table
        elif isinstance(table, Layout):
            project.layouts[name] = table
        elif isinstance(table, Component):
            project.components[name] = table
        elif isinstance(table, Workflow):
            project.workflows[name] = table
        elif isinstance(table, Case):
            project.cases[name] = table

    def read_code_file(self, path: Path) -> None:
        """Read a Python file of the workflows folder into the project's files, if not read yet."""
        relative = path.relative_to(self.root).as_posix()
        if relative in self.draft.files or relative in self.refused or "__pycache__" in relative:
            return
        try:
            self.draft.files[relative] = read_project_text(self.root, path)
        except ProjectFileError as err:
            self.add(err.code, str(err), relative)
        except (OSError, UnicodeDecodeError) as err:
            self.add(Code.UNREADABLE_FILE, f"cannot read {relative}: {err}", relative)

    def read_static_folder(self) -> None:
        """Read every asset of static/ byte for byte (which files are: see schemas/static_files.py),
        until they are more than a version file could hold."""
        frozen = 0  # bytes the assets read so far take in a version file
        # os.walk lists a symlinked folder without entering it: a link never pulls in files from elsewhere.
        for directory, folders, files in os.walk(self.root / STATIC_FOLDER):
            folders[:] = sorted(folder for folder in folders if not folder.startswith("."))
            for name in sorted(files):
                if name.startswith("."):
                    continue  # .DS_Store, .env, .gitkeep: never served, never frozen
                path = Path(directory) / name
                relative = path.relative_to(self.root).as_posix()
                if PurePosixPath(name).suffix.lower() not in ASSET_SUFFIXES or "\\" in name:
                    self.add(
                        Code.UNSERVED_STATIC_FILE,
                        f"{relative} is not served nor frozen: {STATIC_FOLDER}/ serves only web assets "
                        f"({', '.join(sorted(ASSET_SUFFIXES))}); rename it or move it out of "
                        f"{STATIC_FOLDER}/",
                        relative,
                        severity=Severity.WARNING,
                    )
                    continue
                try:
                    data = read_project_bytes(self.root, path)
                    modified = path.stat().st_mtime
                except ProjectFileError as err:
                    self.add(err.code, str(err), relative)
                    self.invalid_ids.add(("asset", asset_name(relative)))
                    continue
                except OSError as err:
                    self.add(Code.UNREADABLE_FILE, f"cannot read {relative}: {err.strerror}", relative)
                    self.invalid_ids.add(("asset", asset_name(relative)))
                    continue
                frozen += frozen_size(relative, data)
                if frozen > VERSION_LIMIT.bytes:
                    # Nothing more is read: develop holds at most a version's worth of static files.
                    self.add(
                        Code.STATIC_TOO_LARGE,
                        f"{STATIC_FOLDER}/ holds more than a version can: up to {relative}, its files "
                        f"would take {frozen:,} bytes of a version file (binary files are base64-encoded), "
                        f"and a version file may hold at most {VERSION_LIMIT.text}; move large files out "
                        f"of {STATIC_FOLDER}/ (a CDN serves them better). The files after it were not read",
                        relative,
                    )
                    # static_url() of a file not read is not reported
                    self.invalid_ids.add(("asset", ANY_NAME))
                    return
                self.draft.static[relative] = make_asset(data, modified)

    def read_linked_file(self, toml_path: Path, relative: str, file: str, key: str, id: str) -> str | None:
        """Read a template or handler file named relative to a TOML file; return its project path."""
        target = (toml_path.parent / relative).resolve()
        if not target.is_relative_to(self.root):
            self.add(
                Code.PATH_ESCAPE,
                f'"{relative}" points outside the project folder; keep templates, handlers '
                "and schemas inside the project",
                file,
                key,
                id,
            )
            return None
        project_path = target.relative_to(self.root).as_posix()
        if project_path in self.draft.files:
            return project_path
        try:
            self.draft.files[project_path] = read_project_text(self.root, target)
        except ProjectFileError as err:
            self.refused.add(project_path)  # reported once, here, where a table names it
            self.add(err.code, str(err), file, key, id)
            return None
        except FileNotFoundError:
            self.add(
                Code.MISSING_FILE, f'file "{relative}" not found (looked for {project_path})', file, key, id
            )
            return None
        except (OSError, UnicodeDecodeError) as err:
            self.add(Code.UNREADABLE_FILE, f'cannot read "{relative}": {err}', file, key, id)
            return None
        return project_path


MAX_TOML_DEPTH = 400  # tomli's limit on nested arrays and inline tables


def _nests_too_deeply(text: str) -> bool:
    """Return True when tomli gives up on `text` for its nesting (other errors do not count)."""
    try:
        tomli.loads(text)
    except RecursionError:
        return True
    except tomli.TOMLDecodeError:
        return False
    return False


def table_name(table: Table) -> str:
    """Return the id of an endpoint, the name of any other table."""
    name = getattr(table, "id", None) or getattr(table, "name", "")
    return str(name)


def _pattern_message(name: str, value: Any) -> str:
    rules = {
        "id": NAME_RULE,
        "name": NAME_RULE,
        "version": VERSION_NAME_RULE,
        "sha256": "the 64 lowercase hex digits of the key's sha256 (`epctl` never stores the key itself)",
        "handler": '"file.py:function", the file relative to this TOML file',
        "secret_env": "an environment variable name such as EPCTL_SECRET",
        "root": 'a path prefix such as "/api" (no trailing slash), or "" for none',
        "static_prefix": 'a path that starts and ends with "/", such as "/static/" or "/assets/v2/"',
    }
    return f'"{name}" must be {rules.get(name, "in the documented format")}, not {value!r}'
