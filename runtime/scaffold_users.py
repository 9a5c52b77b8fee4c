"""The sign-in part of `epctl init`: a form, sign-out, a greeting and an admins-only page.

Written as they are (no `str.format`), so templates keep their single braces.
"""

from __future__ import annotations

SIGN_IN_FILES: dict[str, str] = {
    # The users database lives in .epctl/ (SQLite by default): never in git.
    ".gitignore": ".epctl/\n",
    "endpoints/users.toml": """# Experience users: sign in, sign out, and pages for signed-in users.

[[endpoint]]
id = "login"
method = "GET"
route = "/login"
reply = { type = "page", page = "login" }

[[endpoint]]
id = "sign-in"
method = "POST"
route = "/login"

[[endpoint]]
id = "sign-out"
method = "POST"
route = "/logout"
access = "authenticated"

[[endpoint]]
id = "welcome"
method = "GET"
route = "/welcome"
access = "authenticated"

[[endpoint]]
id = "admin"
method = "GET"
route = "/admin"
access = "groups"
groups = ["admins"]
reply = { type = "page", page = "admin" }
unauthorized_reply = { type = "page", page = "login", status = 403 }
""",
    "pages/users.toml": """[[page]]
name = "login"
layout = "main"
template = "login.html"

[[page]]
name = "welcome"
layout = "main"
template = "welcome.html"

[[page]]
name = "admin"
layout = "main"
body = \"\"\"
{% block content %}
<h1>Admin</h1>
<p>Only members of admins see this page.</p>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>
{% endblock %}
\"\"\"
""",
    "pages/login.html": """{% block content %}
<h1>Sign in</h1>
{% if data.failed %}<p role="alert">Wrong email or password, or the account is locked.</p>{% endif %}
<form method="post" action="/login">
  <label>Email
    <input type="email" name="email" autocomplete="username" required value="{{ data.email }}"></label>
  <label>Password <input type="password" name="password" autocomplete="current-password" required></label>
  <input type="hidden" name="next" value="{{ data.next or request.query.next or '/welcome' }}">
  <button type="submit">Sign in</button>
</form>
{% endblock %}
""",
    "pages/welcome.html": """{% block content %}
<h1>Hello, {{ data.name }}!</h1>
{% if "admins" in data.groups %}<p><a href="/admin">Admin</a></p>{% endif %}
<form method="post" action="/logout"><button type="submit">Sign out</button></form>
{% endblock %}
""",
    "workflows/session.toml": """[[workflow]]
name = "sign-in"
handler = "session.py:sign_in_with_form"
endpoints = ["sign-in"]

[[workflow]]
name = "sign-out"
handler = "session.py:sign_out_now"
endpoints = ["sign-out"]

[[workflow]]
name = "welcome"
handler = "session.py:greet"
endpoints = ["welcome"]
""",
    "workflows/session.py": '''"""Sign-in with a form, sign-out, and a page that greets the signed-in user."""

from epctl.runtime.replies import page, sign_in, sign_out


def sign_in_with_form(request):
    form = request.body if isinstance(request.body, dict) else {}
    email, target = form.get("email", ""), local_path(form.get("next"))
    user = request.users.authenticate(email, form.get("password", ""))
    if user is None:
        # One answer for an unknown email, a wrong password and a locked account.
        return page("login", {"failed": True, "email": email, "next": target}, status=401)
    return sign_in(user, to=target)


def sign_out_now(request):
    return sign_out(to="/login")


def greet(request):
    user = request.users.get(request.user["sub"])
    if user is None:  # a service token from `epctl token`: no account behind it
        return page("welcome", {"name": request.user["sub"], "groups": []})
    return page("welcome", {"name": user.name or user.email, "groups": list(user.groups)})


def local_path(target):
    """Only a path of this site: `next` comes from the visitor, so never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\\\" in target:
        return "/welcome"
    return target
''',
}
