"""Shell completion of the names in a project: endpoint ids, version names, environment names.

typer installs the completion script (`epctl --install-completion`); these functions give the values.
They run while the user presses Tab, so they never raise and never print: a project that cannot be
read completes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from epctl.cli.app import DEVELOP

# Imported by cli/app.py when the CLI starts, so the project modules (pydantic) are imported only when
# Tab is pressed. `versions/` is spelled out for the same reason (`schemas.loader.VERSIONS_FOLDER`).
VERSIONS_FOLDER = "versions"


def _project_dir(ctx: typer.Context) -> Path | None:
    """Return the project the command line names (`--project`), else the one around the cwd."""
    from epctl.schemas.loader import find_project_dir
    from epctl.schemas.problems import EpctlError

    given = ctx.find_root().params.get("project")
    try:
        return Path(given).resolve() if given else find_project_dir(Path.cwd())
    except (EpctlError, OSError):
        return None


def _complete(names: Callable[[Path], list[str]]) -> Callable[[typer.Context, str], list[str]]:
    def complete(ctx: typer.Context, incomplete: str) -> list[str]:
        from epctl.schemas.problems import EpctlError

        root = _project_dir(ctx)
        if root is None:
            return []
        try:
            found = names(root)
        except (EpctlError, OSError, ValueError):
            return []
        return [name for name in found if name.startswith(incomplete)]

    return complete


def endpoint_ids(root: Path) -> list[str]:
    from epctl.schemas.loader import read_project

    project, _ = read_project(root)
    return [endpoint.id for endpoint in project.endpoints]


def version_names(root: Path) -> list[str]:
    return sorted(path.stem for path in (root / VERSIONS_FOLDER).glob("*.toml"))


def environment_names(root: Path) -> list[str]:
    from epctl.schemas.loader import read_environments

    environments, _ = read_environments(root)
    return sorted(environments)


complete_endpoint_ids = _complete(endpoint_ids)
complete_versions = _complete(version_names)
complete_versions_or_develop = _complete(lambda root: [DEVELOP, *version_names(root)])
complete_environments = _complete(environment_names)
