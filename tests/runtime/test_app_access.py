"""README "Serving a request", step 3: API keys, user tokens on four transports, groups, and
unauthorized replies."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from werkzeug.test import Client, TestResponse

from epctl.runtime.tokens import mint_token
from epctl.schemas.loader import load_project
from tests.conftest import SECRET, MakeClient, MintToken, WriteProject


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


CONFIG = f"""
[project]
name = "t"

[settings]
globals = {{ marker = "MARKER" }}

[auth]
issuer = "t-issuer"

[[api_key]]
name = "everything"
sha256 = "{sha("key-all")}"

[[api_key]]
name = "scoped"
sha256 = "{sha("key-scoped")}"
endpoints = ["keyed"]
"""

ENDPOINTS = """
[[endpoint]]
id = "keyed"
method = "GET"
route = "/keyed"
api_key = true

[[endpoint]]
id = "other-keyed"
method = "GET"
route = "/other-keyed"
api_key = true

[[endpoint]]
id = "me"
method = "GET"
route = "/me"
access = "authenticated"

[[endpoint]]
id = "admin"
method = "GET"
route = "/admin"
access = "groups"
groups = ["admins", "staff"]

[[endpoint]]
id = "public"
method = "GET"
route = "/public"

[[endpoint]]
id = "custom-page"
method = "GET"
route = "/custom-page"
access = "groups"
groups = ["admins"]
unauthorized_reply = { type = "page", page = "denied" }

[[endpoint]]
id = "custom-redirect"
method = "GET"
route = "/custom-redirect"
access = "authenticated"
unauthorized_reply = { type = "redirect", to = "/login?next={{ request.path | urlencode }}" }
"""

WORKFLOWS = """
[[workflow]]
name = "whoami"
handler = "who.py:whoami"
endpoints = ["keyed", "other-keyed", "me", "admin", "public", "custom-page", "custom-redirect"]
"""

HANDLERS = """
from pathlib import Path


def whoami(request):
    with Path(request.globals["marker"]).open("a") as marker:
        marker.write(request.endpoint.id + "\\n")
    return {"user": request.user}
