"""Shared fixtures: a fresh copy of the sample project, a project writer, a CLI runner, and a
werkzeug test client over the real app."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result
from werkzeug.test import Client

from epctl.cli.main import app
from epctl.runtime import build_app, create_app
from epctl.runtime.tokens import mint_token
from epctl.schemas.loader import load_project

SAMPLE = Path(__file__).resolve().parent.parent / "sample-project"
SECRET = "test-secret-that-is-long-enough-for-hs256"

MINIMAL_CONFIG = '[project]\nname = "t"\n'

WriteProject = Callable[[dict[str, str]], Path]
MakeClient = Callable[..., Client]
MintToken = Callable[..., str]


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


def run(runner: CliRunner, root: Path, *args: str, input: str | None = None) -> Result:
    """Return the result of `epctl --project ROOT ARGS...` run through typer's CliRunner."""
    return runner.invoke(app, ["--project", str(root), *args], input=input)


@pytest.fixture
def make_client() -> MakeClient:
    """Return a function that builds the app of a project folder and returns a test client over it."""

    def make(project_dir: Path, *, root: str = "") -> Client:
        return Client(build_app(load_project(project_dir), root=root))

    return make


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """The project secret, set in the environment variable the sample's [auth] names."""
    monkeypatch.setenv("EPCTL_SECRET", SECRET)
    return SECRET


@pytest.fixture
def sample_client(sample: Path, secret: str) -> Client:
    """A test client over the sample project, with the token secret set."""
    return Client(create_app(sample))


@pytest.fixture
def sample_token(sample: Path, secret: str) -> MintToken:
    """Return a function minting a valid sample-project token: `sample_token("ann", ["admins"])`."""

    def mint(sub: str = "ann", groups: list[str] | None = None, ttl: int = 3600) -> str:
        return mint_token(load_project(sample), sub, groups or [], ttl)

    return mint


def usage_error(result: Result) -> str:
    """Return the message of a usage error, which typer prints in a box: its lines, unboxed and joined."""
    lines = [line.strip("│ ") for line in result.stderr.splitlines() if line.startswith("│")]
    return " ".join(line for line in lines if line)
