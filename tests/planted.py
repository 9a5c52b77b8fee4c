"""Projects with planted mistakes, shared by the tests of the commands that must find them: ten
problems for the loader and `validate`, one finding per rule for `audit`."""

from __future__ import annotations

import base64
from pathlib import Path

import tomli

# Ten different mistakes planted across files; each must come out with its code, file and line.
PLANTED = {
    "epctl.toml": """
        [project]
        name = "planted"
    """,
    "endpoints/broken.toml": """
        [[endpoint]]
        id = "broken"
        method = "GET"
        route = "/broken
    """,
    "endpoints/site.toml": """
        [[endpoint]]
        id = "home"
        method = "GET"
        rout = "/"

        [[endpoint]]
        id = "about"
        method = "GET"
        route = "/about"
        reply = { type = "page", page = "abuot" }

        [[endpoint]]
        id = "bad-route"
        method = "GET"
        route = "/users/{id"

        [[endpoint]]
        id = "about"
        method = "GET"
        route = "/about-us"

        [[endpoint]]
        id = "admins"
        method = "GET"
        route = "/admin"
        access = "groups"

        [[endpoint]]
        id = "moved"
        method = "GET"
        route = "/moved"
        reply = { type = "redirect", to = "/new", status = 200 }
    """,
    "pages/site.toml": """
        [[page]]
        name = "about"
        template = "../../outside.html"
    """,
    "workflows/flows.toml": """
        [[workflow]]
        name = "hello"
        handler = "flows.py:say_hello"
        endpoints = ["about"]

        [[workflow]]
        name = "orphan"
        handler = "flows.py:hello"
        endpoints = ["nowhere"]
    """,
    "workflows/flows.py": """
        def hello(request):
            return {"hello": "world"}
    """,
}

EXPECTED = [
    # (code, file, line)
    ("toml-syntax", "endpoints/broken.toml", 4),
    ("unknown-key", "endpoints/site.toml", 4),
    ("unknown-page", "endpoints/site.toml", 10),
    ("invalid-route", "endpoints/site.toml", 15),
    ("duplicate-id", "endpoints/site.toml", 18),
    ("missing-groups", "endpoints/site.toml", 26),
    ("invalid-status", "endpoints/site.toml", 32),
    ("path-escape", "pages/site.toml", 3),
    ("unknown-handler", "workflows/flows.toml", 3),
    ("unknown-endpoint", "workflows/flows.toml", 9),
]

# One finding per rule, each planted on its own line.
AUDIT_PLANTED = {
    "epctl.toml": """
        [project]
        name = "planted"

        [settings]
        allowed_origins = ["*"]
        response_headers = { "X-Content-Type-Options" = "nosniff" }
        globals = { support = "help@example.com", db_password = "correct horse battery staple" }
    """,
    "endpoints/e.toml": """
        [[endpoint]]
        id = "subscribe"
        method = "POST"
        route = "/subscribe"
        reply = { type = "redirect", to = "/thanks" }

        [[endpoint]]
        id = "files"
        method = "GET"
        route = "/files/{path*}"
        reply = { type = "page", page = "home" }

        [[endpoint]]
        id = "admin"
        method = "GET"
        route = "/admin"
        access = "groups"
        groups = ["admins"]
        reply = { type = "page", page = "home" }
        unauthorized_reply = { type = "page", page = "home", status = 200 }

        [[endpoint]]
        id = "go"
        method = "GET"
        route = "/go"
        reply = { type = "redirect", to = "{{ request.query.next }}", status = 302 }

        [[endpoint]]
        id = "todo"
        method = "GET"
        route = "/todo"
    """,
    "pages/p.toml": """
        [[page]]
        name = "home"
        body = "<h1>Home</h1>"
    """,
}


def plant_signed_versions(root: Path) -> None:
    """Plant the two signature findings in an audit-planted project: `versions/v1.toml` unsigned, and
    `versions/v2.toml` signed but with a signature that does not verify, while epctl.toml trusts a key.

    The versions are frozen by epctl itself; the signing key lives beside the project, never in it.
    """
    # Imported here: the loader tests import this module for PLANTED alone.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    from epctl.runtime.version_store import freeze_version

    key = Ed25519PrivateKey.generate()
    key_file = root.parent / "release.pem"
    key_file.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    freeze_version(root, "v1")
    freeze_version(root, "v2", sign=key_file)
    v2 = root / "versions" / "v2.toml"
    # Another signature's value where v2's was: the digest still matches, the signature does not.
    document = tomli.loads(v2.read_text())
    other = base64.b64encode(key.sign(b"something else")).decode()
    v2.write_text(v2.read_text().replace(document["signature"]["value"], other))
    public = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    with (root / "epctl.toml").open("a") as config:
        config.write(f'\n[[trusted_key]]\nname = "release"\npublic_key = """\n{public}"""\n')
