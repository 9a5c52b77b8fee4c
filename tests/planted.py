"""A project with ten different mistakes across files, shared by the loader and `validate` tests."""

from __future__ import annotations

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
