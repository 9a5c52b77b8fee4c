"""The typer app, its error handling and exit codes, and what every command shares."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup, TyperOption

if TYPE_CHECKING:
    # typer bundles its own click; its Context is what a group's `invoke` receives.
    from typer._click.core import Command as ClickCommand
    from typer._click.core import Context as ClickContext
    from typer._click.core import Parameter as ClickParameter

    from epctl.schemas.project import Project

# Only typer is imported when the CLI starts: `epctl --version` and `--help` answer at once. Each
# command imports what it uses (pydantic through the loader, rich, Jinja, werkzeug, gunicorn) when it
# runs; tests/test_imports.py keeps it that way.

# The name of the editable version, `epctl.schemas.project.DEVELOP`, spelled out here because option
# defaults are needed when the CLI starts; tests/test_imports.py checks the two agree.
DEVELOP = "develop"


class ProblemFormat(StrEnum):
    """The formats of a validation report (`validate --format`)."""

    TEXT = "text"
    JSON = "json"
    GITHUB = "github"
    SARIF = "sarif"


class ExitCode(IntEnum):
    """Every exit status epctl uses, in one place."""

    OK = 0
    # A verdict (validation problems, a difference found, a check that failed), or a command without
    # a verdict that could not do its work.
    PROBLEMS = 1
    # Bad command line (click uses 2 as well), a name that does not exist (a version, an environment),
    # or a command with a verdict that could not reach one.
    USAGE = 2


# Commands whose exit status is a verdict (0 clean or equal, 1 problems or different): for them, not
# being able to run (no project, a version that does not load) must not read as a verdict, so it is 2.
VERDICT_COMMANDS = frozenset({"validate", "diff", "verify", "match"})


def exit_code_of(err: Exception, command: str | None) -> ExitCode:
    """Return the exit status of a command that failed with `err`, an error `report_error` printed."""
    from epctl.schemas.problems import UsageError

    if isinstance(err, UsageError) or command in VERDICT_COMMANDS:
        return ExitCode.USAGE
    return ExitCode.PROBLEMS


class EpctlGroup(TyperGroup):
    """Turns every EpctlError into a message on stderr and an exit code, never a traceback.

    Done in the click group that runs every command, so `epctl` and typer's CliRunner (which
    invokes the click command directly) behave the same. Bugs keep their traceback.
    """

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except typer.BadParameter as err:
            # typer converts values with pydantic, whose message for a ValueError (a bad choice of an
            # enum option) starts "Value error, ": the user typed no Python, so say only what is wrong.
            err.message = err.message.removeprefix("Value error, ")
            raise
        except Exception as err:
            # Only epctl's own modules raise EpctlErrors: click's exceptions (usage errors, Exit) go on
            # untouched, without importing what reports epctl's.
            if not type(err).__module__.startswith("epctl.") or not report_error(err):
                raise
            raise typer.Exit(exit_code_of(err, ctx.invoked_subcommand)) from None

    def get_params(self, ctx: ClickContext) -> list[ClickParameter]:
        params = super().get_params(ctx)
        hide_flag_types(params)
        return params

    def get_command(self, ctx: ClickContext, cmd_name: str) -> ClickCommand | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            hide_command_flag_types(command, ctx)
        return command


def hide_command_flag_types(command: ClickCommand, ctx: ClickContext) -> None:
    """Hide the value type of the flags of `command` and of every command under it, `--help` too."""
    help_option = command.get_help_option(ctx)  # made once per command, with the names of `ctx`
    hide_flag_types([*command.params, *([help_option] if help_option else [])])
    for sub in getattr(command, "commands", {}).values():
        hide_command_flag_types(sub, ctx)


def hide_flag_types(params: list[ClickParameter]) -> None:
    """Give flags an empty metavar: typer's help would show `<bool>` as if `--strict` took a value."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""


def report_error(err: Exception) -> bool:
    """Print an EpctlError (a ProjectError as its problems) on stderr; return False for anything else.

    Imported here, not at the top: an EpctlError means epctl.schemas is loaded already.
    """
    from rich.markup import escape

    from epctl.cli.output import count_problems, print_problems, stderr
    from epctl.schemas.problems import EpctlError, ProjectError

    if isinstance(err, ProjectError):
        print_problems(err.problems, ProblemFormat.TEXT, count_problems(err.problems))
        return True
    if isinstance(err, EpctlError):
        stderr.print(f"[red]Error:[/] {escape(str(err))}")
        return True
    return False


app = typer.Typer(
    cls=EpctlGroup,
    name="epctl",
    help="Config-as-code for HTTP experience endpoints: validate, route, freeze and serve a project.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # `epctl --install-completion` installs it; cli/completion.py completes the project's names.
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class State:
    def __init__(self, project: Path | None) -> None:
        self.project_option = project

    @property
    def project_dir(self) -> Path:
        """The project folder; raises ProjectNotFoundError when none holds epctl.toml."""
        from epctl.schemas.loader import find_project_dir, project_root

        if self.project_option is not None:
            return project_root(self.project_option)

        return find_project_dir(Path.cwd())


def print_version(value: bool) -> None:
    if value:
        from epctl.cli.main import version_line

        # Plain text: rich has nothing to add to one line, and importing it would double the time.
        typer.echo(version_line())
        raise typer.Exit(ExitCode.OK)


@app.callback()
def main_callback(
    ctx: typer.Context,
    project: Annotated[
        Path | None,
        typer.Option(
            "--project", "-p", help="Project folder (default: nearest folder upward with epctl.toml)."
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=print_version, is_eager=True, help="Print epctl's version.")
    ] = False,
) -> None:
    ctx.obj = State(project)


def get_state(ctx: typer.Context) -> State:
    state = ctx.find_root().obj
    assert isinstance(state, State)
    return state


def load_project_version(ctx: typer.Context, version: str = DEVELOP) -> Project:
    """Return a version of the project (develop by default), with its router; raises on problems."""
    from epctl.schemas.version_file import load_version

    return load_version(get_state(ctx).project_dir, version)


def complete_version(ctx: typer.Context, incomplete: str) -> list[str]:
    """Complete a version name (or develop) from the project, when Tab is pressed."""
    from epctl.cli.completion import complete_versions_or_develop

    return complete_versions_or_develop(ctx, incomplete)


VersionOption = Annotated[
    str,
    typer.Option(
        "--version",
        "-V",
        help="Version to use (default: develop).",
        autocompletion=complete_version,
    ),
]
