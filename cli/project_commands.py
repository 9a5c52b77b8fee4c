"""Commands that read a project: validate, routes, match, usage, and init."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

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
from epctl.cli.completion import complete_endpoint_ids

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
    from epctl.cli.project_support import report_validation

    passed = report_validation(get_state(ctx).project_dir, version, format, strict=strict)
    raise typer.Exit(ExitCode.OK if passed else ExitCode.PROBLEMS)


class AccessFilter(StrEnum):
    PUBLIC = "public"
    AUTHENTICATED = "authenticated"
    GROUPS = "groups"


class RouteSort(StrEnum):
    MATCH = "match"
    ROUTE = "route"
    ID = "id"
    FILE = "file"


def check_method_option(value: str | None) -> str | None:
    from epctl.schemas.routing import METHODS

    if value is not None and value.upper() not in METHODS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(METHODS)}")
    return value.upper() if value else None


@app.command("routes")
def routes_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    version: VersionOption = DEVELOP,
    text: Annotated[
        str | None, typer.Option("--filter", help="Only routes whose id or path holds TEXT (any case).")
    ] = None,
    method: Annotated[
        str | None, typer.Option("--method", "-m", help="Only this method.", callback=check_method_option)
    ] = None,
    access: Annotated[AccessFilter | None, typer.Option("--access", "-a", help="Only this access.")] = None,
    sort: Annotated[
        RouteSort, typer.Option("--sort", help="match (the router's order), route, id or file.")
    ] = RouteSort.MATCH,
) -> None:
    """Print the route table in match order (disabled endpoints last), filtered and sorted at will."""
    from rich.markup import escape
    from rich.table import Table

    from epctl.cli.output import print_json, print_table
    from epctl.cli.project_support import describe_access, describe_reply, select_routes, static_row

    project = load_project_version(ctx, version)
    rows = select_routes(project, text, method, access, sort)
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
                    "reply": describe_reply(project, e),
                    "enabled": enabled,
                    "file": place.file,
                    "line": place.line,
                }
                for e, enabled, place in rows
            ]
        )
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("METHOD", "ROUTE", "ENDPOINT", "ACCESS", "REPLY", "ENABLED"):
        table.add_column(column, overflow="fold")
    # The static mount first: the server answers paths under it before trying any route.
    mount = static_row(project, text, method, access)
    if mount:
        table.add_row(*(escape(cell) for cell in mount))
    for endpoint, enabled, _ in rows:
        table.add_row(
            endpoint.method,
            escape(endpoint.route),
            escape(endpoint.id),
            describe_access(endpoint),
            escape(describe_reply(project, endpoint)),
            "yes" if enabled else "[yellow]no[/]",
        )
    print_table(table)


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

    from epctl.cli.output import print_json, stderr, stdout, write_stdout
    from epctl.cli.project_support import match_one
    from epctl.schemas.routing import METHODS

    project = load_project_version(ctx, version)
    if method == "-":
        # One answer a line, so the output lines up with the input: a bad line answers with an error
        # object, the rest are still matched, and the exit status says some line was bad.
        bad_lines = 0
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            parts = line.split()
            error = (
                f"expected 'METHOD PATH', got {line.strip()!r}"
                if len(parts) != 2
                else f"{parts[0]!r} is not one of {', '.join((*METHODS, 'HEAD'))}"
                if parts[0].upper() not in (*METHODS, "HEAD")
                else None
            )
            if error is not None:
                bad_lines += 1
                stderr.print(f"[red]Error:[/] stdin line {number}: {escape(error)}")
                answer = {"line": number, "input": line.strip(), "error": error}
            else:
                answer = match_one(project, parts[0], parts[1])
            write_stdout(json.dumps(answer, ensure_ascii=False))
        raise typer.Exit(ExitCode.USAGE if bad_lines else ExitCode.OK)
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
    elif result.get("static"):
        stdout.print(
            f"{result['method']} {escape(path)} → [bold]{status}[/] [cyan]{escape(result['static'])}[/]"
        )
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
    endpoint_id: Annotated[
        str, typer.Argument(metavar="ENDPOINT_ID", help="Endpoint id.", autocompletion=complete_endpoint_ids)
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the workflows and pages linked to an endpoint."""
    from rich.markup import escape

    from epctl.cli.output import print_json, stdout
    from epctl.cli.project_support import _file_line
    from epctl.runtime.usage import find_usage
    from epctl.schemas.version_file import load_version

    project = load_version(get_state(ctx).project_dir, DEVELOP)
    usage = find_usage(project, endpoint_id)
    endpoint = project.endpoint(endpoint_id)
    assert endpoint is not None
    where = project.declarations
    place = where.place("endpoint", endpoint_id)
    if as_json:
        print_json(
            {
                "endpoint": {
                    "id": endpoint_id,
                    "method": endpoint.method,
                    "route": endpoint.route,
                    "file": place.file,
                    "line": place.line,
                },
                "workflows": [
                    {"name": w.name, "handler": w.handler, **_file_line(where.place("workflow", w.name))}
                    for w in usage.workflows
                ],
                "pages": [{"name": page, "via": hows} for page, hows in usage.pages.items()],
            }
        )
        return
    stdout.print(
        f"[bold]{escape(endpoint_id)}[/]  {endpoint.method} {escape(endpoint.route)}  "
        f"[dim]{escape(place.location())}[/]"
    )
    stdout.print("workflows:" if usage.workflows else "workflows: none")
    for workflow in usage.workflows:
        at = where.place("workflow", workflow.name).location()
        stdout.print(f"  {escape(workflow.name)}  {escape(workflow.handler)}  [dim]{escape(at)}[/]")
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
