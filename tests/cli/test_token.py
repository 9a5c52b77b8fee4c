"""`epctl token` and `epctl --version`."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner

from epctl.cli.main import app
from tests.conftest import SECRET, usage_error


def test_token_prints_only_a_token_the_app_accepts(runner: CliRunner, sample: Path, secret: str) -> None:
    result = runner.invoke(
        app,
        [
            "--project",
            str(sample),
            "token",
            "--sub",
            "ada",
            "--group",
            "admins",
            "--group",
            "installers",
            "--ttl",
            "30m",
        ],
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="smart-farm")
    assert (claims["sub"], claims["groups"], claims["exp"] - claims["iat"]) == (
        "ada",
        ["admins", "installers"],
        1800,
    )


def test_token_without_the_secret_says_which_variable(
    runner: CliRunner, sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EPCTL_SECRET", raising=False)
    result = runner.invoke(app, ["--project", str(sample), "token", "--sub", "ada"])
    assert result.exit_code == 1
    assert "EPCTL_SECRET" in result.stderr
    assert result.stdout == ""


def test_token_rejects_a_bad_ttl(runner: CliRunner, sample: Path, secret: str) -> None:
    result = runner.invoke(app, ["--project", str(sample), "token", "--sub", "ada", "--ttl", "soon"])
    assert result.exit_code == 1
    assert "soon" in result.stderr


def test_version_flag(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert (result.exit_code, result.stdout) == (0, "epctl 0.1.0\n")


def test_token_refuses_an_empty_sub(runner: CliRunner, sample: Path, secret: str) -> None:
    for sub in ("", "  "):
        result = runner.invoke(app, ["--project", str(sample), "token", "--sub", sub])
        assert result.exit_code == 2, result.output
        assert "a token names its user: give a user id, e.g. --sub ada" in usage_error(result)
        assert result.stdout == ""
