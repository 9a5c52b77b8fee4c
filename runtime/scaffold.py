"""`epctl init`: a new project that validates clean: a page endpoint, an API endpoint, a stylesheet in
static/ its layout links, and sign-in for experience users (`scaffold_users.py`)."""

from __future__ import annotations

import re
from pathlib import Path

from epctl.runtime.editor_files import editor_files
from epctl.runtime.scaffold_users import SIGN_IN_FILES
from epctl.schemas.problems import EpctlError

FILES: dict[str, str] = {
    "epctl.toml": """[project]
name = "{name}"

[settings]
cors = true
allowed_origins = ["*"]
response_headers = {{ "X-Frame-Options" = "DENY" }}
globals = {{ greeting = "Hello" }}
unauthorized_reply = {{ type = "redirect", to = "/login?next={{{{ request.path | urlencode }}}}" }}

[auth]
# User tokens are signed with the secret in this environment variable, never in a file.
secret_env = "EPCTL_SECRET"

[users]
# Experience users, in SQLite under .epctl/ (or PostgreSQL: put its URL in EPCTL_DATABASE_URL).
# Add one with `epctl users add ada@example.com --group admins`, then sign in at /login.
""",
    "endpoints/site.toml": """[[endpoint]]
id = "home"
method = "GET"
route = "/"
reply = {{ type = "page", page = "home" }}

[[endpoint]]
id = "api-hello"
method = "GET"
route = "/api/hello/{{name?}}"
""",
    "pages/site.toml": """[[layout]]
name = "main"
template = "main.html"

[[page]]
name = "home"
layout = "main"
template = "home.html"
""",
    "pages/main.html": """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8"><title>{{{{ application.name }}}}</title>
  <link rel="stylesheet" href="{{{{ static_url('site.css') }}}}">
</head>
<body>
  {{% block content %}}{{% endblock %}}
</body>
</html>
""",
    "pages/home.html": """<h1>{{{{ globals.greeting }}}} from {{{{ application.name }}}}</h1>
<p>Try <a href="/api/hello/you">/api/hello/you</a>.</p>
""",
    "static/site.css": """/* Served under /static/ ([settings] static_prefix);
   templates link it with static_url("site.css"). */
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 40rem; }}
""",
    "workflows/hello.toml": """[[workflow]]
name = "hello"
handler = "hello.py:say_hello"
endpoints = ["api-hello"]
""",
    "workflows/hello.py": """def say_hello(request):
    name = request.params.get("name") or "world"
    return {{"message": f"{{request.globals['greeting']}}, {{name}}!"}}
""",
}


class ProjectExistsError(EpctlError):
    """`init` into a folder that already holds a project."""


def create_project(directory: Path) -> list[Path]:
    """Write a new project into `directory` (created if needed); return the files written.

    Raises ProjectExistsError, before writing anything, when any file it would write exists. A
    `.gitignore` already there (a git repository's) is kept, with `.epctl/` added to it.
    """
    directory = directory.resolve()
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", directory.name).strip("-") or "experience"
    # The project's files, its sign-in, then the JSON Schemas and taplo configuration for editors.
    texts = {relative: template.format(name=name) for relative, template in FILES.items()}
    texts |= SIGN_IN_FILES | editor_files()
    ignore = directory / ".gitignore"
    if ignore.is_file():
        kept = ignore.read_text(encoding="utf-8")
        if ".epctl/" in kept.split():
            del texts[".gitignore"]
        else:
            texts[".gitignore"] = kept + ("" if kept.endswith("\n") or not kept else "\n") + ".epctl/\n"
    targets = [directory / relative for relative in texts]
    existing = [path for path in targets if path.exists() and path != ignore]
    if existing:
        raise ProjectExistsError(
            f"{existing[0]} already exists; `epctl init` only writes into a folder without a project"
        )
    for path, text in zip(targets, texts.values(), strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return targets
