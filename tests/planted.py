"""Projects with planted mistakes, shared by the tests of the commands that must find them: ten
problems for the loader and `validate`, one finding per rule for `audit`."""

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
