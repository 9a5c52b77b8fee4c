"""epctl.schemas: what the TOML means. Models, the project loader, the router, versions, problems."""

from __future__ import annotations

from epctl.schemas.loader import load_project, read_project
from epctl.schemas.problems import EpctlError, Problem, ProjectError
from epctl.schemas.project import Project

__all__ = ["EpctlError", "Problem", "Project", "ProjectError", "load_project", "read_project"]
