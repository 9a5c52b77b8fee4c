"""The loaded project: immutable, carrying the router the loader built from its endpoints."""

from __future__ import annotations

import dataclasses

import pytest

from epctl.schemas.loader import load_project, read_project
from epctl.schemas.models import Endpoint
from epctl.schemas.routing import Matched, Router
from tests.conftest import SAMPLE, WriteProject


def test_the_router_is_a_field_built_from_the_projects_endpoints() -> None:
    project = load_project(SAMPLE)
    assert isinstance(project.router, Router)
    outcome = project.router.match("GET", "/devices/tank-1")
    assert isinstance(outcome, Matched)
    assert isinstance(outcome.target, Endpoint)
    assert outcome.target.id == "device-attribute"
    assert outcome.target in project.endpoints


def test_a_loaded_project_cannot_be_changed() -> None:
    project = load_project(SAMPLE)
    with pytest.raises(AttributeError):
        project.endpoints.append(project.endpoints[0])  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        project.pages["new"] = project.pages["home"]  # type: ignore[index]
    with pytest.raises(TypeError):
        del project.workflows["read-device"]  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        project.endpoints = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        project.router = Router()  # type: ignore[misc]


def test_a_page_in_a_broken_pages_file_is_not_reported_as_unknown(write_project: WriteProject) -> None:
    """One syntax error gives one problem: the page the broken file declares is not "unknown" (and
    never "did you mean" itself)."""
    root = write_project(
        {
            "epctl.toml": """
                [project]
                name = "t"

                [settings]
                not_found_reply = { type = "page", page = "gone" }
            """,
            "endpoints/e.toml": """
                [[endpoint]]
                id = "e"
                method = "GET"
                route = "/"
                reply = { type = "page", page = "gone" }
            """,
            "pages/p.toml": """
                [[page]]
                name = "gone"
                body = "bye
            """,
        }
    )
    _, problems = read_project(root)
    assert [(p.code, p.file, p.line) for p in problems] == [("toml-syntax", "pages/p.toml", 3)]
