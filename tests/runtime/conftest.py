"""Fixtures for the WSGI runtime: a werkzeug test client over the real app, and user tokens."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from werkzeug.test import Client

from epctl.runtime import build_app, create_app
from epctl.runtime.tokens import mint_token
from epctl.schemas.loader import load_project

MakeClient = Callable[..., Client]
MintToken = Callable[..., str]


@pytest.fixture
def make_client() -> MakeClient:
    """Return a function that builds the app of a project folder and returns a test client over it."""

    def make(project_dir: Path, *, root: str = "") -> Client:
        return Client(build_app(load_project(project_dir), root=root))

    return make


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
