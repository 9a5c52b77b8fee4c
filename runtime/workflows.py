"""Workflow handlers: compiled once per app from the project's sources, called with one request object.

Handler files come from `Project.files`, not from `import`: develop and a frozen version run the very
same text, each file becomes its own module object, and two projects (or two versions of one) served
by one process never share module state.
"""

from __future__ import annotations

import json
import linecache
import re
import sys
import traceback
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request

from epctl.schemas.problems import EpctlError, Place, Problem, ProjectError, Severity
from epctl.schemas.project import Project

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_MODULE_CHARS = re.compile(r"[^A-Za-z0-9_]")


class BadBodyError(EpctlError):
    """A request body that says it is JSON but is not: the request is answered 400."""


class HeaderDict(dict[str, str]):
    """Request headers under lowercase names, looked up case-insensitively (`headers["User-Agent"]`)."""

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name.lower() if isinstance(name, str) else name)

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    """The endpoint a workflow runs for: what SPEC §1 passes to workflows, nothing more."""

    id: str
    route: str
    tags: Mapping[str, str]


@dataclass(slots=True)
class WorkflowRequest:
    """The one argument of a workflow handler."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    headers: HeaderDict
    cookies: dict[str, str]
    body: Any
    user: dict[str, Any] | None
    endpoint: EndpointInfo
    version: str
    globals: Mapping[str, Any]
    time: datetime


@dataclass(frozen=True, slots=True)
class Handler:
    """One workflow's function, ready to call."""

    workflow: str
    handler: str
    function: Callable[[WorkflowRequest], Any]


def load_handlers(
    project: Project,
) -> dict[str, list[Handler]]:
    """Return {endpoint id: its handlers in declaration order}, each handler file executed once.

    Raises ProjectError (code `handler-error`) when a handler file fails to run at import time or does
    not define the function a workflow names.
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
                Problem(
                    Severity.ERROR,
                    "handler-error",
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
    return Problem(
        Severity.ERROR,
        "handler-error",
        f"running {path} failed: {type(err).__name__}: {err}",
        Place(file=path, line=line),
    )


def read_body(request: Request) -> Any:
    """Return the request body for a workflow: parsed JSON for JSON content types, a dict of fields
    (last value wins) for form posts, text for any other non-empty body, None for an empty one.

    Raises BadBodyError when a JSON body does not parse.
    """
    environ = request.environ
    if environ.get("CONTENT_LENGTH", "") in ("", "0") and "chunked" not in environ.get(
        "HTTP_TRANSFER_ENCODING", ""
    ):
        return None  # no body: skip parsing a content type and reading the stream (most GETs)
    mimetype = request.mimetype
    if mimetype in _FORM_TYPES:
        return {name: values[-1] for name, values in request.form.lists()}
    data = request.get_data(cache=True)
    if not data:
        return None
    if mimetype == "application/json" or mimetype.endswith("+json"):
        try:
            return json.loads(data)
        except ValueError as err:
            raise BadBodyError(f"the JSON body does not parse: {err}") from None
    charset = request.mimetype_params.get("charset", "utf-8")
    try:
        return data.decode(charset, "replace")
    except LookupError:  # an unknown charset name: UTF-8 is what the rest of the web sends
        return data.decode("utf-8", "replace")
