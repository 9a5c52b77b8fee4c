"""Commands that write a project for its author: schema (editor support), new, remove."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from typer.core import TyperGroup

from epctl.cli.app import ExitCode, app, get_state
from epctl.cli.completion import complete_endpoint_ids
from epctl.cli.output import ProblemFormat, print_json, stderr
from epctl.cli.project_commands import report_validation
from epctl.runtime.editor_files import TAPLO_CONFIG, render_taplo_config, write_schemas
from epctl.runtime.remove_endpoint import plan_remove_endpoint
from epctl.runtime.scaffold_endpoint import (
    EndpointKind,
    FileChange,
    ScaffoldError,
    apply_changes,
    check_access,
    check_endpoint_id,
    check_method,
    check_name,
    check_route,
    plan_endpoint,
    plan_page,
    plan_workflow,
    suggest_endpoint_file,
    suggest_id,
)
from epctl.schemas.json_schema import build_schemas
from epctl.schemas.loader import read_project
from epctl.schemas.problems import EpctlError
from epctl.schemas.project import DEVELOP, Project


@app.command("schema")
def schema_command(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write one .schema.json per file kind into DIR.")
    ] = None,
    taplo: Annotated[
        bool,
        typer.Option(
            "--taplo", help=f"Also write the project's {TAPLO_CONFIG} pointing at DIR, if it has none."
        ),
    ] = False,
) -> None:
    """JSON Schema of epctl.toml and of each folder's TOML files, for editors and check-jsonschema."""
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


class Asker:
    """Asks for what the flags did not give: on a terminal, unless --yes; otherwise a missing answer
    with no default is a usage error naming its flag."""

    def __init__(self, yes: bool) -> None:
        self.interactive = not yes and sys.stdin.isatty()

    def ask(
        self,
        given: str | None,
        text: str,
        flag: str,
        *,
        default: str | None = None,
        check: Callable[[str], str] | None = None,
    ) -> str:
        """Return `given` (checked), else what the user types (re-asked until it passes `check`),
        else `default`; raise BadParameter when there is nothing to use."""
        if given is not None:
            return self.checked(given, flag, check)
        if not self.interactive:
            if default is None:
                raise typer.BadParameter(
                    f"missing: give {flag} (nothing is asked with --yes or when stdin is not a terminal)",
                    param_hint=flag,
                )
            return self.checked(default, flag, check)

        def process(value: str) -> str:
            try:
                return check(value) if check else value
            except EpctlError as err:
                # click shows this message and asks again: a conflicting route is caught as typed.
                raise typer.BadParameter(str(err)) from None

        answer: str = typer.prompt(text, default=default, value_proc=process)
        return answer

    def checked(self, value: str, flag: str, check: Callable[[str], str] | None) -> str:
        try:
            return check(value) if check else value
        except EpctlError as err:
            raise typer.BadParameter(str(err), param_hint=flag) from None

    def confirm(self, text: str) -> bool:
        return typer.confirm(text, default=True) if self.interactive else True


def read_develop(ctx: typer.Context) -> Project:
    """Return develop as it is now, problems or not (the wizard adds to a project being written)."""
    project, _ = read_project(get_state(ctx).project_dir)
    return project


def show_and_apply(root: Path, changes: list[FileChange], asker: Asker) -> None:
    """Show the files about to change, ask on a terminal, write them, then validate develop."""
    for change in changes:
        verb = "create" if change.created else "update"
        stderr.print(f"  [green]{verb}[/] {escape(change.path)}  [dim]{escape(', '.join(change.adds))}[/]")
    if not asker.confirm("Write these changes?"):
        raise typer.Exit(ExitCode.PROBLEMS)
    apply_changes(root, changes)
    passed = report_validation(root, DEVELOP, ProblemFormat.TEXT, strict=False)
    raise typer.Exit(ExitCode.OK if passed else ExitCode.PROBLEMS)


@new_app.command("endpoint")
def new_endpoint_command(
    ctx: typer.Context,
    kind: Annotated[
        EndpointKind | None,
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
