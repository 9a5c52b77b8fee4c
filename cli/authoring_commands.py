"""Commands that write a project for its author: schema (editor support), new, remove."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from epctl.cli.app import ExitCode, app, get_state
from epctl.cli.completion import complete_endpoint_ids

# Each command imports what it uses when it runs (see cli/app.py): the CLI starts with typer alone.


class KindOption(StrEnum):
    """`--kind`: the values of `epctl.runtime.scaffold_endpoint.EndpointKind`, named here so that the
    CLI starts without the models (tests/test_imports.py checks the two agree)."""

    PAGE = "page"
    API = "api"
    CUSTOM = "custom"


@app.command("schema")
def schema_command(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write one .schema.json per file kind into DIR.")
    ] = None,
    taplo: Annotated[
        bool,
        typer.Option("--taplo", help="Also write the project's .taplo.toml pointing at DIR, if it has none."),
    ] = False,
) -> None:
    """JSON Schema of epctl.toml and of each folder's TOML files, for editors and check-jsonschema."""
    from rich.markup import escape

    from epctl.cli.output import print_json, stderr
    from epctl.runtime.editor_files import TAPLO_CONFIG, render_taplo_config, write_schemas
    from epctl.schemas.json_schema import build_schemas

    if out is None:
        if taplo:
            raise typer.BadParameter(
                "--taplo needs --out DIR: the schemas it points at", param_hint="--taplo"
            )
        print_json(build_schemas())
        return
    for path in write_schemas(out):
        stderr.print(f"  [green]wrote[/] {escape(str(path))}")
    if taplo:
        root = get_state(ctx).project_dir
        config = root / TAPLO_CONFIG
        if config.exists():
            stderr.print(
                f"  [yellow]kept[/] {escape(str(config))} (it exists; edit its schema paths by hand)"
            )
            return
        folder = out.resolve()
        relative = folder.relative_to(root).as_posix() if folder.is_relative_to(root) else folder.as_posix()
        config.write_text(render_taplo_config(relative), encoding="utf-8")
        stderr.print(f"  [green]wrote[/] {escape(str(config))}")


# -- new ------------------------------------------------------------------------------------------
new_app = typer.Typer(
    cls=TyperGroup,
    help="Losant's wizard: add an endpoint, page or workflow, then validate.",
    no_args_is_help=True,
)
remove_app = typer.Typer(cls=TyperGroup, help="Remove an endpoint, with its workflows.", no_args_is_help=True)
app.add_typer(new_app, name="new")
app.add_typer(remove_app, name="remove")

YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Ask nothing: use the flags given and defaults for the rest.")
]


@new_app.command("endpoint")
def new_endpoint_command(
    ctx: typer.Context,
    kind: Annotated[
        KindOption | None,
        typer.Option(
            "--kind", "-k", help="page: display a page; api: return data; custom: a workflow to fill in."
        ),
    ] = None,
    endpoint_id: Annotated[
        str | None, typer.Option("--id", help="Endpoint id (default: from the route).")
    ] = None,
    method: Annotated[str | None, typer.Option("--method", "-m", help="HTTP method (default GET).")] = None,
    route: Annotated[str | None, typer.Option("--route", "-r", help='Route, e.g. "/devices/{id}".')] = None,
    access: Annotated[
        str | None, typer.Option("--access", "-a", help="public (default), authenticated or groups.")
    ] = None,
    group: Annotated[list[str] | None, typer.Option("--group", "-g", help="A group allowed; repeat.")] = None,
    file: Annotated[
        str | None, typer.Option("--file", help="Endpoints file (default: where similar routes are).")
    ] = None,
    yes: YesOption = False,
) -> None:
    """Add an endpoint with its page and template, or its workflow and handler stub."""
    from epctl.cli.authoring_support import Asker, read_develop, show_and_apply
    from epctl.runtime.scaffold_endpoint import (
        EndpointKind,
        check_access,
        check_endpoint_id,
        check_method,
        check_route,
        plan_endpoint,
        suggest_endpoint_file,
        suggest_id,
    )

    project = read_develop(ctx)
    asker = Asker(yes)
    kind_text = asker.ask(
        kind,
        "What should it do? display a page, return data for an API, or custom",
        "--kind",
        check=check_kind,
    )
    chosen = EndpointKind(kind_text)
    method = asker.ask(method, "Method", "--method", default="GET", check=check_method)
    route = asker.ask(route, "Route", "--route", check=lambda value: check_route(project, method, value))
    endpoint_id = asker.ask(
        endpoint_id,
        "Endpoint id",
        "--id",
        default=suggest_id(route),
        check=lambda value: check_endpoint_id(project, value),
    )
    access = asker.ask(
        access, "Access (public, authenticated, groups)", "--access", default="public", check=check_access
    )
    groups = list(group or [])
    if access == "groups" and not groups:
        groups = [
            g.strip()
            for g in asker.ask(None, "Groups allowed (comma-separated)", "--group").split(",")
            if g.strip()
        ]
    file = asker.ask(file, "Endpoints file", "--file", default=suggest_endpoint_file(project, route, chosen))
    changes = plan_endpoint(
        project,
        kind=chosen,
        endpoint_id=endpoint_id,
        method=method,
        route=route,
        access=access,
        groups=groups,
        file=file,
    )
    show_and_apply(project.root, changes, asker)


