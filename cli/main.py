"""The `epctl` command line. The only module tree that imports typer and rich."""

from __future__ import annotations

# Importing the command modules registers their commands on the app.
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
