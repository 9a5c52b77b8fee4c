"""Signed versions: `snapshot --sign KEY`, `[[trusted_key]]`, `verify`, and a project that lists
trusted keys refusing to serve, promote or restore a version none of them signed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import tomli
import tomli_w
from typer.testing import CliRunner

from epctl.runtime import create_app
from epctl.runtime.restore import restore_version
from epctl.runtime.version_store import freeze_version, promote_version
from epctl.schemas.version_file import UntrustedVersionError, compute_digest
from tests.conftest import run

UNSIGNED = (
    'version "v1.0.0" is refused: it is unsigned, and epctl.toml lists trusted keys ([[trusted_key]]), so '
    "only versions signed by one of them are served, promoted or restored; freeze one with "
    "`epctl snapshot NAME --sign KEY`"
)


def make_key(folder: Path, name: str = "release") -> tuple[Path, str]:
    """Return a new Ed25519 private key file made as README says, and its public key's PEM text."""
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / f"{name}.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True, timeout=30)
    public = subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-pubout"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    return key, public


def trust(root: Path, public: str, name: str = "release") -> None:
    with (root / "epctl.toml").open("a") as config:
        config.write(f'\n[[trusted_key]]\nname = "{name}"\npublic_key = """\n{public}"""\n')


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, str]:
    return make_key(tmp_path / "keys")