def check_kind(value: str) -> str:
    """Return `value` when it names an endpoint kind; raise ScaffoldError otherwise."""
    from epctl.runtime.scaffold_endpoint import EndpointKind, ScaffoldError

    if value not in {str(kind) for kind in EndpointKind}:
        raise ScaffoldError(
            f'"{value}" is not a kind: use page (display a page), api (return data) or custom'
        )
    return value


@new_app.command("page")
def new_page_command(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", "--id", help="Page name.")] = None,
    layout: Annotated[
        str | None, typer.Option("--layout", help="Layout to wrap it (default: the first).")
    ] = None,
    file: Annotated[
        str | None, typer.Option("--file", help="Pages file (default: where the pages are).")
    ] = None,
    yes: YesOption = False,
) -> None:
    """Add a page and its template."""
    from epctl.cli.authoring_support import Asker, read_develop, show_and_apply
    from epctl.runtime.scaffold_endpoint import check_name, plan_page

    project = read_develop(ctx)
    asker = Asker(yes)
    name = asker.ask(
        name, "Page name", "--name", check=lambda value: check_name("page", value, list(project.pages))
    )
    first_layout = next(iter(project.layouts), "")
    layout = asker.ask(layout, "Layout (empty for none)", "--layout", default=first_layout) or None
    changes = plan_page(project, name=name, layout=layout, file=file)
    show_and_apply(project.root, changes, asker)


@new_app.command("workflow")
def new_workflow_command(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", "--id", help="Workflow name.")] = None,
    endpoint: Annotated[
        list[str] | None, typer.Option("--endpoint", "-e", help="An endpoint id that triggers it; repeat.")
    ] = None,
    file: Annotated[
        str | None, typer.Option("--file", help="Workflows file (default: where the workflows are).")
    ] = None,
    yes: YesOption = False,
) -> None:
    """Add a workflow and its handler stub."""
    from epctl.cli.authoring_support import Asker, read_develop, show_and_apply
    from epctl.runtime.scaffold_endpoint import check_name, plan_workflow

    project = read_develop(ctx)
    asker = Asker(yes)
    name = asker.ask(
        name,
        "Workflow name",
        "--name",
        check=lambda value: check_name("workflow", value, list(project.workflows)),
    )
    endpoints = list(endpoint or [])
    if not endpoints and asker.interactive:
        answer = asker.ask(
            None, "Endpoint ids that trigger it (comma-separated, empty for none)", "--endpoint", default=""
        )
        endpoints = [e.strip() for e in answer.split(",") if e.strip()]
    changes = plan_workflow(project, name=name, endpoints=endpoints, file=file)
    show_and_apply(project.root, changes, asker)


# -- remove ---------------------------------------------------------------------------------------
@remove_app.command("endpoint")
def remove_endpoint_command(
    ctx: typer.Context,
    endpoint_id: Annotated[
        str,
        typer.Argument(metavar="ID", help="The endpoint to remove.", autocompletion=complete_endpoint_ids),
    ],
    with_workflows: Annotated[
        bool, typer.Option("--with-workflows", help="Also remove the workflows only this endpoint triggers.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Remove without asking.")] = False,
) -> None:
    """Remove an endpoint (and with --with-workflows the workflows only it triggers); shows the
    change and asks first unless --yes; validates after."""
    from rich.markup import escape

    from epctl.cli.app import ProblemFormat
    from epctl.cli.authoring_support import read_develop
    from epctl.cli.output import stderr
    from epctl.cli.project_support import report_validation
    from epctl.runtime.remove_endpoint import plan_remove_endpoint
    from epctl.runtime.scaffold_endpoint import apply_changes
    from epctl.schemas.project import DEVELOP

    project = read_develop(ctx)
    removal = plan_remove_endpoint(project, endpoint_id, with_workflows=with_workflows)
    for line in removal.described:
        colour = "red" if line.startswith("-") else "yellow"
        stderr.print(f"  [{colour}]{escape(line)}[/]")
    if not yes and not typer.confirm("Remove?", default=False):
        stderr.print("Nothing removed.")
        raise typer.Exit(ExitCode.PROBLEMS)
    apply_changes(project.root, removal.changes)
    passed = report_validation(project.root, DEVELOP, ProblemFormat.TEXT, strict=False)
    raise typer.Exit(ExitCode.OK if passed else ExitCode.PROBLEMS)
