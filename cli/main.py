"""The `epctl` command line. The only module tree that imports typer and rich.

`main` is the console script. Importing this module imports nothing but the standard library: the
typer app and its commands are loaded when `main` runs, or when something asks for `app`.
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

    from epctl.cli.app import app

__all__ = ["app", "load_app", "main", "version_line"]


def version_line() -> str:
    """Return what `epctl --version` prints: `epctl 0.1.0`."""
    import importlib.metadata

    return f"epctl {importlib.metadata.version('epctl')}"


def load_app() -> typer.Typer:
    """Return the typer app with every command on it (importing a command module registers its commands)."""
    from epctl.cli import (  # noqa: F401
        authoring_commands,
        case_commands,
        contract_commands,
        hook_commands,
        project_commands,
        serve_commands,
        users_commands,
        version_commands,
    )
    from epctl.cli.app import app

    return app


def main() -> None:
    # `epctl --version` alone, what scripts and shells run to see the tool is there, answers before
    # typer is imported and every command built: in about the time Python takes to start. With other
    # arguments (`epctl -p DIR --version`) typer handles it, printing the same line.
    if sys.argv[1:] == ["--version"]:
        print(version_line())
        return
    # A command loads a whole project, whose objects stay alive until it exits: the cyclic GC's full
    # collections then find nothing, and each one walks everything loaded so far, so their cost grows
    # faster than the project (a quarter of `validate` at 100,000 endpoints). Young objects are still
    # collected as usual; only full collections become rarer.
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 1000)
    app = load_app()
    keep_only_invoked(app, sys.argv[1:])
    app()


# The options of `epctl` itself that take a value, so that the value is not read as a command's name.
_GLOBAL_OPTIONS_WITH_VALUE = frozenset({"--project", "-p"})


def find_invoked_name(args: list[str]) -> str | None:
    """Return the name of the command (or command group) `args` invoke, None when they invoke none
    (only options, `--help`, `--version`)."""
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in ("--help", "--version", "--"):
            return None
        if arg in _GLOBAL_OPTIONS_WITH_VALUE:
            index += 2
            continue
        if arg.startswith("-"):
            index += 1  # `--project=DIR`, `-pDIR`, or an option typer will refuse by itself
            continue
        return arg
    return None


def keep_only_invoked(app: typer.Typer, args: list[str]) -> None:
    """Register on `app` only the command or group `args` invoke, when there is one by that name.

    typer builds every registered command (each function's signature and type hints) before it runs
    one: a fifth of a short command's time. Only for the console script, whose process runs one
    command; a name that matches nothing keeps them all, for click's error and its suggestions.
    """
    name = find_invoked_name(args)
    if name is None:
        return
    commands = [info for info in app.registered_commands if info.name == name]
    groups = [info for info in app.registered_groups if info.name == name]
    if commands or groups:
        app.registered_commands = commands
        app.registered_groups = groups


def __getattr__(name: str) -> Any:
    # `from epctl.cli.main import app` (the tests, tools that drive the CLI) gets the full app.
    if name == "app":
        return load_app()
    raise AttributeError(f"module 'epctl.cli.main' has no attribute {name!r}")


if __name__ == "__main__":
    main()
