"""What the pre-commit hook command uses: finding the projects that changed files belong to."""

from __future__ import annotations

from pathlib import Path

from epctl.schemas.loader import ProjectNotFoundError, find_project_dir


def find_projects(files: list[Path]) -> list[Path]:
    """Return the projects holding `files`, each once, in path order; files outside any are skipped."""
    projects = set()
    for file in files:
        try:
            projects.add(find_project_dir(file.parent))
        except ProjectNotFoundError:
            continue
    return sorted(projects)