"""

PAGES = """
[[page]]
name = "denied"
body = "denied {{ experience.user.sub if experience.user else 'nobody' }}"
"""


@pytest.fixture
def project(write_project: WriteProject, tmp_path: Path, secret: str) -> Path:
    marker = tmp_path / "ran.txt"
    return write_project(
        {
            "epctl.toml": CONFIG.replace("MARKER", marker.as_posix()),
            "endpoints/e.toml": ENDPOINTS,
            "workflows/w.toml": WORKFLOWS,
            "workflows/who.py": HANDLERS,
            "pages/p.toml": PAGES,
        }
    )


@pytest.fixture
def client(project: Path, make_client: MakeClient) -> Client:
    return make_client(project)


def token_for(project: Path, sub: str = "ann", groups: tuple[str, ...] = (), ttl: int = 3600) -> str:
    return mint_token(load_project(project), sub, groups, ttl)


def ran(tmp_path: Path) -> list[str]:
    marker = tmp_path / "ran.txt"
    return marker.read_text().split() if marker.exists() else []


def test_api_key_in_authorization_header(client: Client) -> None:
    assert client.get("/keyed", headers={"Authorization": "key-all"}).status_code == 200


def test_api_key_in_query(client: Client) -> None:
    assert client.get("/keyed?apikey=key-scoped").status_code == 200


def test_missing_api_key_answers_401(client: Client) -> None:
    response = client.get("/keyed")
    assert response.status_code == 401
    assert response.json == {"error": "Unauthorized"}


def test_wrong_api_key_answers_401(client: Client) -> None:
    response = client.get("/keyed", headers={"Authorization": "key-wrong"})
    assert (response.status_code, response.json) == (401, {"error": "Unauthorized"})


def test_api_key_out_of_its_scope_answers_401(client: Client) -> None:
    assert client.get("/other-keyed?apikey=key-scoped").status_code == 401
    assert client.get("/other-keyed?apikey=key-all").status_code == 200


def test_bearer_authorization_is_not_an_api_key(client: Client) -> None:
    assert client.get("/keyed", headers={"Authorization": "Bearer key-all"}).status_code == 401


def test_no_workflow_runs_for_an_unauthorized_request(client: Client, tmp_path: Path) -> None:
    client.get("/keyed")
    client.get("/me")
    assert ran(tmp_path) == []


def send_in_session_header(client: Client, token: str) -> TestResponse:
    return client.get("/me", headers={"Session": token})


def send_as_bearer(client: Client, token: str) -> TestResponse:
    return client.get("/me", headers={"Authorization": f"Bearer {token}"})


def send_in_cookie(client: Client, token: str) -> TestResponse:
    client.set_cookie("authorization", token)
    return client.get("/me")


def send_in_query(client: Client, token: str) -> TestResponse:
    return client.get("/me", query_string={"authorization": token})


@pytest.mark.parametrize("send", [send_in_session_header, send_as_bearer, send_in_cookie, send_in_query])
def test_user_token_transports(
    client: Client, project: Path, send: Callable[[Client, str], TestResponse]
) -> None:
    response = send(client, token_for(project, "ann", ("staff",)))
    assert response.status_code == 200
    assert response.json["user"]["sub"] == "ann"
    assert response.json["user"]["groups"] == ["staff"]


def test_every_token_transport_present_is_tried_in_turn(client: Client, project: Path) -> None:
    """A bad Session token does not hide a good Bearer token (issue 10: any valid credential)."""
    headers = {"Session": "not-a-token", "Authorization": f"Bearer {token_for(project)}"}
    assert client.get("/me", headers=headers).status_code == 200


def test_missing_token_answers_401(client: Client) -> None:
    response = client.get("/me")
    assert (response.status_code, response.json) == (401, {"error": "Unauthorized"})


def test_expired_token_answers_401(client: Client, project: Path) -> None:
    assert client.get("/me", headers={"Session": token_for(project, ttl=-10)}).status_code == 401


def claims(**extra: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "ann", "groups": ["admins"], "iat": now, "exp": now + 600, "iss": "t-issuer", **extra}


def test_token_from_another_issuer_answers_401(client: Client, secret: str) -> None:
    token = jwt.encode(claims(iss="someone-else"), secret, algorithm="HS256")
    assert client.get("/me", headers={"Session": token}).status_code == 401


def test_token_without_issuer_answers_401_when_the_project_sets_one(client: Client, secret: str) -> None:
    payload = claims()
    del payload["iss"]
    assert (
        client.get("/me", headers={"Session": jwt.encode(payload, secret, algorithm="HS256")}).status_code
        == 401
    )


def test_token_without_exp_answers_401(client: Client, secret: str) -> None:
    payload = claims()
    del payload["exp"]
    assert (
        client.get("/me", headers={"Session": jwt.encode(payload, secret, algorithm="HS256")}).status_code
        == 401
    )


def test_unsigned_alg_none_token_is_refused(client: Client) -> None:
    token = jwt.encode(claims(), None, algorithm="none")
    assert client.get("/me", headers={"Session": token}).status_code == 401


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_token_signed_with_hs512_is_refused(client: Client, secret: str) -> None:
    token = jwt.encode(claims(), secret, algorithm="HS512")
    assert client.get("/me", headers={"Session": token}).status_code == 401


def test_token_signed_with_another_secret_is_refused(client: Client) -> None:
    token = jwt.encode(claims(), "another-secret-that-is-long-enough-too", algorithm="HS256")
    assert client.get("/me", headers={"Session": token}).status_code == 401


def test_valid_token_reaches_an_authenticated_endpoint(client: Client, project: Path, tmp_path: Path) -> None:
    assert client.get("/me", headers={"Session": token_for(project)}).status_code == 200
    assert ran(tmp_path) == ["me"]


def test_user_outside_the_groups_answers_403(client: Client, project: Path) -> None:
    response = client.get("/admin", headers={"Session": token_for(project, groups=("guests",))})
    assert (response.status_code, response.json) == (403, {"error": "Forbidden"})


def test_user_in_any_of_the_groups_is_allowed(client: Client, project: Path) -> None:
    assert (
        client.get("/admin", headers={"Session": token_for(project, groups=("guests", "staff"))}).status_code
        == 200
    )


def test_public_endpoint_sees_the_user_of_a_valid_token(client: Client, project: Path) -> None:
    assert client.get("/public", headers={"Session": token_for(project)}).json["user"]["sub"] == "ann"


@pytest.mark.parametrize(
    "query",
    [
        "authorization={token}",
        "page=2&authorization={token}",
        "%61uthorization={token}",
        "%61%75thorization={token}",
    ],
)
def test_public_endpoint_sees_the_user_of_a_token_in_the_query_however_its_name_is_spelled(
    client: Client, project: Path, query: str
) -> None:
    path = "/public?" + query.format(token=token_for(project))
    assert client.get(path).json["user"]["sub"] == "ann"


@pytest.mark.parametrize("query", ["page=2", "Authorization=x", "authorization=", "%70age=2"])
def test_public_endpoint_with_a_query_and_no_token_in_it_is_anonymous(client: Client, query: str) -> None:
    assert client.get("/public?" + query).json == {"user": None}


def test_public_endpoint_ignores_a_bad_token(client: Client) -> None:
    response = client.get("/public", headers={"Session": "garbage"})
    assert (response.status_code, response.json) == (200, {"user": None})


def test_unauthorized_page_defaults_to_401_for_a_missing_token(client: Client) -> None:
    response = client.get("/custom-page")
    assert (response.status_code, response.text) == (401, "denied nobody")


def test_unauthorized_page_defaults_to_403_for_a_user_outside_the_groups(
    client: Client, project: Path
) -> None:
    response = client.get("/custom-page", headers={"Session": token_for(project, "bob")})
    assert (response.status_code, response.text) == (403, "denied bob")


def test_unauthorized_redirect_defaults_to_302_with_to_rendered(client: Client) -> None:
    response = client.get("/custom-redirect")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/custom-redirect"


def test_version_unauthorized_reply_applies_when_the_endpoint_has_none(sample_client: Client) -> None:
    response = sample_client.get("/devices")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/devices"


def test_endpoint_unauthorized_reply_beats_the_version_one(sample_client: Client) -> None:
    response = sample_client.get("/admin")
    assert response.status_code == 403
    assert "<h1>Sign in</h1>" in response.text


def test_sample_api_key_and_token_flows(sample_client: Client, sample_token: Callable[..., str]) -> None:
    assert (
        sample_client.get("/api/devices", headers={"Authorization": "sample-mobile-key"}).status_code == 200
    )
    # The API overrides the site's login redirect with a JSON page, 401 by default.
    wrong = sample_client.get("/api/devices", headers={"Authorization": "wrong"})
    assert (wrong.status_code, wrong.content_type) == (401, "application/json")
    assert wrong.json["error"] == "Unauthorized"
    me = sample_client.get("/api/me", headers={"Authorization": f"Bearer {sample_token('ann', ['admins'])}"})
    assert me.json == {"sub": "ann", "groups": ["admins"]}
    sample_client.set_cookie("authorization", sample_token("ann", ["admins"]))
    admin = sample_client.get("/admin")
    assert admin.status_code == 200
    assert "Signed in as ann (admins)." in admin.text


def test_a_request_is_authenticated_when_any_credential_it_carries_is_valid(
    sample_client: Client, sample_token: MintToken
) -> None:
    fresh = sample_token("ann", ["admins"])
    stale = jwt.encode({"sub": "ann", "exp": 1, "iss": "smart-farm"}, SECRET, algorithm="HS256")
    sample_client.set_cookie("authorization", stale)
    assert sample_client.get("/api/me").status_code == 401
    assert sample_client.get(f"/api/me?authorization={fresh}").json["sub"] == "ann"
    assert sample_client.get("/api/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    assert sample_client.get("/api/me", headers={"Session": "garbage"}).status_code == 401


def test_a_token_naming_nobody_is_refused(sample_client: Client) -> None:
    for sub in ("", "   "):
        nobody = jwt.encode({"sub": sub, "exp": 2**40, "iss": "smart-farm"}, SECRET, algorithm="HS256")
        response = sample_client.get("/api/me", headers={"Authorization": f"Bearer {nobody}"})
        assert response.status_code == 401, sub
