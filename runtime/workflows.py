"""Workflow handlers: compiled once per app from the project's sources, called with one request object.

Handler files come from `Project.files`, not from disk: develop and a frozen version run the very
same text, and each app runs them in its own `ModuleSpace`, so two projects (or two versions of one)
served by one process never share module state.
"""

from __future__ import annotations

import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass

from epctl.runtime.handler_modules import ModuleSpace
from epctl.runtime.request import Request
from epctl.schemas.handler_files import WORKFLOWS_FOLDER
from epctl.schemas.problems import Code, Place, Problem, ProjectError
from epctl.schemas.project import Project


@dataclass(frozen=True, slots=True)
class Handler:
    """One workflow's function, ready to call."""

    workflow: str
    handler: str
    function: Callable[[Request], object]


def load_handlers(project: Project) -> dict[str, list[Handler]]:
    """Return {endpoint id: its handlers in declaration order}, each handler file executed once.

    Handler files import the project's other modules under `workflows/` from this version's own
    `ModuleSpace`. Raises ProjectError when a handler file fails to run at import time (code
    `handler-error`) or does not define the function a workflow names (`unknown-handler`, as
    `validate` reports it).
    """
    # Tracebacks name the develop file, or `<version file>[<path>]` for a frozen version.
    space = ModuleSpace(
        project.files, prefix=f"{project.name}.{project.version}", filename=project.source_name
    )
    modules: dict[str, types.ModuleType | None] = {}
    problems: list[Problem] = []
    by_endpoint: dict[str, list[Handler]] = {}
    for workflow in project.workflows.values():
        path = workflow.handler_file
        if path not in modules:
            try:
                modules[path] = space.run_file(path)
            except Exception as err:
                problems.append(_import_problem(err, path, project.source_name))
                modules[path] = None
        module = modules[path]
        if module is None:
            continue  # already reported once for the file
        function = getattr(module, workflow.handler_function, None)
        if not callable(function):
            problems.append(
                Problem.error(
                    Code.UNKNOWN_HANDLER,
                    f'{path} defines no function "{workflow.handler_function}" (workflow "{workflow.name}")',
                    Place(file=path, id=workflow.name),
                )
            )
            continue
        handler = Handler(workflow.name, workflow.handler, function)
        for endpoint_id in workflow.endpoints:
            by_endpoint.setdefault(endpoint_id, []).append(handler)
    if problems:
        raise ProjectError(problems)
    return by_endpoint


def _import_problem(err: Exception, path: str, filename: Callable[[str], str]) -> Problem:
    """Return the problem of a handler file that failed to run, at the deepest line of a project
    file in its traceback (the failing line may be in a module the handler file imports)."""
    file, line = path, None
    if isinstance(err, SyntaxError):
        file = _project_path(err.filename, path, filename) or path
        line = err.lineno
    else:
        for frame in reversed(traceback.extract_tb(err.__traceback__)):
            found = _project_path(frame.filename, path, filename)
            if found is not None:
                file, line = found, frame.lineno
                break
    return Problem.error(
        Code.HANDLER_ERROR,
        f"running {path} failed: {type(err).__name__}: {err}",
        Place(file=file, line=line),
    )


def _project_path(name: str | None, path: str, filename: Callable[[str], str]) -> str | None:
    """Return the project path whose traceback name is `name`, if it is a workflows file."""
    if name is None:
        return None
    if name == filename(path):
        return path
    # `<root>/workflows` for develop, `<version file>[workflows` for a frozen version.
    root = filename(WORKFLOWS_FOLDER).removesuffix("]")
    if name.startswith(root + "/"):
        return WORKFLOWS_FOLDER + name[len(root) :].replace("\\", "/").removesuffix("]")
    return None
