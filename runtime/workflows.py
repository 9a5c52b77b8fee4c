"""Workflow handlers: compiled once per app from the project's sources, called with one request object.

Handler files come from `Project.files`, not from `import`: develop and a frozen version run the very
same text, each file becomes its own module object, and two projects (or two versions of one) served
by one process never share module state.
"""

from __future__ import annotations

import linecache
import re
import sys
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass

from epctl.runtime.request import Request
from epctl.schemas.problems import Code, Place, Problem, ProjectError
from epctl.schemas.project import Project

_MODULE_CHARS = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True, slots=True)
class Handler:
    """One workflow's function, ready to call."""

    workflow: str
    handler: str
    function: Callable[[Request], object]


def load_handlers(
    project: Project,
) -> dict[str, list[Handler]]:
    """Return {endpoint id: its handlers in declaration order}, each handler file executed once.

    Raises ProjectError when a handler file fails to run at import time (code `handler-error`) or
    does not define the function a workflow names (`unknown-handler`, as `validate` reports it).
    """
    modules: dict[str, types.ModuleType | None] = {}
    problems: list[Problem] = []
    by_endpoint: dict[str, list[Handler]] = {}
    for workflow in project.workflows.values():
        path = workflow.handler_file
        if path not in modules:
            try:
                # Tracebacks name the develop file, or `<version file>[<path>]` for a frozen version.
                modules[path] = _run_module(project, path, project.source_name(path))
            except Exception as err:
                problems.append(_import_problem(err, path, project.source_name(path)))
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


def _run_module(project: Project, path: str, filename: str) -> types.ModuleType:
    source = project.files[path]
    code = compile(source, filename, "exec")
    # Tracebacks show the lines that actually ran, even for a version whose code is in no file of its
    # own, or a develop file edited since (mtime None: linecache.checkcache keeps such entries).
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    # One module name per project, version and file: registered so that dataclasses, pickling and
    # `typing.get_type_hints` in user code find their module; a rebuild replaces the old entry.
    name = "epctl_handlers." + "_".join(
        _MODULE_CHARS.sub("_", part) for part in (project.name, project.version, path.removesuffix(".py"))
    )
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _import_problem(err: Exception, path: str, filename: str) -> Problem:
    line = None
    if isinstance(err, SyntaxError):
        line = err.lineno
    else:
        frames = [frame for frame in traceback.extract_tb(err.__traceback__) if frame.filename == filename]
        line = frames[-1].lineno if frames else None
    return Problem.error(
        Code.HANDLER_ERROR,
        f"running {path} failed: {type(err).__name__}: {err}",
        Place(file=path, line=line),
    )
