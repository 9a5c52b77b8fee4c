"""`epctl serve` without the secret variable: a random secret only for develop in one process on a
loopback address; every other way of serving still refuses to start."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from epctl.runtime.servers import is_loopback
from tests.signin.servers import clean_environ, epctl_command

pytestmark = pytest.mark.e2e

REFUSAL = "the environment variable EPCTL_SECRET is not set"


@pytest.mark.parametrize(
    "args",
    [
        ("--version", "v1.0.0"),
        ("--env", "production"),
        ("--all",),
        ("--workers", "2"),
        ("--host", "0.0.0.0"),
    ],
    ids=["version", "env", "all", "workers", "any-host"],
)
def test_serving_anything_but_local_develop_still_needs_the_secret(
    sample: Path, args: tuple[str, ...]
) -> None:
    result = subprocess.run(
        epctl_command(sample, "serve", "--port", "0", *args),
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert REFUSAL in result.stderr
    assert "random secret" not in result.stderr


def test_loopback_hosts() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.10", "example.com", ""]))
