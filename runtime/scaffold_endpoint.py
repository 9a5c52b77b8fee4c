"""`epctl new`: what the wizard writes for a new endpoint, page or workflow, and where.

Each answer is checked on its own (`check_*`, so a prompt can re-ask at once: a route is checked for
conflicts with the project's routes as it is typed), then `plan_*` returns the file changes: the
tables appended to the right TOML files (everything else in them kept as written) and the new
template or handler stub. Nothing is written until `apply_changes`.
"""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from epctl.runtime.toml_edits import append_table, write_atomically
from epctl.schemas.models import MAX_NAME_LENGTH, NAME_RULE, Endpoint
from epctl.schemas.problems import EpctlError, did_you_mean
from epctl.schemas.project import Project
from epctl.schemas.route_hints import describe_invalid_route
from epctl.schemas.routing import METHODS, RouteConflictError, Router, RouteSyntaxError, parse_route

NAME_PATTERN = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_NAME_LENGTH}}}")
ACCESS = ("public", "authenticated", "groups")


class EndpointKind(StrEnum):
    """What the new endpoint does, as Losant's wizard asks it."""

    PAGE = "page"  # display a page: a static page reply, the page and its template
    API = "api"  # return data for an API: a workflow and its handler stub returning JSON
    CUSTOM = "custom"  # anything else: a workflow and a handler stub to fill in


class ScaffoldError(EpctlError):
    """An answer the wizard cannot use; the message says what to give instead."""


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file the wizard writes: its project-relative path, full new text, and what it adds."""

    path: str
    text: str
    created: bool
    adds: tuple[str, ...] = field(default=())


# -- answers, one at a time ----------------------------------------------------------------------
def check_name(kind: str, name: str, taken: Sequence[str]) -> str:
    """Return `name` when it can name a new `kind`; raise ScaffoldError otherwise."""
    if not NAME_PATTERN.fullmatch(name):
        raise ScaffoldError(f'"{name}" is not a valid {kind} name: use {NAME_RULE}')
    if name in taken:
        raise ScaffoldError(f'{kind} "{name}" already exists; choose another name')
    return name


def check_endpoint_id(project: Project, endpoint_id: str) -> str:
    return check_name("endpoint", endpoint_id, [e.id for e in project.endpoints])


def check_method(method: str) -> str:
    """Return `method` in capitals when it is one epctl routes; raise ScaffoldError otherwise."""
    upper = method.upper()
    if upper not in METHODS:
        raise ScaffoldError(f'"{method}" is not a method epctl routes: use one of {", ".join(METHODS)}')
    return upper


def check_access(access: str) -> str:
    if access not in ACCESS:
        raise ScaffoldError(f'"{access}" is not an access: use one of {", ".join(ACCESS)}')
    return access


def check_route(project: Project, method: str, route: str) -> str:
    """Return `route` when it is valid and clashes with no enabled route of `method` in `project`.

    Raises ScaffoldError naming the endpoint it conflicts with, its file and line.
    """
    try:
        parsed = parse_route(route)
    except RouteSyntaxError as err:
        raise ScaffoldError(describe_invalid_route(route, err)) from None
    # A router of its own: the project's router is the project's, and a project never changes.
    router: Router[Endpoint | None] = Router()
    for endpoint in project.endpoints:
        if endpoint.enabled and endpoint.method == method:
            router.add(endpoint.method, parse_route(endpoint.route), endpoint)
    try:
        router.add(method, parsed, None)  # the new route has no endpoint yet
    except RouteConflictError as err:
        other = err.existing
        assert isinstance(other, Endpoint)
        place = project.declarations.place("endpoint", other.id, "route")
        raise ScaffoldError(
            f'{method} {route} conflicts with {other.method} {other.route} (endpoint "{other.id}", '
            f"{place.file}:{place.line}): both would match the same requests; choose another route"
        ) from None
    return route


def suggest_id(route: str) -> str:
    """Return an endpoint id made from a route: `/api/devices/{id}` -> `api-devices-id`."""
    words = re.findall(r"[A-Za-z0-9]+", route)
    return "-".join(words).lower()[:MAX_NAME_LENGTH] or "home"


def suggest_endpoint_file(project: Project, route: str, kind: EndpointKind) -> str:
    """Return the endpoints file of the declared route sharing the most leading segments with
    `route` (a new `/api/...` route joins the other `/api/...` ones), else one named for the kind."""
    segments = route.strip("/").split("/")
    best, best_shared = "", 0
    for endpoint in project.endpoints:
        other = endpoint.route.strip("/").split("/")
        shared = 0
        for mine, theirs in zip(segments, other, strict=False):
            if mine != theirs or "{" in mine:
                break
            shared += 1
        if shared > best_shared:
            best, best_shared = project.declarations.keys[("endpoint", endpoint.id)][0], shared
    if best:
        return best
    if project.endpoints:
        return project.declarations.keys[("endpoint", project.endpoints[-1].id)][0]
    return "endpoints/api.toml" if kind is EndpointKind.API else "endpoints/site.toml"


def check_toml_file(folder: str, file: str) -> str:
    """Return `file` (project-relative) when it is a TOML file under `folder`/; raise otherwise."""
    path = posixpath.normpath(file)
    if not (path.startswith(f"{folder}/") and path.endswith(".toml")):
        raise ScaffoldError(f'"{file}" is not a TOML file under {folder}/: e.g. {folder}/site.toml')
    return path


def python_name(name: str) -> str:
    """Return a Python function name for a table name: `api-status` -> `api_status`."""
    identifier = re.sub(r"\W", "_", name)
    return identifier if identifier[:1].isalpha() or identifier[:1] == "_" else f"handle_{identifier}"


# -- plans ----------------------------------------------------------------------------------------
class _Plan:
    """File changes being gathered: each file's text so far, read from the project folder once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.texts: dict[str, str] = {}
        self.created: set[str] = set()
        self.adds: dict[str, list[str]] = {}

    def text(self, path: str) -> str:
        if path not in self.texts:
            file = self.root / path
            if file.exists():
                self.texts[path] = file.read_text(encoding="utf-8")
            else:
                self.texts[path] = ""
                self.created.add(path)
        return self.texts[path]

    def append_table(self, path: str, kind: str, table: dict[str, Any]) -> None:
        self.texts[path] = append_table(self.text(path), kind, table, path)
        self.adds.setdefault(path, []).append(f'[[{kind}]] "{table.get("id") or table.get("name")}"')

    def new_file(self, path: str, text: str, what: str) -> None:
        if (self.root / path).exists() or path in self.texts:
            raise ScaffoldError(f"{path} already exists; epctl never overwrites a file")
        self.texts[path] = text
        self.created.add(path)
        self.adds.setdefault(path, []).append(what)

    def append_code(self, path: str, code: str, what: str) -> None:
        existing = self.text(path)
        self.texts[path] = (existing.rstrip("\n") + "\n\n\n" if existing.strip() else "") + code
        self.adds.setdefault(path, []).append(what)

    def changes(self) -> list[FileChange]:
        return [
            FileChange(path, text, path in self.created, tuple(self.adds.get(path, ())))
            for path, text in sorted(self.texts.items())
        ]


