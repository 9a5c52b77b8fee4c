"""Commands that read a project: validate, routes, match, usage, and init."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from epctl.cli.app import (
    DEVELOP,
    ExitCode,
    ProblemFormat,
    VersionOption,
    app,
    get_state,
    load_project_version,
)

if TYPE_CHECKING:
    from epctl.schemas.models import Endpoint
    from epctl.schemas.project import Project

# Each command imports what it uses when it runs (see cli/app.py): the CLI starts with typer alone.


@app.command("validate")
def validate_command(
    ctx: typer.Context,
    format: Annotated[
        ProblemFormat, typer.Option("--format", "-f", help="Report format.")
    ] = ProblemFormat.TEXT,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
    version: VersionOption = DEVELOP,
) -> None:
    """Check every file of the project at once; exit 0 clean, 1 with problems, 2 on bad usage."""
    from epctl.cli.output import count_problems, print_problems
    from epctl.schemas.loader import read_project
    from epctl.schemas.problems import sort_problems
    from epctl.schemas.version_file import read_version

    root = get_state(ctx).project_dir
    project, problems = read_project(root) if version == DEVELOP else read_version(root, version)
    problems = sort_problems(problems)
    summary: dict[str, Any] = {
        **count_problems(problems),
        "project": project.name,
        "version": project.version,
        "endpoints": len(project.endpoints),
        "pages": len(project.pages),
        "workflows": len(project.workflows),
    }
    print_problems(problems, format, summary)
    failing = summary["errors"] or (strict and summary["warnings"])
    raise typer.Exit(ExitCode.PROBLEMS if failing else ExitCode.OK)


def describe_reply(endpoint: Endpoint) -> str:
    reply = endpoint.reply
    if reply is None:
        return "workflows"
    return f"page {reply.page}" if reply.type == "page" else f"redirect {reply.to}"


def describe_access(endpoint: Endpoint) -> str:
    access = f"groups {','.join(endpoint.groups)}" if endpoint.access == "groups" else endpoint.access
    return f"{access} + api key" if endpoint.api_key else access


@app.command("routes")
def routes_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    version: VersionOption = DEVELOP,
) -> None:
    """Print the route table in match order (disabled endpoints last)."""
    from rich.markup import escape
    from rich.table import Table

    from epctl.cli.output import print_json, print_table

    project = load_project_version(ctx, version)
    rows = [(endpoint, enabled) for _, _, endpoint, enabled in project.router.entries()]
    if as_json:
        print_json(
            [
                {
                    "method": e.method,
                    "route": e.route,
                    "endpoint": e.id,
                    "access": e.access,
                    "groups": e.groups,
                    "api_key": e.api_key,
                    "reply": describe_reply(e),
                    "enabled": enabled,
                }
                for e, enabled in rows
            ]
        )
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("METHOD", "ROUTE", "ENDPOINT", "ACCESS", "REPLY", "ENABLED"):
        table.add_column(column, overflow="fold")
    for endpoint, enabled in rows:
        table.add_row(
            endpoint.method,
            escape(endpoint.route),
            escape(endpoint.id),
            describe_access(endpoint),
            escape(describe_reply(endpoint)),
            "yes" if enabled else "[yellow]no[/]",
        )
    print_table(table)


def match_one(project: Project, method: str, path: str) -> dict[str, Any]:
    """Return what `match` prints for one request: the router's outcome, its reason, and why the
    winner beat the other routes that also matched."""
    from epctl.schemas.routing import (
        BadEncoding,
        Disabled,
        Matched,
        MethodNotAllowed,
        NotFound,
        Outcome,
        Preflight,
    )

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
        case MethodNotAllowed(allowed=allowed) | Preflight(allowed=allowed):
            pass
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


@app.command("match")
def match_command(
    ctx: typer.Context,
    method: Annotated[str, typer.Argument(help="HTTP method, or - to read 'METHOD PATH' lines from stdin.")],
    path: Annotated[str | None, typer.Argument(help="Request path as sent, percent-encoded.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    version: VersionOption = DEVELOP,
) -> None:
    """Show which endpoint a request reaches, its params, and why that route won."""
    from rich.markup import escape

    from epctl.cli.output import print_json, stderr, stdout
    from epctl.schemas.routing import METHODS

    project = load_project_version(ctx, version)
    if method == "-":
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2 or parts[0].upper() not in (*METHODS, "HEAD"):
                stderr.print(
                    f"[red]Error:[/] stdin line {number}: expected 'METHOD PATH', got {line.strip()!r}"
                )
                raise typer.Exit(ExitCode.USAGE)
            stdout.out(
                json.dumps(match_one(project, parts[0], parts[1]), ensure_ascii=False),
                highlight=False,
            )
        return
    if path is None:
        raise typer.BadParameter("give a PATH, or use `match -` to read lines from stdin", param_hint="PATH")
    if method.upper() not in (*METHODS, "HEAD"):
        raise typer.BadParameter(
            f"{method!r} is not one of {', '.join((*METHODS, 'HEAD'))}", param_hint="METHOD"
        )
    result = match_one(project, method, path)
    if as_json:
        print_json(result)
        return
    status = result["status"]
    if result["endpoint"]:
        where = f"{result['file']}:{result['line']}"
        stdout.print(
            f"{result['method']} {escape(path)} → [bold]{status}[/] "
            f"[cyan]{escape(result['endpoint'])}[/] [dim]({escape(where)})[/]"
        )
        stdout.print(f"  route   {escape(result['route'])}")
    else:
        stdout.print(f"{result['method']} {escape(path)} → [bold]{status}[/] no endpoint")
    if result["params"]:
        params = ", ".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in result["params"].items())
        stdout.print(f"  params  {escape(params)}")
    if result["allowed"] and status in (204, 405):
        stdout.print(f"  allow   {', '.join(result['allowed'])}")
    stdout.print(f"  why     {escape(result['reason'])}")
    for line in result["why"]:
        stdout.print(f"          {escape(line)}")


@app.command("usage")
def usage_command(
    ctx: typer.Context,
    endpoint_id: Annotated[str, typer.Argument(metavar="ENDPOINT_ID", help="Endpoint id.")],
) -> None:
    """List the workflows and pages linked to an endpoint."""
    from rich.markup import escape

    from epctl.cli.output import format_place, stdout
    from epctl.runtime.usage import find_usage
    from epctl.schemas.version_file import load_version

    project = load_version(get_state(ctx).project_dir, DEVELOP)
    usage = find_usage(project, endpoint_id)
    endpoint = project.endpoint(endpoint_id)
    assert endpoint is not None
    place = project.declarations.place("endpoint", endpoint_id)
    stdout.print(
        f"[bold]{escape(endpoint_id)}[/]  {endpoint.method} {escape(endpoint.route)}  "
        f"[dim]{escape(format_place(place))}[/]"
    )
    stdout.print("workflows:" if usage.workflows else "workflows: none")
    for workflow in usage.workflows:
        where = format_place(project.declarations.place("workflow", workflow.name))
        stdout.print(f"  {escape(workflow.name)}  {escape(workflow.handler)}  [dim]{escape(where)}[/]")
    stdout.print("pages:" if usage.pages else "pages: none")
    for page, hows in usage.pages.items():
        stdout.print(f"  {escape(page)}  [dim]via {escape(', '.join(hows))}[/]")


@app.command("init")
def init_command(
    directory: Annotated[Path, typer.Argument(help="Folder for the new project.")] = Path("."),
) -> None:
    """Create a new project with one page endpoint and one API endpoint."""
    from rich.markup import escape

    from epctl.cli.output import stderr
    from epctl.runtime.scaffold import create_project

    written = create_project(directory)
    for path in written:
        stderr.print(f"  [green]created[/] {escape(str(path))}")
    shown = directory if directory != Path(".") else Path.cwd().name
    where = escape(str(shown))
    stderr.print(
        f"\nNext: [bold]epctl --project {where} validate[/], then [bold]epctl --project {where} serve[/]"
    )
