"""A loaded project: one version's tables plus the text of every template and handler it uses.

Develop (read from the project folder) and a frozen version (read from one file) load into the same
`Project`, with template and handler paths made project-relative and their sources in `files`. So
the runtime serves both the same way, and a version needs nothing but its own file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from epctl.schemas.models import (
    ApiKey,
    Auth,
    Case,
    Component,
    Endpoint,
    Environment,
    Layout,
    Lint,
    Page,
    Settings,
    Templated,
    Workflow,
)
from epctl.schemas.positions import KeyLines
from epctl.schemas.problems import Place
from epctl.schemas.routing import Router
from epctl.schemas.static_files import Asset
from epctl.schemas.users_config import UsersConfig

DEVELOP = "develop"


@dataclass
class Declarations:
    """Where each table was written, so any check can point at a file, line and key.

    Filled while a project is read, then only read: a loaded project never changes.
    """

    texts: dict[str, KeyLines] = field(default_factory=dict)
    keys: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def add(self, kind: str, name: str, file: str, key: str) -> None:
        self.keys.setdefault((kind, name), (file, key))

    def place(self, kind: str, name: str, subkey: str = "") -> Place:
        """Return the place of table `kind` named `name`, or of one of its keys (`reply.page`)."""
        file, key = self.keys[(kind, name)]
        full = f"{key}.{subkey}" if subkey else key
        return self.locate(file, full, name)

    def locate(self, file: str, key: str, id: str | None = None) -> Place:
        lines = self.texts.get(file)
        return Place(file=file, line=lines.line_of(key) if lines else None, key=key, id=id)


@dataclass
class ProjectDraft:
    """A project while it is being read: the loader fills it, then `freeze` makes the `Project`."""

    root: Path
    name: str = ""
    version: str = DEVELOP
    version_file: Path | None = None
    settings: Settings = field(default_factory=Settings)
    auth: Auth = field(default_factory=Auth)
    api_keys: list[ApiKey] = field(default_factory=list)
    environments: dict[str, Environment] = field(default_factory=dict)
    endpoints: list[Endpoint] = field(default_factory=list)
    pages: dict[str, Page] = field(default_factory=dict)
    layouts: dict[str, Layout] = field(default_factory=dict)
    components: dict[str, Component] = field(default_factory=dict)
    workflows: dict[str, Workflow] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    table_files: dict[str, str] = field(default_factory=dict)
    static: dict[str, Asset] = field(default_factory=dict)
    declarations: Declarations = field(default_factory=Declarations)
    lint: Lint = field(default_factory=Lint)
    users: UsersConfig | None = None

    def freeze(self, router: Router[Endpoint]) -> Project:
        """Return the read-only project of this draft, routed by `router`."""
        return Project(
            name=self.name,
            version=self.version,
            root=self.root,
            version_file=self.version_file,
            settings=self.settings,
            auth=self.auth,
            api_keys=tuple(self.api_keys),
            environments=MappingProxyType(dict(self.environments)),
            endpoints=tuple(self.endpoints),
            pages=MappingProxyType(dict(self.pages)),
            layouts=MappingProxyType(dict(self.layouts)),
            components=MappingProxyType(dict(self.components)),
            workflows=MappingProxyType(dict(self.workflows)),
            cases=MappingProxyType(dict(self.cases)),
            files=MappingProxyType(dict(self.files)),
            table_files=MappingProxyType(dict(self.table_files)),
            declarations=self.declarations,
            router=router,
            lint=self.lint,
            users=self.users,
            static=MappingProxyType(dict(sorted(self.static.items()))),
        )


@dataclass(frozen=True, slots=True)
class Project:
    """One version of a project, ready to check, route and serve. Read-only: its collections are
    tuples and read-only mappings, and its router was built from exactly these endpoints."""

    name: str
    version: str
    root: Path
    version_file: Path | None  # the version file a frozen version was read from; None for develop
    settings: Settings
    auth: Auth
    api_keys: tuple[ApiKey, ...]
    environments: Mapping[str, Environment]
    endpoints: tuple[Endpoint, ...]
    pages: Mapping[str, Page]
    layouts: Mapping[str, Layout]
    components: Mapping[str, Component]
    workflows: Mapping[str, Workflow]
    # Request cases of tests/ (`epctl test`), by name, in declaration order.
    cases: Mapping[str, Case]
    # Project-relative path -> text, for every template file and workflow handler file.
    files: Mapping[str, str]
    # Project-relative path -> text of each TOML file the tables came from, so a frozen version can
    # be restored into develop file for file, comments and all.
    table_files: Mapping[str, str]
    declarations: Declarations = field(repr=False, compare=False)
    # Enabled endpoints route; disabled ones only turn a 404 into a 503.
    router: Router[Endpoint] = field(repr=False, compare=False)
    # The `[lint]` suppressions of develop's epctl.toml (a frozen version has none).
    lint: Lint = field(default_factory=Lint, repr=False, compare=False)
    # Develop's `[users]`: experience users are not part of a version, so every version and
    # environment served from this project folder gets the table of its epctl.toml (None: users off).
    users: UsersConfig | None = field(default=None, repr=False, compare=False)
    # The files of static/, by project path (`static/app.css`), sorted: served under
    # `settings.static_prefix` and frozen into versions byte for byte.
    static: Mapping[str, Asset] = field(default_factory=lambda: MappingProxyType({}), repr=False)

    def endpoint(self, endpoint_id: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.id == endpoint_id), None)

    def workflows_for(self, endpoint_id: str) -> list[Workflow]:
        """Return the workflows an endpoint triggers, in declaration order."""
        return [w for w in self.workflows.values() if endpoint_id in w.endpoints]

    def source_name(self, relative: str) -> str:
        """Return the name compiled code and templates report for project file `relative`: the file
        itself for develop, `<version file>[<relative>]` for a frozen version, whose sources live
        in its one file."""
        if self.version_file is not None:
            return f"{self.version_file}[{relative}]"
        return str(self.root / relative)

    def template_source(self, table: Templated) -> str:
        """Return the template text of a page, layout or component (inline body or its file)."""
        if table.body is not None:
            return table.body
        return self.files[table.template or ""]