def _first_declared_file(project: Project, kind: str, names: Sequence[str], default: str) -> str:
    return project.declarations.keys[(kind, names[0])][0] if names else default


def _relative_to(toml_file: str, target: str) -> str:
    """Return project path `target` as written in `toml_file`: relative to its folder."""
    return posixpath.relpath(target, posixpath.dirname(toml_file))


def _plan_page(plan: _Plan, project: Project, name: str, layout: str | None, file: str | None) -> None:
    pages = list(project.pages)
    toml_file = file or _first_declared_file(project, "page", pages, "pages/pages.toml")
    # The template goes where the project keeps its page templates, else beside the TOML file.
    sibling = next((p.template for p in project.pages.values() if p.template), None)
    folder = posixpath.dirname(sibling) if sibling else posixpath.dirname(toml_file)
    template = posixpath.join(folder, f"{name}.html")
    table: dict[str, Any] = {"name": name}
    if layout:
        table["layout"] = layout
    table["template"] = _relative_to(toml_file, template)
    plan.append_table(toml_file, "page", table)
    plan.new_file(
        template,
        f"<h1>{name}</h1>\n<p>This is the {name} page of {{{{ application.name }}}}.</p>\n",
        "its template",
    )


def _handler_stub(function: str, summary: str, kind: EndpointKind) -> str:
    if kind is EndpointKind.API:
        doc = f"{summary}: the dict or list returned is the JSON reply."
        body = 'return {"endpoint": request.endpoint.id, "params": request.params}'
    else:
        doc = (
            f"{summary}: return a dict or list (JSON), a str (HTML), (body, status), or a reply of "
            "epctl.runtime.replies (page, redirect, reply)."
        )
        body = 'return {"error": "not implemented yet"}, 501'
    return f'def {function}(request):\n    """{doc}"""\n    {body}\n'


