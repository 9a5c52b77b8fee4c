"""Shared fixtures: a fresh copy of the sample project, a project writer, a CLI runner."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

SAMPLE = Path(__file__).resolve().parent.parent / "sample-project"
SECRET = "test-secret-that-is-long-enough-for-hs256"

MINIMAL_CONFIG = '[project]\nname = "t"\n'

WriteProject = Callable[[dict[str, str]], Path]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A copy of sample-project/ that a test may edit freely."""
    target = tmp_path / "sample-project"
    shutil.copytree(SAMPLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture
def write_project(tmp_path: Path) -> WriteProject:
    """Return a function that writes {relative path: text} into a new project and returns its folder.

    Texts are dedented; `epctl.toml` defaults to a minimal valid one.
    """

    def write(files: dict[str, str]) -> Path:
        root = tmp_path / "project"
        root.mkdir(exist_ok=True)
        files = {"epctl.toml": MINIMAL_CONFIG, **files}
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return root

    return write


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """The project secret, set in the environment variable the sample's [auth] names."""
    monkeypatch.setenv("EPCTL_SECRET", SECRET)
    return SECRET
