"""Sign-in served, in-process over the sample project: the session cookie, answers that reveal
nothing, lockout, revocation within the cache delay, service tokens, `token_for` and CSRF."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner
from werkzeug.test import Client, TestResponse

from epctl.cli.main import app as cli_app
from epctl.runtime.app import EpctlApp, build_app, create_app
from epctl.runtime.sessions import GENERATION_CACHE_SECONDS, Sessions
from epctl.runtime.tokens import mint_token
from epctl.runtime.users import User, UserStore
from epctl.schemas.loader import load_project
from tests.conftest import SECRET
from tests.signin.servers import PASSWORD

SITE = "http://localhost"


class Clock:
    """The monotonic clock of the generation cache, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def app(sample: Path, secret: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[EpctlApp]:
    monkeypatch.delenv("EPCTL_DATABASE_URL", raising=False)
    built = create_app(sample)
    yield built
    assert built.sessions is not None
    built.sessions.close()


def sessions_of(app: EpctlApp) -> Sessions:
    assert app.sessions is not None
    return app.sessions


@pytest.fixture
def store(app: EpctlApp) -> UserStore:
    return sessions_of(app).store


@pytest.fixture
def ada(store: UserStore) -> User:
    return store.create("ada@example.com", PASSWORD, name="Ada", groups=["admins"])


def post_login(client: Client, email: str, password: str, **headers: str) -> TestResponse:
    return client.post(
        "/login",
        data={"email": email, "password": password, "next": "/admin"},
        headers={"Origin": SITE, **headers},
    )


def session_cookie(response: TestResponse) -> SimpleCookie:
    [header] = [
        value for value in response.headers.getlist("Set-Cookie") if value.startswith("authorization=")
    ]
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(header)
    return cookie


def test_sign_in_sets_an_httponly_lax_cookie_for_the_session_lifetime(app: EpctlApp, ada: User) -> None:
    client = Client(app)
    response = post_login(client, "ada@example.com", PASSWORD)
    assert (response.status_code, response.headers["Location"]) == (303, "/admin")
    morsel = session_cookie(response)["authorization"]
    assert morsel["httponly"] and morsel["samesite"] == "Lax" and not morsel["secure"]
    assert (morsel["path"], morsel["max-age"]) == ("/", str(12 * 3600))
    claims = jwt.decode(morsel.value, SECRET, algorithms=["HS256"], issuer="smart-farm")
    assert (claims["sub"], claims["groups"], claims["gen"]) == (ada.id, ["admins"], ada.generation)
    assert claims["exp"] - claims["iat"] == 12 * 3600
    assert client.get("/admin").status_code == 200

    response = Client(app).post(
        "/login",
        base_url="https://localhost",
        data={"email": "ada@example.com", "password": PASSWORD},
        headers={"Origin": "https://localhost"},
    )
    assert response.status_code == 303 and session_cookie(response)["authorization"]["secure"]


def test_the_cookie_path_is_the_environment_root(sample: Path, secret: str, ada: User) -> None:
    mounted = build_app(load_project(sample), root="/farm")
    try:
        response = Client(mounted).post(
            "/farm/login", data={"email": "ada@example.com", "password": PASSWORD}, headers={"Origin": SITE}
        )
        assert session_cookie(response)["authorization"]["path"] == "/farm"
    finally:
        sessions_of(mounted).close()


def test_sign_out_expires_the_cookie(app: EpctlApp, ada: User) -> None:
    client = Client(app)
    post_login(client, "ada@example.com", PASSWORD)
    response = client.post("/logout", headers={"Origin": SITE})
    assert (response.status_code, response.headers["Location"]) == (303, "/login")
    morsel = session_cookie(response)["authorization"]
    assert (morsel.value, morsel["max-age"], morsel["path"]) == ("", "0", "/")
    assert client.get("/welcome").headers["Location"] == "/login?next=/welcome"


def test_wrong_password_and_unknown_email_answer_alike_for_one_verification_each(
    app: EpctlApp, store: UserStore, ada: User
) -> None:
    client = Client(app)
    counted = store.passwords.verifications
    wrong = post_login(client, "ada@example.com", "not the password")
    assert store.passwords.verifications == counted + 1
    unknown = post_login(client, "nobody@example.com", "not the password")
    assert store.passwords.verifications == counted + 2
    assert wrong.status_code == unknown.status_code == 401
    assert "Set-Cookie" not in wrong.headers and "Set-Cookie" not in unknown.headers
    # The pages differ only by the email typed back into the form (and the footer's minute, when the
    # two renders fall on either side of one).
    assert without_time(wrong.text.replace("ada@example.com", "E")) == without_time(
        unknown.text.replace("nobody@example.com", "E")
    )


def without_time(page: str) -> str:
    return re.sub(r"rendered \d{4}-\d\d-\d\d \d\d:\d\d UTC", "rendered (time) UTC", page)


def test_ten_wrong_passwords_lock_the_account(app: EpctlApp, store: UserStore, ada: User) -> None:
    client = Client(app)
    for _ in range(10):
        assert post_login(client, "ada@example.com", "not the password").status_code == 401
    locked = store.get(ada.id)
    assert locked is not None and locked.is_locked()
    assert post_login(client, "ada@example.com", PASSWORD).status_code == 401
    store.unlock(ada)
    assert post_login(client, "ada@example.com", PASSWORD).status_code == 303


@pytest.mark.parametrize("change", ["password", "disable", "group", "remove"])
def test_a_changed_account_loses_its_sessions_within_the_cache_delay(
    app: EpctlApp, store: UserStore, ada: User, change: str
) -> None:
    clock = Clock()
    sessions_of(app).clock = clock
    client = Client(app)
    post_login(client, "ada@example.com", PASSWORD)
    assert client.get("/admin").status_code == 200
    if change == "password":
        store.set_password(ada, "a brand new password")
    elif change == "disable":
        store.set_enabled(ada, False)
    elif change == "group":
        store.add_groups(ada, ["installers"])
    else:
        store.remove(ada)
    clock.now += GENERATION_CACHE_SECONDS
    assert client.get("/admin").status_code == 403  # the login page: no user any more
    assert client.get("/welcome").headers["Location"] == "/login?next=/welcome"


def test_the_cache_delay_is_at_most_ten_seconds() -> None:
    assert 0 < GENERATION_CACHE_SECONDS <= 10


def test_epctl_tokens_work_for_names_that_are_no_account_and_never_for_accounts(
    app: EpctlApp, sample: Path, ada: User
) -> None:
    client = Client(app)
    project = load_project(sample)
    robot = mint_token(project, "robot", ["admins"], 3600)
    assert client.get("/api/me", headers={"Session": robot}).json == {"sub": "robot", "groups": ["admins"]}
    assert "Hello, robot!" in client.get("/welcome", headers={"Session": robot}).text
    # A token naming an account must carry its session generation: one from `epctl token` never can.
    forged = mint_token(project, ada.id, ["admins"], 3600)
    assert client.get("/api/me", headers={"Session": forged}).status_code == 401


def test_token_for_hands_a_session_token_to_an_api(app: EpctlApp, sample: Path, ada: User) -> None:
    workflows = sample / "workflows"
    (workflows / "tokens.py").write_text(
        "from epctl.runtime.replies import token_for\n\n"
        "def issue(request):\n"
        "    user = request.users.authenticate(request.body['email'], request.body['password'])\n"
        "    return {'token': token_for(user)} if user else ({'error': 'no'}, 401)\n"
    )
    (workflows / "tokens.toml").write_text(
        '[[workflow]]\nname = "issue"\nhandler = "tokens.py:issue"\nendpoints = ["api-token"]\n'
    )
    endpoints = sample / "endpoints" / "api.toml"
    endpoints.write_text(
        endpoints.read_text() + '\n[[endpoint]]\nid = "api-token"\nmethod = "POST"\nroute = "/api/token"\n'
    )
    client = Client(create_app(sample))
    body = json.dumps({"email": "ada@example.com", "password": PASSWORD})
    token = client.post("/api/token", data=body, content_type="application/json").json["token"]
    assert client.get("/api/me", headers={"Session": token}).json == {"sub": ada.id, "groups": ["admins"]}
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_cross_site_write_with_the_cookie_is_refused(app: EpctlApp, ada: User) -> None:
    client = Client(app)
    post_login(client, "ada@example.com", PASSWORD)
    refused = client.post("/logout", headers={"Origin": "https://evil.example"})
    assert (refused.status_code, refused.json) == (
        403,
        {"error": "Forbidden: a signed-in change must come from this site's own pages"},
    )
    assert client.post("/logout", headers={"Referer": "https://evil.example/page"}).status_code == 403
    assert client.post("/logout", headers={"Origin": "null"}).status_code == 403
    assert client.post("/logout").status_code == 403  # neither Origin nor Referer
    # An origin the project allows, or a page of the site itself (by Referer), may.
    assert client.post("/logout", headers={"Origin": "https://farm.example.com"}).status_code == 303
    post_login(client, "ada@example.com", PASSWORD)
    assert client.post("/logout", headers={"Referer": f"{SITE}/welcome"}).status_code == 303


def test_header_tokens_and_reads_are_not_checked_for_their_origin(app: EpctlApp, ada: User) -> None:
    client = Client(app)
    response = post_login(client, "ada@example.com", PASSWORD)
    token = session_cookie(response)["authorization"].value
    assert client.get("/admin", headers={"Origin": "https://evil.example"}).status_code == 200
    header_only = Client(app, use_cookies=False)
    created = header_only.post(
        "/api/devices",
        headers={"Authorization": f"Bearer {token}", "Origin": "https://evil.example"},
        json={"id": "x", "name": "X"},
    )
    assert created.status_code != 403


def test_init_writes_sign_in_and_keeps_the_users_database_out_of_git(
    runner: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "site"
    target.mkdir()
    (target / ".gitignore").write_text("*.pyc")
    assert runner.invoke(cli_app, ["init", str(target)]).exit_code == 0
    assert (target / ".gitignore").read_text() == "*.pyc\n.epctl/\n"
    assert load_project(target).users is not None
    fresh = tmp_path / "fresh"
    assert runner.invoke(cli_app, ["init", str(fresh)]).exit_code == 0
    assert (fresh / ".gitignore").read_text() == ".epctl/\n"
