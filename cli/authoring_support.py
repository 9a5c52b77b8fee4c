"""What the authoring commands share: the asker (prompts or flags) and applying file changes.

Kept apart from the commands so that the CLI starts without rich or the loader.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import typer
from rich.markup import escape

from epctl.cli.app import ExitCode, ProblemFormat, get_state
from epctl.cli.output import stderr
from epctl.cli.project_support import report_validation
from epctl.runtime.scaffold_endpoint import (
    FileChange,
    apply_changes,
)
from epctl.schemas.loader import read_project
from epctl.schemas.problems import EpctlError
from epctl.schemas.project import DEVELOP, Project


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
