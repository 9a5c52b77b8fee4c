"""`epctl usage`: what an endpoint is linked to, found from the tables and the handlers' code."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from epctl.schemas.models import Workflow
from epctl.schemas.problems import EpctlError, did_you_mean
from epctl.schemas.project import Project


class UnknownEndpointError(EpctlError):
    """An endpoint id that the project does not declare."""


@dataclass
class Usage:
    endpoint_id: str
    workflows: list[Workflow] = field(default_factory=list)
    # page name -> how the endpoint reaches it ("reply", "unauthorized_reply", "workflow show-device")
    pages: dict[str, list[str]] = field(default_factory=dict)


def find_pages_rendered(source: str, function: str) -> list[str]:
    """Return page names passed as a literal first argument to `page(...)` inside `function`."""
    names: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            for call in ast.walk(node):
                if (
                    isinstance(call, ast.Call)
                    and getattr(call.func, "id", getattr(call.func, "attr", None)) == "page"
                    and call.args
                    and isinstance(call.args[0], ast.Constant)
                    and isinstance(call.args[0].value, str)
                ):
                    names.append(call.args[0].value)
    return names


def find_usage(project: Project, endpoint_id: str) -> Usage:
    """Return the workflows an endpoint triggers and the pages it can reply with.

    Raises UnknownEndpointError for an id the project does not declare.
    """
    endpoint = project.endpoint(endpoint_id)
    if endpoint is None:
        raise UnknownEndpointError(
            f'no endpoint "{endpoint_id}" in this project'
            + did_you_mean(endpoint_id, [e.id for e in project.endpoints])
        )
    usage = Usage(endpoint_id)

    def link(page: str, how: str) -> None:
        usage.pages.setdefault(page, []).append(how)

    for key in ("reply", "unauthorized_reply"):
        reply = getattr(endpoint, key)
        if reply is not None and reply.page:
            link(reply.page, key)
    usage.workflows = project.workflows_for(endpoint_id)
    for workflow in usage.workflows:
        for page in find_pages_rendered(project.files[workflow.handler_file], workflow.handler_function):
            link(page, f"workflow {workflow.name}")
    return usage
