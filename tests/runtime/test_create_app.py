"""create_app and build_app: everything is built once, and what cannot be served fails at build."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from werkzeug.test import Client

from epctl.runtime import create_app
from epctl.runtime.app import UnknownEnvironmentError
from epctl.runtime.tokens import MissingSecretError
from epctl.schemas.problems import ProjectError
from epctl.schemas.version_file import VersionNotFoundError
from tests.conftest import WriteProject

PUBLIC = """
[[endpoint]]
id = "home"
method = "GET"
route = "/"
reply = { type = "page", page = "home" }
"""
PAGES = '[[page]]\nname = "home"\ntemplate = "home.html"\n'


def test_invalid_project_raises_project_error(write_project: WriteProject) -> None:
    project = write_project(
        {"endpoints/e.toml": '[[endpoint]]\nid = "x"\nmethod = "GET"\nroute = "no-slash"\n'}
    )
    with pytest.raises(ProjectError) as caught:
        create_app(project)
    assert [problem.code for problem in caught.value.errors] == ["invalid-route"]


def test_missing_secret_is_refused_when_an_endpoint_needs_tokens(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EPCTL_SECRET", raising=False)
    with pytest.raises(MissingSecretError, match="the environment variable EPCTL_SECRET is not set"):
        create_app(sample)


def test_empty_secret_counts_as_missing(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPCTL_SECRET", "")
    with pytest.raises(MissingSecretError):
        create_app(sample)


def test_public_project_needs_no_secret(write_project: WriteProject, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EPCTL_SECRET", raising=False)
    project = write_project({"endpoints/e.toml": PUBLIC, "pages/p.toml": PAGES, "pages/home.html": "hi"})
    assert Client(create_app(project)).get("/").text == "hi"


def test_an_unknown_version_is_refused_by_name(sample: Path) -> None:
    with pytest.raises(VersionNotFoundError, match=r'no version "v9\.9\.9"'):
        create_app(sample, "v9.9.9")


def test_an_unknown_environment_is_refused_with_the_known_ones(sample: Path) -> None:
    with pytest.raises(
        UnknownEnvironmentError, match=r'no environment "staging" in epctl.toml \(environments: production\)'
    ):
        create_app(sample, env="staging")


def test_templates_are_read_once_at_build(write_project: WriteProject) -> None:
    """A request never reads a file: editing a template after build changes nothing until a rebuild."""
    project = write_project({"endpoints/e.toml": PUBLIC, "pages/p.toml": PAGES, "pages/home.html": "before"})
    client = Client(create_app(project))
    (project / "pages" / "home.html").write_text("after")
    assert client.get("/").text == "before"


def test_handler_failing_at_import_raises_project_error(write_project: WriteProject) -> None:
    project = write_project(
        {
            "endpoints/e.toml": '[[endpoint]]\nid = "x"\nmethod = "GET"\nroute = "/x"\n',
            "workflows/w.toml": '[[workflow]]\nname = "w"\nhandler = "h.py:run"\nendpoints = ["x"]\n',
            "workflows/h.py": "import os\n\nVALUE = 1 / 0\n\n\ndef run(request):\n    return {}\n",
        }
    )
    with pytest.raises(ProjectError) as caught:
        create_app(project)
    (problem,) = caught.value.problems
    assert (problem.code, problem.file, problem.line) == ("handler-error", "workflows/h.py", 3)
    assert problem.message == "running workflows/h.py failed: ZeroDivisionError: division by zero"


def test_the_garbage_collector_is_left_as_it_was(write_project: WriteProject) -> None:
    """Building pauses cyclic collections (everything built stays alive); the caller's setting comes back,
    whether the build succeeds or fails."""
    try:
        good = write_project({"endpoints/e.toml": PUBLIC, "pages/p.toml": PAGES, "pages/home.html": "hi"})
        for enabled in (True, False):
            gc.enable() if enabled else gc.disable()
            create_app(good)
            assert gc.isenabled() is enabled
        bad = write_project({"endpoints/e.toml": '[[endpoint]]\nid = "x"\nmethod = "GET"\nroute = "x"\n'})
        for enabled in (True, False):
            gc.enable() if enabled else gc.disable()
            with pytest.raises(ProjectError):
                create_app(bad)
            assert gc.isenabled() is enabled
    finally:
        gc.enable()
