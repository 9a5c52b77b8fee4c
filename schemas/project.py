"""A loaded project: one version's tables plus the text of every template and handler it uses.

Develop (read from the project folder) and a frozen version (read from one file) load into the same
`Project`, with template and handler paths made project-relative and their sources in `files`. So
the runtime serves both the same way, and a version needs nothing but its own file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from epctl.schemas.models import (
    ApiKey,
    Auth,
    Component,
    Endpoint,
    Environment,
    Layout,
    Page,
    Settings,
    Workflow,
)
from epctl.schemas.positions import KeyLines
from epctl.schemas.problems import Place

DEVELOP = "develop"


@dataclass
class Declarations:
    """Where each table was written, so any check can point at a file, line and key."""

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
class Project:
    """One version of a project, ready to check, route and serve."""

    name: str
    version: str
    root: Path
    settings: Settings = field(default_factory=Settings)
    auth: Auth = field(default_factory=Auth)
    api_keys: list[ApiKey] = field(default_factory=list)
    environments: dict[str, Environment] = field(default_factory=dict)
    endpoints: list[Endpoint] = field(default_factory=list)
    pages: dict[str, Page] = field(default_factory=dict)
    layouts: dict[str, Layout] = field(default_factory=dict)
    components: dict[str, Component] = field(default_factory=dict)
    workflows: dict[str, Workflow] = field(default_factory=dict)
    # Project-relative path -> text, for every template file and workflow handler file.
    files: dict[str, str] = field(default_factory=dict)
    # Project-relative path -> text of each TOML file the tables came from, so a frozen version can
    # be restored into develop file for file, comments and all.
    table_files: dict[str, str] = field(default_factory=dict)
    # The version file a frozen version was read from; None for develop.
    version_file: Path | None = None
    declarations: Declarations = field(default_factory=Declarations, repr=False, compare=False)
    # The router and its problems, built once by `checks.build_routes`: loading checks the routes and
    # serving needs the same router, so it is never built twice. Tables are not edited after loading.
    routes_built: Any = field(default=None, repr=False, compare=False)

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

    def template_source(self, table: Page | Layout | Component) -> str:
        """Return the template text of a page, layout or component (inline body or its file)."""
        if table.body is not None:
            return table.body
        return self.files[table.template or ""]