def test_sign_then_verify_names_the_trusted_signer(
    runner: CliRunner, sample: Path, key: tuple[Path, str]
) -> None:
    trust(sample, key[1])
    result = run(runner, sample, "snapshot", "v2", "--sign", str(key[0]))
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Froze develop as v2: versions/v2.toml (13 endpoints, sha256:")
    assert result.stderr.rstrip().endswith("…, signed by release)")
    document = tomli.loads((sample / "versions" / "v2.toml").read_text())
    assert set(document["signature"]) == {"public_key", "value"}
    assert "trusted_key" not in document  # which signers to trust is this checkout's, never a version's
    verified = run(runner, sample, "verify")
    assert verified.exit_code == 1  # v1.0.0 is unsigned
    lines = verified.stderr.splitlines()
    assert lines[0] == f"FAILED  v1.0.0: {UNSIGNED}"
    assert lines[1].startswith("ok      v2  sha256:") and lines[1].endswith("signed by release")
    listed = json.loads(run(runner, sample, "versions", "--json").stdout)
    assert [(v["name"], v["verified"], v["signature"]) for v in listed] == [
        ("v1.0.0", False, ""),
        ("v2", True, "signed by release"),
    ]


def test_without_trusted_keys_verify_reports_signed_and_unsigned(
    runner: CliRunner, sample: Path, key: tuple[Path, str]
) -> None:
    assert run(runner, sample, "snapshot", "v2", "--sign", str(key[0])).exit_code == 0
    result = run(runner, sample, "verify")
    assert result.exit_code == 0, result.output
    [first, second] = result.stderr.splitlines()
    assert first.startswith("ok      v1.0.0  sha256:") and first.endswith("  unsigned")
    assert second.startswith("ok      v2  sha256:")
    assert second.endswith(", which is not a [[trusted_key]]")
    assert "signed by SHA256:" in second


def test_a_project_listing_trusted_keys_refuses_an_unsigned_version_everywhere(
    sample: Path, key: tuple[Path, str], secret: str
) -> None:
    trust(sample, key[1])
    config = (sample / "epctl.toml").read_text()
    for attempt in (
        lambda: create_app(sample, "v1.0.0"),
        lambda: create_app(sample, env="production"),
        lambda: promote_version(sample, "v1.0.0", "production"),
        lambda: restore_version(sample, "v1.0.0", force=True),
    ):
        with pytest.raises(UntrustedVersionError) as raised:
            attempt()
        assert str(raised.value) == UNSIGNED
    assert (sample / "epctl.toml").read_text() == config
    assert not (sample / ".epctl" / "backups").exists()
    freeze_version(sample, "v2", sign=key[0])
    assert create_app(sample, "v2").project.version == "v2"
    assert promote_version(sample, "v2", "production") == "v1.0.0"
    plan, _ = restore_version(sample, "v2")
    assert plan.changed == []


def test_a_version_changed_after_signing_has_a_bad_signature(
    runner: CliRunner, sample: Path, key: tuple[Path, str], secret: str
) -> None:
    """Its digest recomputed, as anyone can: the signature over the old digest no longer verifies."""
    freeze_version(sample, "v2", sign=key[0])
    path = sample / "versions" / "v2.toml"
    document = tomli.loads(path.read_text())
    document["endpoint"][0]["access"] = "public"
    document["digest"] = compute_digest(document)
    path.write_text(tomli_w.dumps(document))
    message = (
        'version "v2" is refused: bad signature: it does not match the version\'s digest: it was changed '
        "after it was signed; restore it from git"
    )
    result = run(runner, sample, "verify")  # no trusted keys: still a failure
    assert result.exit_code == 1
    assert f"FAILED  v2: {message}" in result.stderr.splitlines()
    with pytest.raises(UntrustedVersionError) as raised:
        create_app(sample, "v2")
    assert str(raised.value) == message


def test_a_version_signed_by_another_key_is_refused(
    sample: Path, key: tuple[Path, str], tmp_path: Path
) -> None:
    other, _ = make_key(tmp_path / "other", "intruder")
    trust(sample, key[1])
    freeze_version(sample, "v2", sign=other)
    with pytest.raises(UntrustedVersionError) as raised:
        promote_version(sample, "v2", "production")
    message = str(raised.value)
    assert message.startswith('version "v2" is refused: it is signed by SHA256:')
    assert message.endswith(
        ", which is not a [[trusted_key]] of epctl.toml; add that signer's public key if you trust it"
    )


def test_public_key_as_its_base64_body(sample: Path, key: tuple[Path, str], secret: str) -> None:
    body = "".join(line for line in key[1].splitlines() if not line.startswith("-----"))
    with (sample / "epctl.toml").open("a") as config:
        config.write(f'\n[[trusted_key]]\nname = "ci"\npublic_key = "{body}"\n')
    freeze_version(sample, "v2", sign=key[0])
    assert create_app(sample, "v2").project.version == "v2"


def test_an_invalid_trusted_key_is_a_problem_and_serves_nothing(runner: CliRunner, sample: Path) -> None:
    with (sample / "epctl.toml").open("a") as config:
        config.write('\n[[trusted_key]]\nname = "release"\npublic_key = "not a key"\n')
    result = run(runner, sample, "validate", "--format", "json")
    assert result.exit_code == 1
    [problem] = json.loads(result.stdout)["problems"]
    assert (problem["code"], problem["line"], problem["key"]) == (
        "invalid-value",
        31,
        "trusted_key[0].public_key",
    )
    assert problem["message"] == (
        'public_key must be an Ed25519 public key: the PEM text ("-----BEGIN PUBLIC KEY-----...") or its '
        "base64 body, as `openssl pkey -in release.pem -pubout` prints it"
    )
    served = run(runner, sample, "serve", "--version", "v1.0.0", "--port", "0")
    assert served.exit_code == 1  # an unknown trust list never means "trust nothing"
    assert "public_key must be an Ed25519 public key" in served.stderr


def test_restore_keeps_developments_trusted_keys(sample: Path, key: tuple[Path, str], tmp_path: Path) -> None:
    trust(sample, key[1])
    freeze_version(sample, "v2", sign=key[0])
    _, other = make_key(tmp_path / "other", "ci")
    trust(sample, other, "ci")
    config = (sample / "epctl.toml").read_text()
    plan, backup = restore_version(sample, "v2")
    assert (plan.changed, backup) == ([], None)
    assert (sample / "epctl.toml").read_text() == config


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda folder: folder / "missing.pem", "is not a key file; make one with `openssl genpkey"),
        (
            lambda folder: _write(folder / "rsa.pem", ["openssl", "genpkey", "-algorithm", "rsa"]),
            "is not an Ed25519 key; make one with `openssl genpkey -algorithm ed25519 -out release.pem`",
        ),
        (
            lambda folder: _write(
                folder / "enc.pem",
                ["openssl", "genpkey", "-algorithm", "ed25519", "-aes-256-cbc", "-pass", "pass:x"],
            ),
            "is encrypted; epctl signs with an unencrypted PKCS#8 key",
        ),
        (lambda folder: _text(folder / "junk.pem", "junk\n"), "is not a PEM private key"),
    ],
    ids=["missing", "rsa", "encrypted", "junk"],
)
def test_keys_that_cannot_sign_are_refused_and_nothing_is_frozen(
    runner: CliRunner, sample: Path, tmp_path: Path, make: object, message: str
) -> None:
    assert callable(make)
    path = make(tmp_path)
    result = run(runner, sample, "snapshot", "v2", "--sign", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {path} ")
    assert message in result.stderr
    assert not (sample / "versions" / "v2.toml").exists()


def test_a_private_key_inside_the_project_is_refused(runner: CliRunner, sample: Path) -> None:
    key, _ = make_key(sample / "keys")
    result = run(runner, sample, "snapshot", "v2", "--sign", str(key))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {key} is inside the project folder, where it would be committed with the project; keep "
        "the private key outside it (e.g. in ~/.config/epctl/) and pass its path to --sign"
    )


def _write(path: Path, command: list[str]) -> Path:
    subprocess.run([*command, "-out", str(path)], check=True, capture_output=True, timeout=60)
    return path


def _text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
