"""What the project commands share: the validation report, route selection and the match report.

Kept apart from the commands so that the CLI starts without the loader (pydantic) or rich.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from epctl.cli.app import ProblemFormat
from epctl.cli.output import count_problems, plural, print_problems
from epctl.cli.progress import progress_after
from epctl.cli.project_commands import RouteSort
from epctl.cli.sarif import ReportPaths
from epctl.schemas.loader import read_project
from epctl.schemas.models import Endpoint
from epctl.schemas.problems import Place
from epctl.schemas.project import DEVELOP, Project
from epctl.schemas.routing import (
    BadEncoding,
    Disabled,
    Matched,
    MethodNotAllowed,
    NotFound,
    Outcome,
    Preflight,
)
from epctl.schemas.static_files import STATIC_FOLDER, STATIC_METHODS, asset_path
from epctl.schemas.suppressions import partition_problems
from epctl.schemas.version_file import read_version


def report_validation(root: Path, version: str, format: ProblemFormat, *, strict: bool) -> bool:
    """Validate a version of the project in `root`, print the report; return whether it passed."""
    with progress_after(f"Validating {version}"):
        project, found = read_project(root) if version == DEVELOP else read_version(root, version)
        partition = partition_problems(project, found)
    problems = partition.reported
    summary: dict[str, Any] = {
        **count_problems(problems),
        "suppressed": len(partition.suppressed),
        "project": project.name,
        "version": project.version,
        "endpoints": len(project.endpoints),
        "pages": len(project.pages),
        "workflows": len(project.workflows),
    }
    failing = bool(summary["errors"] or (strict and summary["warnings"]))
    print_problems(
        problems,
        format,
        summary,
        suppressed=partition.suppressed,
        paths=ReportPaths.of(project.root),
        failing=failing,
    )
    return not failing


def describe_reply(project: Project, endpoint: Endpoint) -> str:
    """Return what answers `endpoint`: its static reply ("page NAME", "redirect TO"), else
    "workflows" when workflows are triggered by it, else "none" (it answers 500)."""
    reply = endpoint.reply
    if reply is None:
        return "workflows" if project.workflows_for(endpoint.id) else "none"
    return f"page {reply.page}" if reply.type == "page" else f"redirect {reply.to}"


def describe_access(endpoint: Endpoint) -> str:
    access = f"groups {','.join(endpoint.groups)}" if endpoint.access == "groups" else endpoint.access
    return f"{access} + api key" if endpoint.api_key else access


def select_routes(
    project: Project,
    text: str | None,
    method: str | None,
    access: str | None,
    sort: RouteSort,
) -> list[tuple[Endpoint, bool, Place]]:
    """Return (endpoint, enabled, where declared) of the routes that pass the filters, in `sort` order
    (match order by default: enabled routes as the router tries them, then the disabled ones)."""
    needle = text.lower() if text else None
    rows = []
    for _, _, endpoint, enabled in project.router.entries():
        if needle and needle not in endpoint.id.lower() and needle not in endpoint.route.lower():
            continue
        if method and endpoint.method != method.upper():
            continue
        if access and endpoint.access != access:
            continue
        rows.append((endpoint, enabled, project.declarations.place("endpoint", endpoint.id)))
    if sort is RouteSort.ROUTE:
        rows.sort(key=lambda row: (row[0].route, row[0].method))
    elif sort is RouteSort.ID:
        rows.sort(key=lambda row: row[0].id)
    elif sort is RouteSort.FILE:
        rows.sort(key=lambda row: (row[2].file, row[2].line or 0))
    return rows


def match_one(project: Project, method: str, path: str) -> dict[str, Any]:
    """Return what `match` prints for one request: the router's outcome, its reason, and why the
    winner beat the other routes that also matched."""
    static = match_static(project, method, path)
    if static is not None:
        return static
    outcome: Outcome[Endpoint] = project.router.match(method, path)
    endpoint: Endpoint | None = None
    params: dict[str, str] = {}
    allowed: tuple[str, ...] = ()
    why: list[str] = []
    reason = outcome.reason
    match outcome:
        case Matched(target=endpoint, params=params):
            why = [
                f'beat {loser.route} ("{loser.id}"): {because}'
                for loser, because in project.router.explain(method, path)
            ]
            reason = (
                f"the best of {len(why) + 1} routes for this path" if why else "the only route for this path"
            )
        case Disabled(target=endpoint):
            pass
        case MethodNotAllowed():
            allowed = outcome.allow_methods  # exactly the server's `Allow` header
        case Preflight(allowed=allowed):
            pass  # exactly the server's `Access-Control-Allow-Methods` header
        case BadEncoding() | NotFound():
            pass
    result: dict[str, Any] = {
        "method": method.upper(),
        "path": path,
        "endpoint": endpoint.id if endpoint else None,
        "params": params,
        "status": outcome.status,
        "route": endpoint.route if endpoint else None,
        "allowed": list(allowed),
        "reason": reason,
        "why": why,
    }
    if endpoint is not None:
        place = project.declarations.place("endpoint", endpoint.id)
        result["file"], result["line"] = place.file, place.line
    return result


def match_static(project: Project, method: str, path: str) -> dict[str, Any] | None:
    """Return what `match` prints for a path under the static prefix, which the server answers from
    static/ before any route is tried; None for any other path (or a version without static files)."""
    prefix = project.settings.static_prefix
    if not project.static or not path.startswith(prefix):
        return None
    from epctl.runtime.static_files import read_name  # werkzeug: only when a path is static

    name = read_name(path[len(prefix) :])
    file = None if name is None else asset_path(name)
    found = file is not None and file in project.static
    method = method.upper()
    status = 404 if not found else 200 if method in STATIC_METHODS else 405
    if found:
        reason = f"a file of {STATIC_FOLDER}/, served under {prefix} before any route is tried"
    else:
        reason = f"no file of {STATIC_FOLDER}/ has this name, and no route is tried under {prefix}"
    return {
        "method": method,
        "path": path,
        "endpoint": None,
        "params": {},
        "status": status,
        "route": None,
        "allowed": list(STATIC_METHODS) if status == 405 else [],
        "reason": reason,
        "why": [],
        "static": file if found else None,
    }


def static_row(project: Project, text: str | None, method: str | None, access: str | None) -> list[str]:
    """Return the `routes` table row of the static mount (METHOD ... ENABLED), or [] when the version
    has no static files or the filters leave it out."""
    prefix = project.settings.static_prefix
    route = prefix + "{file*}"
    if (
        not project.static
        or (text and text.lower() not in route.lower() and text.lower() not in "static files")
        or (method and method.upper() not in STATIC_METHODS)
        or (access and access != "public")
    ):
        return []
    return [
        "GET",
        route,
        "(static files)",
        "public",
        f"{STATIC_FOLDER}/ ({plural(len(project.static), 'file')})",
        "yes",
    ]


def _file_line(place: Place) -> dict[str, str | int | None]:
    return {"file": place.file, "line": place.line}