def _plan_workflow(
    plan: _Plan,
    project: Project,
    name: str,
    endpoints: Sequence[str],
    file: str | None,
    summary: str,
    kind: EndpointKind,
) -> None:
    toml_file = file or _first_declared_file(
        project, "workflow", list(project.workflows), "workflows/workflows.toml"
    )
    handler_file = posixpath.splitext(toml_file)[0] + ".py"
    source = (
        plan.text(handler_file) if (plan.root / handler_file).exists() or handler_file in plan.texts else ""
    )
    try:
        defined = {
            node.name
            for node in ast.parse(source).body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
    except SyntaxError:
        raise ScaffoldError(
            f"{handler_file} is not valid Python; fix it before adding a handler to it"
        ) from None
    function = python_name(name)
    base, number = function, 2
    while function in defined:
        function, number = f"{base}_{number}", number + 1
    plan.append_table(
        toml_file,
        "workflow",
        {
            "name": name,
            "handler": f"{_relative_to(toml_file, handler_file)}:{function}",
            "endpoints": list(endpoints),
        },
    )
    plan.append_code(handler_file, _handler_stub(function, summary, kind), f"def {function}(request)")


def plan_endpoint(
    project: Project,
    *,
    kind: EndpointKind,
    endpoint_id: str,
    method: str,
    route: str,
    access: str = "public",
    groups: Sequence[str] = (),
    file: str | None = None,
) -> list[FileChange]:
    """Return the changes that add an endpoint of `kind` with its page or workflow.

    Raises ScaffoldError for any answer that would not validate (a taken id or name, a bad or
    conflicting route, groups missing, a file outside endpoints/).
    """
    check_endpoint_id(project, endpoint_id)
    method = check_method(method)
    check_route(project, method, route)
    check_access(access)
    if access == "groups" and not groups:
        raise ScaffoldError('access "groups" needs at least one group: give --group NAME')
    endpoint_file = (
        check_toml_file("endpoints", file) if file else suggest_endpoint_file(project, route, kind)
    )
    table: dict[str, Any] = {"id": endpoint_id, "method": method, "route": route}
    if access != "public":
        table["access"] = access
    if access == "groups":
        table["groups"] = list(groups)
    plan = _Plan(project.root)
    summary = f'{method} {route} (endpoint "{endpoint_id}")'
    if kind is EndpointKind.PAGE:
        check_name("page", endpoint_id, list(project.pages))
        table["reply"] = {"type": "page", "page": endpoint_id}
        plan.append_table(endpoint_file, "endpoint", table)
        layout = next(iter(project.layouts), None)
        _plan_page(plan, project, endpoint_id, layout, None)
    else:
        check_name("workflow", endpoint_id, list(project.workflows))
        plan.append_table(endpoint_file, "endpoint", table)
        stem = posixpath.splitext(posixpath.basename(endpoint_file))[0]
        _plan_workflow(plan, project, endpoint_id, [endpoint_id], f"workflows/{stem}.toml", summary, kind)
    return plan.changes()


def plan_page(
    project: Project, *, name: str, layout: str | None = None, file: str | None = None
) -> list[FileChange]:
    """Return the changes that add a page and its template; raises ScaffoldError for a taken name,
    an unknown layout or a file outside pages/."""
    check_name("page", name, list(project.pages))
    if layout is not None and layout not in project.layouts:
        raise ScaffoldError(
            f'no layout "{layout}" in this project'
            + did_you_mean(layout, list(project.layouts), list_all=True)
        )
    plan = _Plan(project.root)
    _plan_page(plan, project, name, layout, check_toml_file("pages", file) if file else None)
    return plan.changes()


def plan_workflow(
    project: Project, *, name: str, endpoints: Sequence[str] = (), file: str | None = None
) -> list[FileChange]:
    """Return the changes that add a workflow and its handler stub; raises ScaffoldError for a
    taken name, an unknown endpoint or a file outside workflows/."""
    check_name("workflow", name, list(project.workflows))
    ids = [e.id for e in project.endpoints]
    for endpoint_id in endpoints:
        if endpoint_id not in ids:
            raise ScaffoldError(
                f'no endpoint "{endpoint_id}" in this project' + did_you_mean(endpoint_id, ids)
            )
    plan = _Plan(project.root)
    toml_file = check_toml_file("workflows", file) if file else None
    summary = f'workflow "{name}"'
    _plan_workflow(plan, project, name, endpoints, toml_file, summary, EndpointKind.CUSTOM)
    return plan.changes()


def apply_changes(root: Path, changes: Sequence[FileChange]) -> None:
    """Write every change, each file atomically."""
    for change in changes:
        write_atomically(root / change.path, change.text)
