"""Handler files share code: any `*.py` under workflows/ is importable, frozen, and per version."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner
from werkzeug.test import Client

from epctl.runtime import create_app
from epctl.runtime.hosts import build_host_app
from epctl.runtime.version_store import freeze_version
from epctl.schemas.loader import read_project
from epctl.schemas.problems import ProjectError
from tests.conftest import WriteProject, run

CONFIG = """
    [project]
    name = "fleet"

    [environments.a]
    version = "va"
    hosts = ["a.example.com"]

    [environments.b]
    version = "vb"
    hosts = ["b.example.com"]
"""

FILES = {
    "epctl.toml": CONFIG,
    "endpoints/e.toml": """
        [[endpoint]]
        id = "device"
        method = "GET"
        route = "/devices/{id}"
    """,
    "workflows/w.toml": """
        [[workflow]]
        name = "device"
        handler = "devices.py:show"
        endpoints = ["device"]
    """,
    "workflows/devices.py": """
        from helpers import parse
        from lib import units
        from lib.names import label

        def show(request):
            return {"id": parse(request.params["id"]), "unit": units.UNIT, "label": label()}
    """,
    "workflows/helpers.py": """
        COPY = "one"

        def parse(raw):
            return f"{raw.upper()}-{COPY}"
    """,
    "workflows/lib/__init__.py": "",
    "workflows/lib/units.py": 'UNIT = "km"\n',
    "workflows/lib/names.py": """
        from . import units
        from .units import UNIT

        def label():
            return units.UNIT + UNIT
    """,
}


def test_a_handler_imports_sibling_modules_and_packages(write_project: WriteProject) -> None:
    root = write_project(FILES)
    response = Client(create_app(root)).get("/devices/t1")
    assert response.json == {"id": "T1-one", "unit": "km", "label": "kmkm"}


def test_a_frozen_version_keeps_its_modules_after_develop_deletes_them(write_project: WriteProject) -> None:
    root = write_project(FILES)
    freeze_version(root, "va")
    (root / "workflows" / "helpers.py").unlink()
    with pytest.raises(ProjectError):
        create_app(root)  # develop now imports a module it no longer has
    response = Client(create_app(root, "va")).get("/devices/t1")
    assert response.json == {"id": "T1-one", "unit": "km", "label": "kmkm"}


def test_two_versions_served_together_each_use_their_own_module(write_project: WriteProject) -> None:
    root = write_project(FILES)
    freeze_version(root, "va")
    helpers = root / "workflows" / "helpers.py"
    helpers.write_text(helpers.read_text().replace('"one"', '"two"'))
    freeze_version(root, "vb")
    app, _, _ = build_host_app(root)
    client = Client(app)
    assert client.get("/devices/x", headers={"Host": "a.example.com"}).json["id"] == "X-one"
    assert client.get("/devices/x", headers={"Host": "b.example.com"}).json["id"] == "X-two"
    assert client.get("/devices/x").json["id"] == "X-two"  # develop


def test_validate_reports_an_import_of_a_missing_project_module(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project(
        {
            **FILES,
            "workflows/lib/names.py": "from . import gone\n\ndef label():\n    return ''\n",
            "workflows/devices.py": "import os\nfrom helpers import parse, pasre\nimport lib.nothing\n\n"
            "def show(request):\n    return {}\n",
            "workflows/helpers.py": "import helpres\n\ndef parse(raw):\n    return raw\n",
        }
    )
    _, problems = read_project(root)
    assert [(p.code, p.file, p.line, p.message) for p in problems if p.severity == "error"] == [
        (
            "unknown-module",
            "workflows/devices.py",
            2,
            'workflows/devices.py imports "pasre" from "helpers", which defines no such name or module',
        ),
        (
            "unknown-module",
            "workflows/devices.py",
            3,
            'workflows/devices.py imports "lib.nothing", which is not a module under workflows/',
        ),
        (
            "unknown-module",
            "workflows/helpers.py",
            1,
            'workflows/helpers.py imports "helpres", which is neither a file under workflows/ '
            "(workflows/helpres.py) nor an installed module",
        ),
        (
            "unknown-module",
            "workflows/lib/names.py",
            1,
            'workflows/lib/names.py imports "gone" from ".", which defines no such name or module',
        ),
    ]
    assert run(runner, root, "validate").exit_code == 1


def test_a_handler_rebound_to_a_value_is_refused_by_validate_as_by_the_server(
    write_project: WriteProject,
) -> None:
    """validate and the server agree: `def show` followed by `show = None` serves nothing."""
    root = write_project(
        {**FILES, "workflows/devices.py": "def show(request):\n    return {}\n\nshow = None\n"}
    )
    _, problems = read_project(root)
    assert [(p.code, p.file, p.line, p.message) for p in problems if p.severity == "error"] == [
        (
            "unknown-handler",
            "workflows/w.toml",
            3,
            'workflows/devices.py binds "show" to a value that is not a function (line 4); the last '
            "top-level `show` must be `def show(request):`",
        )
    ]


def test_a_failing_import_is_reported_at_the_line_of_the_module_that_failed(
    write_project: WriteProject,
) -> None:
    failing = "def parse(raw):\n    return raw\n\nraise RuntimeError('no db')\n"
    root = write_project({**FILES, "workflows/helpers.py": failing})
    with pytest.raises(ProjectError) as caught:
        create_app(root)
    [problem] = caught.value.problems
    assert (problem.code, problem.file, problem.line) == ("handler-error", "workflows/helpers.py", 4)
    assert problem.message == "running workflows/devices.py failed: RuntimeError: no db"


def test_helper_modules_are_frozen_into_the_version_file(write_project: WriteProject) -> None:
    root = write_project(FILES)
    freeze_version(root, "va")
    text = (Path(root) / "versions" / "va.toml").read_text()
    for path in ("workflows/helpers.py", "workflows/lib/__init__.py", "workflows/lib/names.py"):
        assert f'"{path}" = ' in text
