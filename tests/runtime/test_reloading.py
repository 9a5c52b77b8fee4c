"""`serve --reload`: develop is rebuilt in-process on a change, and a broken edit keeps the last good app."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from werkzeug.test import Client

from epctl.runtime.servers import ReloadingApp
from epctl.schemas.problems import ProjectError
from tests.conftest import WriteProject

ENDPOINTS = """
[[endpoint]]
id = "home"
method = "GET"
route = "/"
reply = { type = "page", page = "home" }
"""
PAGES = '[[page]]\nname = "home"\ntemplate = "home.html"\n'


@pytest.fixture
def project(write_project: WriteProject) -> Path:
    return write_project({"endpoints/e.toml": ENDPOINTS, "pages/p.toml": PAGES, "pages/home.html": "v1"})


@pytest.fixture
def problems() -> list[ProjectError]:
    return []


@pytest.fixture
def app(project: Path, problems: list[ProjectError]) -> ReloadingApp:
    return ReloadingApp(project, problems.append)


def test_unchanged_files_do_not_rebuild(app: ReloadingApp) -> None:
    assert app.check_for_changes() is False


def test_changed_template_is_served_after_a_rebuild(app: ReloadingApp, project: Path) -> None:
    (project / "pages" / "home.html").write_text("version two")
    assert app.check_for_changes() is True
    assert Client(app).get("/").text == "version two"


def test_added_file_is_noticed(app: ReloadingApp, project: Path) -> None:
    (project / "endpoints" / "more.toml").write_text(
        ENDPOINTS.replace('"home"\nmethod', '"about"\nmethod').replace('"/"', '"/about"')
    )
    assert app.check_for_changes() is True
    assert Client(app).get("/about").text == "v1"


def test_removed_file_is_noticed(app: ReloadingApp, project: Path) -> None:
    (project / "endpoints" / "e.toml").unlink()
    assert app.check_for_changes() is True
    assert Client(app).get("/").status_code == 404


def test_invalid_develop_reports_problems_and_keeps_the_last_good_app(
    app: ReloadingApp, project: Path, problems: list[ProjectError]
) -> None:
    (project / "pages" / "p.toml").write_text(
        '[[page]]\nname = "home"\ntemplate = "home.html"\nlayuot = "x"\n'
    )
    assert app.check_for_changes() is False
    assert [problem.code for problem in problems[0].errors] == ["unknown-key"]
    assert Client(app).get("/").text == "v1"


def test_bytecode_caches_are_not_watched(app: ReloadingApp, project: Path) -> None:
    cache = project / "workflows" / "__pycache__"
    cache.mkdir(parents=True)
    (cache / "h.cpython-311.pyc").write_bytes(b"\0")
    assert app.check_for_changes() is False


def test_watcher_thread_swaps_in_the_new_app(app: ReloadingApp, project: Path) -> None:
    app.start()
    try:
        (project / "pages" / "home.html").write_text("from the watcher")
        deadline = time.monotonic() + 10
        while Client(app).get("/").text != "from the watcher" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert Client(app).get("/").text == "from the watcher"
    finally:
        app.stop()
