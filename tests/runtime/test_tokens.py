"""User tokens: lifetimes, minting, and the secret that only the environment holds."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from epctl.runtime import create_app
from epctl.runtime.tokens import (
    InvalidSubjectError,
    InvalidTtlError,
    MissingSecretError,
    WeakSecretError,
    mint_token,
    parse_ttl,
    read_secret,
)
from epctl.schemas.loader import load_project
from tests.conftest import WriteProject

PUBLIC_ENDPOINT = (
    '[[endpoint]]\nid = "a"\nmethod = "GET"\nroute = "/a"\nreply = { type = "redirect", to = "/" }\n'
)


@pytest.mark.parametrize(("text", "seconds"), [("45s", 45), ("30m", 1800), ("1h", 3600), ("2d", 172800)])
def test_parse_ttl(text: str, seconds: int) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "h", "0h", "-1h", "1w", "1.5h", "1 h x"])
def test_parse_ttl_refuses_other_text(text: str) -> None:
    with pytest.raises(InvalidTtlError, match="use a positive number followed by s, m, h or d"):
        parse_ttl(text)


def test_mint_token_claims(sample: Path, secret: str) -> None:
    token = mint_token(load_project(sample), "ann", ["admins", "staff"], 600)
    claims = jwt.decode(token, secret, algorithms=["HS256"], issuer="smart-farm")
    assert claims["sub"] == "ann"
    assert claims["groups"] == ["admins", "staff"]
    assert claims["iss"] == "smart-farm"
    assert claims["exp"] - claims["iat"] == 600


def test_mint_token_without_issuer_has_no_iss(write_project: WriteProject, secret: str) -> None:
    project = write_project({})
    claims = jwt.decode(mint_token(load_project(project), "bob", [], 60), secret, algorithms=["HS256"])
    assert "iss" not in claims


@pytest.mark.parametrize("sub", ["", "  "])
def test_mint_token_refuses_a_token_naming_nobody(sample: Path, secret: str, sub: str) -> None:
    with pytest.raises(InvalidSubjectError) as raised:
        mint_token(load_project(sample), sub, [], 60)
    assert str(raised.value) == (
        f'a token names its user: its sub must be a user id such as "ada", not {sub!r}'
    )


def test_mint_token_needs_the_secret(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EPCTL_SECRET", raising=False)
    with pytest.raises(MissingSecretError, match="EPCTL_SECRET"):
        mint_token(load_project(sample), "ann", [], 60)


@pytest.mark.parametrize(("value", "size"), [("x", 1), ("/root", 5), ("é" * 15, 30), ("a" * 31, 31)])
def test_a_secret_under_32_bytes_is_refused_with_how_to_make_one(
    sample: Path, monkeypatch: pytest.MonkeyPatch, value: str, size: int
) -> None:
    monkeypatch.setenv("EPCTL_SECRET", value)
    with pytest.raises(WeakSecretError) as raised:
        read_secret(load_project(sample))
    assert str(raised.value) == (
        f"the secret in EPCTL_SECRET is {size} bytes; user tokens need a secret of at least 32 random "
        "bytes. Make one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'` and set "
        "EPCTL_SECRET to it (a variable such as HOME or USER never holds a secret)"
    )


def test_secret_env_home_fails_at_start(write_project: WriteProject, monkeypatch: pytest.MonkeyPatch) -> None:
    """`secret_env = "HOME"` validated and served with /root as the signing secret."""
    monkeypatch.setenv("HOME", "/root")
    root = write_project(
        {
            "epctl.toml": '[project]\nname = "t"\n[auth]\nsecret_env = "HOME"\n',
            "endpoints/a.toml": PUBLIC_ENDPOINT.replace("reply", 'access = "authenticated"\nreply'),
        }
    )
    with pytest.raises(WeakSecretError, match="the secret in HOME is 5 bytes"):
        create_app(root)


def test_a_weak_secret_is_refused_even_where_tokens_are_optional(
    write_project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EPCTL_SECRET", "short")
    root = write_project({"endpoints/a.toml": PUBLIC_ENDPOINT})
    with pytest.raises(WeakSecretError):
        create_app(root)


def test_a_32_byte_secret_is_enough(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPCTL_SECRET", "k" * 32)
    assert read_secret(load_project(sample)) == "k" * 32
