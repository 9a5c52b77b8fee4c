"""Shell completion of the names in a project: endpoint ids, version names, environment names.

typer installs the completion script (`epctl --install-completion`); these functions give the values.
They run while the user presses Tab, so they never raise and never print: a project that cannot be
read completes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from epctl.schemas.loader import VERSIONS_FOLDER, find_project_dir, read_environments, read_project
from epctl.schemas.problems import EpctlError
from epctl.schemas.project import DEVELOP


def _project_dir(ctx: typer.Context) -> Path | None:
    """Return the project the command line names (`--project`), else the one around the cwd."""
    given = ctx.find_root().params.get("project")
    try:
        return Path(given).resolve() if given else find_project_dir(Path.cwd())
    except (EpctlError, OSError):
        return None


def _complete(names: Callable[[Path], list[str]]) -> Callable[[typer.Context, str], list[str]]:
    def complete(ctx: typer.Context, incomplete: str) -> list[str]:
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
    project, _ = read_project(root)
    return [endpoint.id for endpoint in project.endpoints]


def version_names(root: Path) -> list[str]:
    return sorted(path.stem for path in (root / VERSIONS_FOLDER).glob("*.toml"))


def environment_names(root: Path) -> list[str]:
    environments, _ = read_environments(root)
    return sorted(environments)


complete_endpoint_ids = _complete(endpoint_ids)
complete_versions = _complete(version_names)
complete_versions_or_develop = _complete(lambda root: [DEVELOP, *version_names(root)])
complete_environments = _complete(environment_names)
