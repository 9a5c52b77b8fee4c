"""`epctl hook validate|verify FILE...`: what the pre-commit hooks in `.pre-commit-hooks.yaml` run.

pre-commit passes the changed files; each is checked in the project that holds it (the nearest
folder upward with `epctl.toml`), so one repository may hold several projects, anywhere, with no
hook arguments. Hidden from `--help`: people run `validate` and `verify` themselves."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from epctl.cli.app import ExitCode, app

# Each command imports what it uses when it runs (see cli/app.py): the CLI starts with typer alone.


class HookCheck(StrEnum):
    VALIDATE = "validate"
    VERIFY = "verify"


@app.command("hook", hidden=True)
def hook_command(
    check: Annotated[HookCheck, typer.Argument(help="validate or verify.")],
    files: Annotated[
        list[Path] | None, typer.Argument(help="Changed files, as pre-commit passes them.")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="validate: fail on warnings too.")] = False,
) -> None:
    """Run `validate` or `verify` on every project holding one of FILES (the pre-commit hooks)."""
    from rich.markup import escape

    from epctl.cli.app import ProblemFormat
    from epctl.cli.hook_support import find_projects
    from epctl.cli.output import stderr
    from epctl.cli.project_support import report_validation
    from epctl.cli.version_commands import report_verification
    from epctl.schemas.project import DEVELOP

    passed = True
    for root in find_projects(files or []):
        shown = root.relative_to(Path.cwd().resolve()) if root.is_relative_to(Path.cwd().resolve()) else root
        stderr.print(f"[bold]epctl {check} {escape(str(shown))}[/]")
        if check is HookCheck.VALIDATE:
            passed &= report_validation(root, DEVELOP, ProblemFormat.TEXT, strict=strict)
        else:
            passed &= report_verification(root)
    raise typer.Exit(ExitCode.OK if passed else ExitCode.PROBLEMS)
