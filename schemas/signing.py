"""Signed versions: an Ed25519 signature over a version's digest, and the keys a project trusts.

The digest says a version is intact; only a signature says who made it, since anyone can recompute a
sha256. `epctl snapshot --sign KEY` signs the digest with a PKCS#8 PEM private key (what
`openssl genpkey -algorithm ed25519` writes) and writes, outside the digest,

    signature = { public_key = "<base64 of the 32-byte key>", value = "<base64 of the 64-byte signature>" }

A project that lists `[[trusted_key]]` tables in epctl.toml serves, promotes and restores only
versions whose signature verifies with one of those keys. The `cryptography` names are imported in
the functions that use them, so importing this module (as the models do) costs nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from epctl.schemas.problems import EpctlError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_KEY = "signature"  # the version file's table; never part of the digest
# What is signed: the digest, behind a label, so a signature made for a version can never be replayed
# as a signature of anything else made with the same key.
_LABEL = b"epctl version signature 1\n"
MAX_KEY_FILE_SIZE = 64 * 1024
MAKE_KEY = "openssl genpkey -algorithm ed25519 -out release.pem"
PUBLIC_KEY_RULE = (
    'an Ed25519 public key: the PEM text ("-----BEGIN PUBLIC KEY-----...") or its base64 body, as '
    "`openssl pkey -in release.pem -pubout` prints it"
)
_PEM_BODY = re.compile(r"-----BEGIN PUBLIC KEY-----(.*?)-----END PUBLIC KEY-----", re.DOTALL)


class SigningKeyError(EpctlError):
    """A private key file that cannot sign versions."""


class TrustedKeyLike(Protocol):
    """A named public key (the `TrustedKey` model)."""

    @property
    def name(self) -> str: ...

    @property
    def public_key(self) -> str: ...


@dataclass(frozen=True, slots=True)
class SignatureStatus:
    """What a version's signature says: `signer` is the trusted key's name when it verifies with one."""

    state: str  # "signed", "unsigned", "bad", "untrusted" (verifies, with a key not trusted here)
    detail: str  # one line for people
    signer: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "signed"


def parse_public_key(text: str) -> Ed25519PublicKey:
    """Return the Ed25519 public key written as PEM text or as its base64 body.

    Raises ValueError saying what is accepted.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    found = _PEM_BODY.search(text)
    body = "".join((found.group(1) if found else text).split())
    try:
        key = load_der_public_key(base64.b64decode(body, validate=True))
    except (ValueError, binascii.Error, TypeError):
        raise ValueError(f"public_key must be {PUBLIC_KEY_RULE}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"public_key must be {PUBLIC_KEY_RULE}, not another kind of key")
    return key


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def fingerprint(raw: bytes) -> str:
    """Return `SHA256:<base64>` of a raw public key, as ssh-keygen names keys."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def load_private_key(path: Path, project_root: Path) -> Ed25519PrivateKey:
    """Return the Ed25519 private key in PKCS#8 PEM file `path`.

    Raises SigningKeyError for a missing, oversized, encrypted or non-Ed25519 key, and for a key kept
    inside the project folder, where it would be committed with the project.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    resolved = path.resolve()
    if resolved.is_relative_to(project_root.resolve()):
        raise SigningKeyError(
            f"{path} is inside the project folder, where it would be committed with the project; keep "
            "the private key outside it (e.g. in ~/.config/epctl/) and pass its path to --sign"
        )
    try:
        if not resolved.is_file():
            raise SigningKeyError(f"{path} is not a key file; make one with `{MAKE_KEY}`")
        with resolved.open("rb") as handle:
            data = handle.read(MAX_KEY_FILE_SIZE + 1)
    except OSError as err:
        raise SigningKeyError(f"cannot read the key {path}: {err.strerror}") from None
    try:
        key = load_pem_private_key(data, password=None)
    except TypeError:
        raise SigningKeyError(
            f"{path} is encrypted; epctl signs with an unencrypted PKCS#8 key (`{MAKE_KEY}`): keep it "
            "where only the release process can read it"
        ) from None
    except (ValueError, binascii.Error):
        raise SigningKeyError(
            f"{path} is not a PEM private key; make an Ed25519 one with `{MAKE_KEY}`"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 key; make one with `{MAKE_KEY}`")
    return key


def sign_digest(key: Ed25519PrivateKey, digest: str) -> dict[str, str]:
    """Return the `signature` table of a version with `digest`, signed with `key`."""
    return {
        "public_key": base64.b64encode(raw_public_key(key.public_key())).decode(),
        "value": base64.b64encode(key.sign(_LABEL + digest.encode())).decode(),
    }


def check_signature(document: dict[str, Any], trusted: Sequence[TrustedKeyLike]) -> SignatureStatus:
    """Return what the signature of a version document says, given the project's trusted keys.

    The digest itself must have been verified first: the signature covers the digest, not the text.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    signature = document.get(SIGNATURE_KEY)
    if signature is None:
        return SignatureStatus("unsigned", "unsigned")
    try:
        raw = base64.b64decode(signature["public_key"], validate=True)
        value = base64.b64decode(signature["value"], validate=True)
        Ed25519PublicKey.from_public_bytes(raw).verify(value, _LABEL + str(document.get("digest")).encode())
    except InvalidSignature:
        return SignatureStatus("bad", "bad signature: it does not match the version's digest")
    except (TypeError, KeyError, ValueError, binascii.Error):
        return SignatureStatus(
            "bad", 'bad signature: expected signature = { public_key = "...", value = "..." } in base64'
        )
    for key in trusted:
        if raw_public_key(parse_public_key(key.public_key)) == raw:
            return SignatureStatus("signed", f"signed by {key.name}", key.name)
    return SignatureStatus("untrusted", f"signed by {fingerprint(raw)}, which is not a [[trusted_key]]")
