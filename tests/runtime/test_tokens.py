"""User tokens: lifetimes, minting, and the secret that only the environment holds."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from epctl.runtime.tokens import InvalidTtlError, MissingSecretError, mint_token, parse_ttl
from epctl.schemas.loader import load_project
from tests.conftest import WriteProject


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


def test_mint_token_needs_the_secret(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EPCTL_SECRET", raising=False)
    with pytest.raises(MissingSecretError, match="EPCTL_SECRET"):
        mint_token(load_project(sample), "ann", [], 60)
